"""Whether a command draws progress bars (tqdm): not with ``--quiet``, and not where nobody
watches them. A bar written to a log file or a pipe is one long line of carriage returns, so a
command's bars are drawn only where stderr (tqdm's stream) is a terminal."""
import sys


def bars_wanted(quiet=False):
    """True where a command's progress bars are worth drawing."""
    return not quiet and sys.stderr.isatty()
