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

_ITERATION = re.compile(r"Iteration (\d+)")
_TRAIN_OUTPUT = re.compile(r"Train net output #(\d+): (\S+) = ([\.\deE+-]+)")
_TEST_OUTPUT = re.compile(r"Test net output #(\d+): (\S+) = ([\.\deE+-]+)")
_LEARNING_RATE = re.compile(r"lr = ([-+]?[0-9]*\.?[0-9]+([eE]?[-+]?[0-9]+)?)")


def extract_datetime_from_line(line, year):
    """The time of a glog line ``Immdd hh:mm:ss.uuuuuu ...`` in ``year`` (glog 0.6 and later
    write ``Iyyyymmdd``: that year is used); ValueError if the line has no such prefix."""
    parts = line.strip().split()
    if len(parts) < 2 or len(parts[0]) < 5:
        raise ValueError(f"not a glog line: {line!r}")
    date = parts[0][1:]
    if len(date) == 8:
        year, date = int(date[:4]), date[4:]
    month, day = int(date[:2]), int(date[2:])
    stamp = parts[1]
    dot = stamp.rfind(".")
    hour, minute, second = (int(x) for x in stamp[:dot].split(":"))
    return datetime.datetime(year, month, day, hour, minute, second, int(stamp[dot + 1:]))


def get_log_created_year(path):
    return datetime.datetime.fromtimestamp(os.path.getctime(path)).year


def get_start_time(lines, year):
    """The time of the first ``Solving`` line (consumes ``lines`` up to it), or None."""
    for line in lines:
        if "Solving" in line:
            return extract_datetime_from_line(line, year)
    return None


def _net_output(regex, row, rows, line, iteration, seconds, rate):
    match = regex.search(line)
    if match:
        if not row or row["NumIters"] != iteration:
            if row:
                rows.append(row)
            row = OrderedDict([("NumIters", iteration), ("Seconds", seconds),
                               ("LearningRate", rate)])
        row[match.group(2)] = float(match.group(3))
    if row and rows and len(row) == len(rows[0]):
        rows.append(row)
        row = None
    return rows, row


def parse_log(path_to_log):
    """(train rows, test rows) of a training log: lists of OrderedDicts (see module doc)."""
    path_to_log = os.fspath(path_to_log)
    year = get_log_created_year(path_to_log)
    iteration, rate = -1, float("nan")
    train, test, train_row, test_row = [], [], None, None
    with open(path_to_log, errors="replace") as f:
        start = get_start_time(f, year)
        if start is None:
            raise CaffeCompatError(f"{path_to_log}: no 'Solving' line: not a Caffe training "
                                   "log (parse-log needs the log from the start of training)")
        last = start
        for line in f:
            found = _ITERATION.search(line)
            if found:
                iteration = float(found.group(1))
            if iteration == -1:
                continue
            try:
                when = extract_datetime_from_line(line, year)
            except ValueError:
                continue
            if when.month < last.month:
                year += 1
                when = extract_datetime_from_line(line, year)
            last = when
            seconds = (when - start).total_seconds()
            found = _LEARNING_RATE.search(line)
            if found:
                rate = float(found.group(1))
            train, train_row = _net_output(_TRAIN_OUTPUT, train_row, train, line, iteration,
                                           seconds, rate)
            test, test_row = _net_output(_TEST_OUTPUT, test_row, test, line, iteration,
                                         seconds, rate)
    for rows in (train, test):
        if len(rows) > 1:
            rows[0]["LearningRate"] = rows[1]["LearningRate"]
    return train, test


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
