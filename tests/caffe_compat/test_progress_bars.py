"""A command's progress bars are drawn only where stderr is a terminal and --quiet is not
given (caffe_compat.diagnostics.progress): a log file or a pipe would get one long line of
carriage returns."""
import io
import sys

from caffe_compat.diagnostics.progress import bars_wanted


class _Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self._tty = tty

    def isatty(self):
        return self._tty


def test_bars_only_on_a_terminal_and_without_quiet(monkeypatch):
    monkeypatch.setattr(sys, "stderr", _Stream(True))
    assert bars_wanted() and bars_wanted(False) and not bars_wanted(True)
    monkeypatch.setattr(sys, "stderr", _Stream(False))
    assert not bars_wanted() and not bars_wanted(True)


def test_a_command_writes_no_bar_into_a_log(tmp_path):
    """``python -m reproduction.sample`` with stderr a pipe (as in a log): no bar, before this
    a line of carriage returns per update."""
    import subprocess
    run = subprocess.run([sys.executable, "-m", "reproduction.sample", "--out",
                          str(tmp_path / "s"), "--train", "1", "--dev", "0", "--frames", "6",
                          "--width", "96", "--height", "96"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "\r" not in run.stderr and "frame/s" not in run.stderr
