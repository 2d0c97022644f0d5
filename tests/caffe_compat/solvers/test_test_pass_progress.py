"""A long test pass says how long it will take and how to shorten it; with progress, a bar."""
import io

from caffe_compat import get_solver
from caffe_compat.solvers import testing
from caffe_compat.diagnostics.glog import SolverLog
from tests.small_training import make_small


def _solver(tmp_path, monkeypatch, progress):
    monkeypatch.chdir(make_small(tmp_path, max_iter=2, test_interval=1))
    stream = io.StringIO()
    return get_solver("solver.prototxt", log=SolverLog(stream), progress=progress), stream


def test_long_test_pass_is_announced_once(tmp_path, monkeypatch):
    # issue: the iteration-0 test pass of the original solvers ran 56 s with no output
    monkeypatch.setattr(testing, "NOTE_SECONDS", 0.0)
    solver, stream = _solver(tmp_path, monkeypatch, progress=False)
    solver.solve()
    notes = [l for l in stream.getvalue().splitlines() if "--test-iter" in l]
    assert len(notes) == 1
    assert "Test net #0: 2 forward passes of batch 5, about" in notes[0]
    assert "Iteration" not in notes[0]          # Caffe's log parsers key on that word


def test_short_test_pass_is_not_announced(tmp_path, monkeypatch):
    solver, stream = _solver(tmp_path, monkeypatch, progress=False)
    solver.solve()
    assert "--test-iter" not in stream.getvalue()


def test_test_pass_shows_a_progress_bar(tmp_path, monkeypatch):
    solver, stream = _solver(tmp_path, monkeypatch, progress=True)
    solver.solve()
    assert "test #0" in stream.getvalue() and "batch" in stream.getvalue()
