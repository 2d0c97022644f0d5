"""Every glog line names a real place (``solver.cpp:239]``), never line 0: Caffe's source
line that prints the same message, or for a message of this project's own the Python file and
line that logs it (caffe_compat.diagnostics.glog)."""
import io
import pathlib
import re

from caffe_compat.cli import _log, _pipes
from caffe_compat.diagnostics.glog import SolverLog

ROOT = pathlib.Path(__file__).resolve().parents[3]
PLACE = re.compile(r"^[IWEF]\d{4} [\d:.]+ +\d+ (\S+)\] ")


def _place(line):
    return PLACE.match(line).group(1)


def test_no_source_gives_a_line_zero():
    """No ``"x.cpp:0"`` place is left in the package or in pycaffe."""
    found = [f"{path.relative_to(ROOT)}:{n}" for folder in ("caffe_compat", "caffe")
             for path in sorted((ROOT / folder).rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(r"""\.(cpp|hpp|cu):0\b""", line)]
    assert not found, found


def test_the_pipe_hint_is_caffes_signal_handler_line(monkeypatch):
    """``caffe-compat train ... | tee``: the line saying what Ctrl-C writes is placed where
    Caffe's train() makes its SignalHandler (tools/caffe.cpp:218)."""
    class Solver:
        class param:
            snapshot_prefix = "examples/quickstart/quickstart"

    monkeypatch.setattr(_pipes, "piped", lambda: (2,))
    monkeypatch.setattr(_pipes, "snapshot_paths", lambda solver: (None, None, ".caffemodel"))
    log = SolverLog(stream=io.StringIO(), keep=True)
    _pipes.say_hint("stop", Solver, log)
    assert len(log.lines) == 1 and _place(log.lines[0]) == "caffe.cpp:218", log.lines


def test_a_line_without_a_caffe_place_names_the_python_line(capsys):
    """A message logged without a place names the file and line that logged it."""
    log = SolverLog(stream=io.StringIO(), keep=True)
    first = _line_here() + 1
    log.info("one")
    _log.log("two")
    assert _place(log.lines[0]) == f"test_glog_places.py:{first}"
    assert _place(capsys.readouterr().err) == f"test_glog_places.py:{first + 1}"


def _line_here():
    import sys
    return sys._getframe(1).f_lineno
