"""AVEC 2016 (RECOLA) file formats: frame-time CSVs, ARFF gold standards, bbox/gsd .mat files.

Readers follow what ``prepare_dataset.m`` does with these files:

* ``recordings_video_frame_time/<seq>.csv``: one header line, then ``frame;time`` rows, read with
  ``dlmread(f, ';', 1, 0)`` (:func:`read_frame_times`);
* ``ratings_gold_standard/<dim>/<seq>.arff``: Weka ARFF with attributes ``Instance_name string``,
  ``frameTime numeric``, ``GoldStandard numeric`` (:func:`read_arff`,
  :func:`read_gold_standard_arff`);
* ``data/bbox/<seq>.mat`` (``bbox`` N x 4, ``time`` N x 1) and ``data/gsd/<seq>.mat`` (``gsd``
  N x 1, ``time`` N x 1), loaded with ``load`` (:func:`read_bbox_mat`, :func:`read_gsd_mat`).

Numbers are written with the shortest text that parses back to the same double, so a value read
from a CSV, an ARFF and a .mat written by this module compares equal with ``==``, as the script
requires when it matches frame times.
"""
import math
import os
import re

import numpy as np

from caffe_compat.io.atomic import write_text_atomic
from matlab_ports.errors import PortError, PortFileError

__all__ = [
    "FRAME_TIME_HEADER", "format_number",
    "read_frame_times", "write_frame_times",
    "read_arff", "write_arff", "read_gold_standard_arff", "write_gold_standard_arff",
    "read_bbox_mat", "write_bbox_mat", "read_gsd_mat", "write_gsd_mat", "read_bbox_csv",
]

FRAME_TIME_HEADER = "frameIndex;frameTime"

# A number as dlmread and Weka accept it: decimal with optional exponent, Inf or NaN.
# ASCII digits only (re.ASCII): dlmread and Weka do not read Arabic-Indic or full-width digits.
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)\Z",
                     re.IGNORECASE | re.ASCII)
# dlmread pads short rows with zeros; a few very long rows among many short ones would expand a
# small file into a huge matrix. Padding beyond this many values (and beyond 4x the values
# given) is refused.
MAX_PADDED_VALUES = 1 << 22


def _fail(path, lineno, message):
    """PortFileError for a malformed file: names ``path`` and, when given, the 1-based line."""
    where = f"{os.fspath(path)}:{lineno}" if lineno is not None else os.fspath(path)
    return PortFileError(f"{where}: {message}")


def _bad_arg(path, message):
    """PortError for a writer called with bad values; names the file being written."""
    return PortError(f"{os.fspath(path)}: {message}")


def _parse_number(text):
    """``text`` (stripped) as a float, or None when it is not a number."""
    if not _NUMBER.match(text):
        return None
    return float(text)


def format_number(x):
    """Shortest text that parses back to exactly ``x`` (``NaN``/``Inf`` as MATLAB writes them)."""
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    text = repr(x)
    return text[:-2] if text.endswith(".0") else text


def _read_lines(path):
    """Lines of a UTF-8 text file (BOM allowed), without line terminators."""
    try:
        with open(path, "r", encoding="utf-8-sig", newline=None) as f:
            return f.read().split("\n")
    except UnicodeDecodeError as e:
        raise _fail(path, None, f"not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise _fail(path, None, f"cannot read ({e.strerror or e})") from None


# --------------------------------------------------------------------------------------------
# Frame-time CSV (dlmread)
# --------------------------------------------------------------------------------------------

def read_frame_times(path, delimiter=";", header_lines=1):
    """Read a delimited numeric matrix like MATLAB ``dlmread(path, delimiter, header_lines, 0)``.

    Empty fields and the missing tail of short rows read as 0, as in dlmread; blank lines are
    skipped. Returns a float64 array (rows x columns), (0, 0) when there is no data.
    """
    lines = _read_lines(path)
    rows = []
    for lineno, line in enumerate(lines[header_lines:], start=header_lines + 1):
        if not line.strip():
            continue
        row = []
        for col, field in enumerate(line.split(delimiter), start=1):
            field = field.strip()
            if not field:
                row.append(0.0)
                continue
            value = _parse_number(field)
            if value is None:
                raise _fail(path, lineno, f"column {col}: {field!r} is not a number")
            row.append(value)
        rows.append(row)
    if not rows:
        return np.zeros((0, 0))
    width = max(len(r) for r in rows)
    given = sum(len(r) for r in rows)
    if len(rows) * width > max(4 * given, MAX_PADDED_VALUES):
        raise _fail(path, None, f"rows of very different lengths (up to {width} fields): "
                                f"padding them with zeros as dlmread does would make a "
                                f"{len(rows)} x {width} matrix from {given} values")
    out = np.zeros((len(rows), width))
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def write_frame_times(path, times, header=FRAME_TIME_HEADER, frames=None):
    """Write the AVEC frame-time CSV: ``header``, then ``frame;time`` rows.

    ``frames`` defaults to 0, 1, ..., N-1. Times are written so that reading them back gives the
    same doubles.
    """
    times = np.asarray(times, dtype=np.float64).ravel()
    if frames is None:
        frames = np.arange(times.size)
    frames = np.asarray(frames).ravel()
    if frames.size != times.size:
        raise _bad_arg(path, f"{frames.size} frame numbers for {times.size} times")
    if "\n" in header:
        raise _bad_arg(path, "the header must be a single line")
    lines = [header]
    lines.extend(f"{format_number(f)};{format_number(t)}" for f, t in zip(frames, times))
    write_text_atomic(path, "\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------
# ARFF
# --------------------------------------------------------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "%": "%"}
_SIMPLE_TYPES = ("numeric", "real", "integer", "string")
_NUMERIC_TYPES = ("numeric", "real", "integer")


def _scan_quoted(text, pos, path, lineno):
    """Read the quoted token starting at ``text[pos]``; return (value, position after it)."""
    quote = text[pos]
    out = []
    i = pos + 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(_ESCAPES.get(text[i + 1], "\\" + text[i + 1]))
            i += 2
            continue
        if c == quote:
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise _fail(path, lineno, f"unterminated {quote} quote")


def _split_values(text, path, lineno):
    """Split a comma-separated list into (value, quoted) pairs; ``%`` outside quotes ends it."""
    if not any(c in text for c in "'\"{}%"):                  # fast path: plain values
        values = [(v.strip(), False) for v in text.split(",")]
        for k, (v, _) in enumerate(values, start=1):
            if not v:
                raise _fail(path, lineno, f"empty value (value {k})")
        return values
    values = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] in "'\"":
            value, i = _scan_quoted(text, i, path, lineno)
            quoted = True
            while i < n and text[i] in " \t":
                i += 1
            if i < n and text[i] not in ",%":
                raise _fail(path, lineno, f"unexpected {text[i]!r} after a quoted value "
                                          f"(column {i + 1})")
        else:
            start = i
            while i < n and text[i] not in ",%":
                if text[i] in "'\"{}":
                    what = "'{' (sparse rows and instance weights are not supported)" \
                        if text[i] == "{" else f"unexpected {text[i]!r}"
                    raise _fail(path, lineno, f"{what} (column {i + 1})")
                i += 1
            value = text[start:i].strip()
            quoted = False
            if not value:
                raise _fail(path, lineno, f"empty value (value {len(values) + 1})")
        values.append((value, quoted))
        if i >= n or text[i] == "%":
            return values
        i += 1  # the comma


def _strip_comment(text):
    """``text`` up to a ``%`` that is outside quotes."""
    quote = None
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "%":
            return text[:i]
        i += 1
    return text


def _read_name(text, path, lineno, what):
    """Read a (possibly quoted) name at the start of ``text``; return (name, rest)."""
    text = text.lstrip()
    if not text:
        raise _fail(path, lineno, f"missing {what}")
    if text[0] in "'\"":
        name, end = _scan_quoted(text, 0, path, lineno)
        return name, text[end:]
    m = re.match(r"[^\s{]+", text)
    if m is None:
        raise _fail(path, lineno, f"missing {what} (found {text[:20]!r})")
    return m.group(0), text[m.end():]


def _parse_type(text, path, lineno):
    """An attribute type: 'numeric' | 'real' | 'integer' | 'string' | 'date ...' | tuple."""
    text = text.strip()
    if not text:
        raise _fail(path, lineno, "missing attribute type")
    if text.startswith("{"):
        if not text.endswith("}"):
            raise _fail(path, lineno, "nominal type without a closing '}'")
        inner = text[1:-1]
        if not inner.strip():
            raise _fail(path, lineno, "empty nominal type {}")
        return tuple(v for v, _ in _split_values(inner, path, lineno))
    word, rest = re.match(r"(\S+)\s*(.*)\Z", text, re.S).groups()
    word = word.lower()
    if word in _SIMPLE_TYPES and not rest.strip():
        return word
    if word == "date":
        rest = rest.strip()
        if not rest:
            return "date"
        fmt, tail = _read_name(rest, path, lineno, "date format")
        if tail.strip():
            raise _fail(path, lineno, f"unexpected text after the date format: {tail.strip()!r}")
        return 'date "' + fmt.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if word == "relational":
        raise _fail(path, lineno, "relational attributes are not supported")
    raise _fail(path, lineno, f"unknown attribute type {text!r}")


def _is_numeric(kind):
    return isinstance(kind, str) and kind in _NUMERIC_TYPES


def read_arff(path):
    """Parse a Weka ARFF file (dense rows).

    Returns ``dict(relation=str, attributes=[(name, type)], data=[row tuples],
    columns={name: values})``. Types are ``'numeric'``, ``'real'``, ``'integer'``, ``'string'``,
    ``'date'``/``'date "<format>"'`` or a tuple of nominal values. Numeric values are floats
    (missing ``?`` -> NaN) and numeric columns float64 arrays; other values are str (missing ->
    None) and their columns lists. Keywords are case-insensitive; ``%`` starts a comment;
    names and values may be quoted with ``'`` or ``"`` (backslash escapes). Sparse rows and
    relational attributes raise PortFileError, as does any malformed line (with its line
    number).
    """
    lines = _read_lines(path)
    relation = None
    attributes = []
    names = set()
    rows = []
    in_data = False
    for lineno, raw in enumerate(lines, start=1):
        if in_data:
            body = raw.strip()
            if not body or body.startswith("%"):
                continue
            if body.startswith("{"):
                raise _fail(path, lineno, "sparse rows are not supported")
            values = _split_values(body, path, lineno)
            if len(values) != len(attributes):
                raise _fail(path, lineno, f"{len(values)} values for {len(attributes)} "
                                          "attributes")
            row = []
            for (value, quoted), (name, kind) in zip(values, attributes):
                if value == "?" and not quoted:
                    row.append(math.nan if _is_numeric(kind) else None)
                elif _is_numeric(kind):
                    number = _parse_number(value.strip())
                    if number is None:
                        raise _fail(path, lineno, f"attribute {name!r}: {value!r} is not a "
                                                  "number")
                    row.append(number)
                else:
                    if isinstance(kind, tuple) and value not in kind:
                        raise _fail(path, lineno, f"attribute {name!r}: {value!r} is not one "
                                                  f"of {list(kind)}")
                    row.append(value)
            rows.append(tuple(row))
            continue
        body = _strip_comment(raw).strip()
        if not body:
            continue
        keyword, rest = re.match(r"(\S+)(.*)\Z", body, re.S).groups()
        keyword = keyword.lower()
        if keyword == "@relation":
            if relation is not None:
                raise _fail(path, lineno, "a second @relation")
            relation, tail = _read_name(rest, path, lineno, "relation name")
            if tail.strip():
                raise _fail(path, lineno, f"unexpected text after the relation name: "
                                          f"{tail.strip()!r}")
        elif keyword == "@attribute":
            if relation is None:
                raise _fail(path, lineno, "@attribute before @relation")
            name, tail = _read_name(rest, path, lineno, "attribute name")
            if name in names:
                raise _fail(path, lineno, f"attribute {name!r} declared twice")
            attributes.append((name, _parse_type(tail, path, lineno)))
            names.add(name)
        elif keyword == "@data":
            if rest.strip():
                raise _fail(path, lineno, f"unexpected text after @data: {rest.strip()!r}")
            if not attributes:
                raise _fail(path, lineno, "@data before any @attribute")
            in_data = True
        else:
            raise _fail(path, lineno, f"expected @relation, @attribute or @data, got "
                                      f"{body[:40]!r}")
    if not in_data:
        raise _fail(path, None, "no @data section")
    columns = {}
    for j, (name, kind) in enumerate(attributes):
        values = [r[j] for r in rows]
        columns[name] = np.array(values, dtype=np.float64) if _is_numeric(kind) else values
    return dict(relation=relation, attributes=attributes, data=rows, columns=columns)


def _quote(text):
    """``text`` as an ARFF token, single-quoted when it needs to be."""
    if text and re.fullmatch(r"[^\s,'\"%{}\\?]+", text) and text != "?":
        return text
    escaped = (text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
               .replace("\t", "\\t").replace("\r", "\\r"))
    return "'" + escaped + "'"


def _format_type(kind, path):
    if isinstance(kind, tuple):
        if not kind:
            raise _bad_arg(path, "empty nominal type")
        return "{" + ",".join(_quote(str(v)) for v in kind) + "}"
    low = str(kind).strip()
    if low.lower() in _SIMPLE_TYPES or low.lower().startswith("date"):
        return low if low.lower().startswith("date") else low.lower()
    raise _bad_arg(path, f"unknown attribute type {kind!r}")


def write_arff(path, relation, attributes, rows):
    """Write a dense ARFF file in the AVEC layout.

    ``attributes``: [(name, type)] as :func:`read_arff` returns them; ``rows``: sequences of
    values (None, or NaN for numeric attributes, writes ``?``). Numbers keep every digit that
    matters, so reading the file back returns the same doubles.
    """
    kinds = []
    lines = [f"@relation {_quote(str(relation))}", ""]
    for name, kind in attributes:
        lines.append(f"@attribute {_quote(str(name))} {_format_type(kind, path)}")
        kinds.append(kind)
    lines += ["", "", "@data", ""]
    for i, row in enumerate(rows):
        row = list(row)
        if len(row) != len(kinds):
            raise _bad_arg(path, f"row {i}: {len(row)} values for {len(kinds)} attributes")
        out = []
        for value, kind, (name, _) in zip(row, kinds, attributes):
            if value is None:
                out.append("?")
            elif _is_numeric(kind):
                try:
                    out.append("?" if math.isnan(float(value)) else format_number(value))
                except (TypeError, ValueError):
                    raise _bad_arg(path, f"row {i}, attribute {name!r}: {value!r} is not "
                                         "a number") from None
            else:
                value = str(value)
                if isinstance(kind, tuple) and value not in kind:
                    raise _bad_arg(path, f"row {i}, attribute {name!r}: {value!r} is not "
                                         f"one of {list(kind)}")
                out.append(_quote(value))
        lines.append(",".join(out))
    write_text_atomic(path, "\n".join(lines) + "\n")


def read_gold_standard_arff(path):
    """(times, values) float64 arrays from an AVEC gold-standard ARFF.

    The time column is ``frameTime``; the value column is ``GoldStandard`` or, failing that, the
    last other numeric attribute (names matched case-insensitively). Missing values are NaN.
    """
    arff = read_arff(path)
    numeric = [name for name, kind in arff["attributes"] if _is_numeric(kind)]
    by_lower = {name.lower(): name for name in numeric}
    if "frametime" not in by_lower:
        raise _fail(path, None, "no numeric frameTime attribute")
    time_name = by_lower["frametime"]
    value_name = by_lower.get("goldstandard")
    if value_name is None:
        others = [n for n in numeric if n != time_name]
        if not others:
            raise _fail(path, None, "no numeric gold-standard attribute besides frameTime")
        value_name = others[-1]
    return arff["columns"][time_name], arff["columns"][value_name]


def write_gold_standard_arff(path, instance_name, times, values, relation="GOLDSTANDARD"):
    """Write an AVEC gold-standard ARFF (Instance_name, frameTime, GoldStandard)."""
    times = np.asarray(times, dtype=np.float64).ravel()
    values = np.asarray(values, dtype=np.float64).ravel()
    if times.size != values.size:
        raise _bad_arg(path, f"{times.size} times for {values.size} values")
    attributes = [("Instance_name", "string"), ("frameTime", "numeric"),
                  ("GoldStandard", "numeric")]
    write_arff(path, relation, attributes,
               ((instance_name, t, v) for t, v in zip(times.tolist(), values.tolist())))


# --------------------------------------------------------------------------------------------
# bbox / gsd .mat files
# --------------------------------------------------------------------------------------------

def _matfile():
    from matlab_ports import matfile
    return matfile


def _load_vars(path, names):
    try:
        data = _matfile().loadmat(path)
    except PortError:
        raise
    except (OSError, ValueError) as e:
        raise _fail(path, None, f"cannot read the .mat file: {e}") from e
    missing = [n for n in names if n not in data]
    if missing:
        raise _fail(path, None, f"missing variable(s) {', '.join(missing)}")
    return [data[n] for n in names]


def _as_vector(path, name, value):
    a = np.asarray(value)
    if a.dtype.kind not in "biuf":
        raise _fail(path, None, f"variable {name!r} is not numeric ({a.dtype})")
    if a.size == 0:
        return np.zeros(0)
    if a.ndim > 2 or (a.ndim == 2 and min(a.shape) != 1):
        raise _fail(path, None, f"variable {name!r} is {'x'.join(map(str, a.shape))}, "
                                "expected a vector")
    return a.astype(np.float64).ravel()


def read_bbox_mat(path):
    """(bbox N x 4 [left-top x, left-top y, width, height], time N) from a bbox .mat file."""
    bbox, time = _load_vars(path, ("bbox", "time"))
    time = _as_vector(path, "time", time)
    bbox = np.asarray(bbox)
    if bbox.dtype.kind not in "biuf":
        raise _fail(path, None, f"variable 'bbox' is not numeric ({bbox.dtype})")
    if bbox.size == 0 and time.size == 0:
        return np.zeros((0, 4)), time
    if bbox.ndim != 2 or bbox.shape[1] != 4:
        raise _fail(path, None, f"variable 'bbox' is {'x'.join(map(str, bbox.shape))}, "
                                "expected N x 4")
    if bbox.shape[0] != time.size:
        raise _fail(path, None, f"bbox has {bbox.shape[0]} rows but time has {time.size} "
                                "values")
    return bbox.astype(np.float64), time


def read_gsd_mat(path):
    """(gsd N, time N) float64 arrays from a gold-standard .mat file."""
    gsd, time = _load_vars(path, ("gsd", "time"))
    gsd = _as_vector(path, "gsd", gsd)
    time = _as_vector(path, "time", time)
    if gsd.size != time.size:
        raise _fail(path, None, f"gsd has {gsd.size} values but time has {time.size}")
    return gsd, time


def _save(path, variables):
    _matfile().savemat(path, variables, version="7")          # written atomically


def write_bbox_mat(path, bbox, time):
    """Write ``bbox`` (N x 4 double) and ``time`` (N x 1 double) as MATLAB stores them."""
    bbox = np.asarray(bbox, dtype=np.float64)
    time = np.asarray(time, dtype=np.float64).reshape(-1, 1)
    if bbox.ndim != 2 or bbox.shape[1] != 4 or bbox.shape[0] != time.shape[0]:
        raise _bad_arg(path, f"bbox must be {time.shape[0]} x 4, got "
                             f"{'x'.join(map(str, bbox.shape))}")
    _save(path, {"bbox": bbox, "time": time})


def write_gsd_mat(path, gsd, time):
    """Write ``gsd`` and ``time`` as N x 1 double column vectors."""
    gsd = np.asarray(gsd, dtype=np.float64).reshape(-1, 1)
    time = np.asarray(time, dtype=np.float64).reshape(-1, 1)
    if gsd.shape != time.shape:
        raise _bad_arg(path, f"{gsd.shape[0]} gsd values for {time.shape[0]} times")
    _save(path, {"gsd": gsd, "time": time})


# --------------------------------------------------------------------------------------------
# Boxes from CSV
# --------------------------------------------------------------------------------------------

def read_bbox_csv(path):
    """(bbox N x 4, time N) from a CSV of face boxes.

    Format: one row per frame, ``time;x;y;w;h`` (x, y: left-top corner in pixels, 1-based as in
    MATLAB; w, h: width and height; all zeros when no face was found). The delimiter is ``;``
    or ``,`` (the first data row decides), an optional first header line (non-numeric fields)
    is skipped, blank lines and lines starting with ``#`` are ignored. Every row needs exactly
    five numbers.
    """
    lines = _read_lines(path)
    delimiter = None
    times, boxes = [], []
    first = True
    for lineno, line in enumerate(lines, start=1):
        body = line.strip()
        if not body or body.startswith("#"):
            continue
        if delimiter is None:
            delimiter = ";" if ";" in body else ","
        fields = [f.strip() for f in body.split(delimiter)]
        values = [_parse_number(f) for f in fields]
        if first and any(v is None for v in values) and all(
                v is None or f == "" for f, v in zip(fields, values)):
            first = False
            delimiter = None  # the header does not decide the delimiter
            continue
        first = False
        if len(fields) != 5:
            raise _fail(path, lineno, f"{len(fields)} fields, expected 5 (time, x, y, w, h)")
        for col, (f, v) in enumerate(zip(fields, values), start=1):
            if v is None:
                raise _fail(path, lineno, f"column {col}: {f!r} is not a number")
        times.append(values[0])
        boxes.append(values[1:])
    bbox = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    return bbox, np.array(times, dtype=np.float64)
