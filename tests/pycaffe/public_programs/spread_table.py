"""Prints, for every compared number of the pycaffe programs, real Caffe's spread against
itself (fixtures/oracle.json) and this package's difference from real Caffe's default run,
as the Markdown table of README.md.

    python tests/pycaffe/public_programs/spread_table.py [NAME ...]
"""
import json
import os
import pathlib
import sys
import tempfile

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
SHARED = pathlib.Path(os.environ.get("RLQ_SHARED", HERE.parents[3] / "shared"))
sys.path.insert(0, str(HERE))
import programs  # noqa: E402


def main(names):
    oracle = json.loads((HERE / "fixtures" / "oracle.json").read_text())
    print("| program | value | largest magnitude | real Caffe's spread | this package's "
          "difference | ratio |")
    print("|---|---|---|---|---|---|")
    for name in names or sorted(programs.PROGRAMS):
        expected = np.load(HERE / "fixtures" / f"{name}.npz")
        with tempfile.TemporaryDirectory() as root:
            got = programs.run(name, root, lambda relative: SHARED / relative)
        spreads = oracle["programs"][name]["spread"]["largest"]
        for key in expected.files:
            ref = expected[key]
            if ref.dtype.kind == "U" or not ref.size:
                continue
            diff = float(np.abs(np.asarray(got[key], np.float64) - ref).max())
            spread = spreads[key]
            if spread == 0 and diff == 0:
                continue
            ratio = f"{diff / spread:.2f}" if spread else "-"
            print(f"| {name} | {key} | {np.abs(ref).max():.3g} | {spread:.3g} | {diff:.3g} | "
                  f"{ratio} |")


if __name__ == "__main__":
    main(sys.argv[1:])
