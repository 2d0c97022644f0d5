"""benchmarks/bench_programs.py's parts that need no Caffe: the programs it finds (each a
file with ``setup`` and ``main`` or ``command``, found, not listed) and the phase timing of
benchmarks/program_phases.py on a small program."""
import importlib.util
import json
import subprocess
import sys

from tests.conftest import REPO


def _bench():
    spec = importlib.util.spec_from_file_location("bench_programs",
                                                  REPO / "benchmarks" / "bench_programs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_programs_are_found_with_their_entry_points():
    programs = _bench().discover()
    assert {"brewing_logreg", "lenet_tutorial", "caffe_time_lenet"} <= set(programs)
    for name, program in programs.items():
        assert callable(program.setup), name
        assert callable(getattr(program, "main", None)) or \
            callable(getattr(program, "command", None)), name
        assert "licence (apache-2.0" in (program.__doc__ or "").lower(), \
            f"{name}: the header names the project's licence"
        # the programs are the project's own: nothing run or loaded from the tests' folders
        text = open(program.path, encoding="utf-8").read()
        assert '"tests"' not in text and "public_programs" not in text, name
    tool = programs["caffe_time_lenet"]
    assert tool.command("caffe")[0] == "caffe" and tool.command("ours")[0] == "caffe-compat"


def test_phase_timing_of_a_small_program(tmp_path):
    program = tmp_path / "prog.py"
    program.write_text("import time\nimport json\nend = time.perf_counter() + 0.05\n"
                       "while time.perf_counter() < end:\n    pass\n")
    out = tmp_path / "phases.json"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "program_phases.py"), str(out),
                    str(program)], check=True, cwd=tmp_path)
    phases = json.loads(out.read_text())
    assert phases["other"] >= 0.04            # the busy loop: the program's own Python
    assert "imports" in phases and phases["_seen"] >= phases["other"]


def test_lenet_programs_stand_in_digits(tmp_path):
    """benchmarks/program_data.py's digit LMDB: Datums of 1 x 28 x 28 bytes with labels 0-9
    under Caffe's MNIST key layout, each class a pattern of its own (the LeNet programs learn
    them)."""
    import lmdb
    import numpy as np

    from caffe_compat.proto import caffe_pb2
    spec = importlib.util.spec_from_file_location("program_data",
                                                  REPO / "benchmarks" / "program_data.py")
    data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(data)
    data.write_digit_lmdb(tmp_path / "db", 40, seed=3)
    with lmdb.open(str(tmp_path / "db"), readonly=True) as db, db.begin() as txn:
        keys = [k for k, _ in txn.cursor()]
        datum = caffe_pb2.Datum.FromString(txn.get(b"00000000"))
    assert keys == [f"{i:08d}".encode() for i in range(40)]
    assert (datum.channels, datum.height, datum.width, len(datum.data)) == (1, 28, 28, 784)
    images, labels = data.digit_images(400, seed=3)
    assert 0 <= int(datum.label) <= 9 and int(datum.label) == int(labels[0])
    # the ten class patterns differ: the mean images of two classes differ somewhere by far
    # more than the noise does (strokes of 230 over noise below 60, shifted by up to 2 pixels;
    # noise alone moves a mean of ~40 images by a few units)
    means = np.stack([images[labels == c].mean(0) for c in range(10)])
    gaps = [np.abs(means[a] - means[b]).max() for a in range(10) for b in range(a + 1, 10)]
    assert min(gaps) > 50
