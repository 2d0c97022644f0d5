"""Print, for every public net of ``NETS``, the export figures of :mod:`.checks` (largest
``max |a - b| / max |b|`` over the compared blobs) as a Markdown table; the list of nets checked
in docs/export.md comes from it. OpenCV's ``readNetFromONNX`` column uses the installed OpenCV
(4.x or 5.x, named in the header).

    python -m tests.caffe_compat.public_nets.report [--only NAME ...]
"""
import argparse
import pathlib
import tempfile

from tqdm import tqdm

from . import NETS
from .checks import check


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", metavar="NAME", help=f"some of: {', '.join(NETS)}")
    args = p.parse_args(argv)
    try:
        import cv2
        opencv = f"OpenCV {cv2.__version__} readNetFromONNX vs ours"
    except ImportError:
        cv2, opencv = None, None
    rows = []
    for name in tqdm(args.only or list(NETS), desc="nets"):
        with tempfile.TemporaryDirectory() as tmp:
            rows.append((name, check(name, pathlib.Path(tmp) / "net.onnx",
                                     opencv_onnx=cv2 is not None)))
    head = ["net", "onnxruntime vs ours (batch 2)", "onnxruntime vs OpenCV 4 Caffe"]
    head += [opencv] if opencv else []
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, r in rows:
        cells = [name, f"{r['onnxruntime_vs_ours']:.1e}", f"{r['onnxruntime_vs_opencv']:.1e}"]
        if opencv:
            cells.append(f"{r['opencv_onnx_vs_ours']:.1e}")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
