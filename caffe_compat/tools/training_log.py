"""Caffe training logs as tables and charts (Caffe's tools/extra/parse_log.py and
plot_training_log.py.example), for logs of real Caffe and of ``caffe-compat train`` alike.

:func:`parse_log` gives the same rows as parse_log.py: one per iteration that printed train
(or test) net outputs, with ``NumIters``, ``Seconds`` (since the ``Solving`` line; the year
is the log file's creation year, advanced when the month goes back), ``LearningRate`` (the
last ``lr = `` seen; the first row takes the second row's) and one column per output; a row
is complete once it has as many columns as the first. :func:`save_csv_files` writes
``<log name>.train`` / ``.test`` as parse_log.py does (csv's excel dialect, floats by repr).
:func:`plot_chart` draws the eight chart types of plot_training_log (``Test accuracy``,
``Test loss``, ``Train learning rate``, ``Train loss`` against ``Iters`` or ``Seconds``).
"""
from __future__ import annotations

import csv
import datetime
import io
import os
import re
from collections import OrderedDict

from ..errors import CaffeCompatError
from ..io.atomic import write_text_atomic

# the glog lines a training log is read from (a net output's value: a plain or exponent
# number, as Caffe prints a float)
_PATTERNS = {
    "iteration": re.compile(r"Iteration (?P<iteration>\d+)"),
    "train": re.compile(r"Train net output #\d+: (?P<name>\S+) = (?P<value>[-+.\deE]+)"),
    "test": re.compile(r"Test net output #\d+: (?P<name>\S+) = (?P<value>[-+.\deE]+)"),
    "rate": re.compile(r"lr = (?P<rate>[-+]?\d*\.?\d+(?:[eE]?[-+]?\d+)?)"),
}


def _glog_time(line, year):
    """The time of a glog line ``Immdd hh:mm:ss.uuuuuu ...`` in ``year`` (glog 0.6 and later
    write ``Iyyyymmdd``: that year is used); ValueError if the line has no such prefix."""
    fields = line.split()
    if len(fields) < 2 or len(fields[0]) < 5:
        raise ValueError(f"not a glog line: {line!r}")
    date, clock = fields[0][1:], fields[1]
    if len(date) == 8:
        year, date = int(date[:4]), date[4:]
    whole, _, micro = clock.rpartition(".")
    hour, minute, second = map(int, whole.split(":"))
    return datetime.datetime(year, int(date[:2]), int(date[2:]), hour, minute, second,
                             int(micro))


class _Table:
    """The rows of one net's outputs: a row per iteration that printed them, complete once it
    has as many columns as the first row (the next output then starts a new row)."""

    def __init__(self):
        self.rows, self.open = [], None

    def add(self, iteration, seconds, rate, name, value):
        row = self.open
        if row is None or row["NumIters"] != iteration:
            if row is not None:
                self.rows.append(row)
            row = OrderedDict(NumIters=iteration, Seconds=seconds, LearningRate=rate)
        row[name] = value
        self.open = row

    def settle(self):
        """Close the open row when it has the first row's columns."""
        if self.open is not None and self.rows and len(self.open) == len(self.rows[0]):
            self.rows.append(self.open)
            self.open = None

    def finished(self):
        # the first row is printed before any learning rate: it takes the second row's
        if len(self.rows) > 1:
            self.rows[0]["LearningRate"] = self.rows[1]["LearningRate"]
        return self.rows


def _timed_lines(f, year):
    """(line, seconds since the ``Solving`` line) for each line after it (None for a line
    without glog's time), the year advanced where the month goes back; CaffeCompatError
    without a ``Solving`` line."""
    start = None
    for line in f:
        if "Solving" in line:
            start = _glog_time(line, year)
            break
    if start is None:
        raise CaffeCompatError(f"{f.name}: no 'Solving' line: not a Caffe training log "
                               "(parse-log needs the log from the start of training)")
    last = start
    for line in f:
        try:
            when = _glog_time(line, year)
        except ValueError:
            yield line, None
            continue
        if when.month < last.month:
            year += 1
            when = _glog_time(line, year)
        last = when
        yield line, (when - start).total_seconds()


def parse_log(path_to_log):
    """(train rows, test rows) of a training log: lists of OrderedDicts (see module doc)."""
    path_to_log = os.fspath(path_to_log)
    tables = {"train": _Table(), "test": _Table()}
    iteration, rate = -1, float("nan")
    with open(path_to_log, errors="replace") as f:
        started = False
        year = datetime.datetime.fromtimestamp(os.path.getctime(path_to_log)).year
        for line, seconds in _timed_lines(f, year):
            found = _PATTERNS["iteration"].search(line)
            if found:
                iteration, started = float(found["iteration"]), True
            if not started or seconds is None:
                continue
            found = _PATTERNS["rate"].search(line)
            if found:
                rate = float(found["rate"])
            for kind, table in tables.items():
                output = _PATTERNS[kind].search(line)
                if output:
                    table.add(iteration, seconds, rate, output["name"], float(output["value"]))
                table.settle()
    return tables["train"].finished(), tables["test"].finished()


def format_csv(rows, delimiter=","):
    """The CSV text parse_log.py writes for ``rows`` (header from the first row)."""
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(rows[0].keys()), dialect=csv.excel,
                            delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def save_csv_files(logfile_path, output_dir, train_rows, test_rows, delimiter=",",
                   verbose=False):
    """Write ``<output_dir>/<log name>.train`` and ``.test`` (atomic; a table without rows
    is not written). Returns the paths written."""
    written = []
    base = os.path.join(os.fspath(output_dir), os.path.basename(os.fspath(logfile_path)))
    for suffix, rows in ((".train", train_rows), (".test", test_rows)):
        if not rows:
            if verbose:
                print(f"Not writing {base + suffix}; no lines to write")
            continue
        write_text_atomic(base + suffix, format_csv(rows, delimiter))
        written.append(base + suffix)
        if verbose:
            print(f"Wrote {base + suffix}")
    return written


# ------------------------------------------------------------------ charts
_X_FIELDS = {"Iters": "NumIters", "Seconds": "Seconds"}
_Y_FIELDS = {"Test accuracy": ("test", "accuracy"), "Test loss": ("test", "loss"),
             "Train learning rate": ("train", "LearningRate"), "Train loss": ("train", "loss")}


def supported_chart_types():
    """The chart descriptions of plot_training_log, in its numbering (0-7)."""
    return [f"{y}  vs. {x}" for y in sorted(_Y_FIELDS) for x in sorted(_X_FIELDS)]


def _column(rows, name, log):
    if not rows:
        raise CaffeCompatError(f"{log}: the log has no rows for this chart")
    if name in rows[0]:
        return name
    matches = [k for k in rows[0] if name in k]
    if not matches:
        raise CaffeCompatError(f"{log}: no '{name}' column (columns: {list(rows[0])})")
    return matches[0]


def plot_chart(chart_type, path_to_png, logs):
    """Draw chart ``chart_type`` (0-7) for each log onto one figure saved to ``path_to_png``
    (atomic); each log is a line labelled with its file name."""
    types = supported_chart_types()
    if not 0 <= int(chart_type) < len(types):
        raise CaffeCompatError(f"chart type {chart_type} is not one of 0-{len(types) - 1}: "
                               + "; ".join(f"{i}: {t}" for i, t in enumerate(types)))
    description = types[int(chart_type)]
    y_name, x_name = description.split("  vs. ")
    table, y_column = _Y_FIELDS[y_name]
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ..io.atomic import atomic_path
    fig, ax = plt.subplots(figsize=(8, 5))
    for log in logs:
        train, test = parse_log(log)
        rows = train if table == "train" else test
        x = [r[_X_FIELDS[x_name]] for r in rows]
        col = _column(rows, y_column, log)
        ax.plot(x, [r[col] for r in rows], marker="o", markersize=3, linewidth=0.75,
                label=os.path.splitext(os.path.basename(os.fspath(log)))[0])
    upper = "loss" in y_name or "learning rate" in y_name
    ax.legend(loc="upper right" if upper else "lower right", ncol=1)
    ax.set_title(description)
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    with atomic_path(path_to_png, suffix=os.path.splitext(os.fspath(path_to_png))[1]) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
    return description
