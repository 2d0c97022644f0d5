"""Positions of the fields of a protobuf text file, for errors that name ``file:line:column``.

The protobuf text parser checks the syntax and fills the message but does not say where each
field was written. This scanner reads the same text once more (after it parsed) and returns
the tree of fields with their 1-based line and column; :func:`named_net_source` turns the tree
of a net into the :class:`~caffe_compat.diagnostics.locations.NetSource` of its ``layer`` /
``layers`` entries.
The scan is best effort: on text it does not follow it returns None, and errors then name the
layer without a line."""
from __future__ import annotations

import re

from ..diagnostics.locations import LayerSource, NetSource

_TOKEN = re.compile(r"""
    (?P<nl>\n)
  | (?P<space>[ \t\r\f\v]+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?)
  | (?P<punct>[{}<>:\[\],;])
  | (?P<word>[^\s{}<>:\[\],;\#"']+)
""", re.X)


class Field:
    """One field occurrence: ``name``, ``line``, ``column``, ``value`` (scalar text) or
    ``children`` (a message's fields)."""

    __slots__ = ("name", "line", "column", "value", "children")

    def __init__(self, name, line, column, value=None, children=None):
        self.name, self.line, self.column = name, line, column
        self.value, self.children = value, children

    def __repr__(self):
        return f"Field({self.name!r}, {self.line}:{self.column})"


def _tokens(text):
    out, line, start = [], 1, 0
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "nl":
            line += 1
            start = m.end()
        elif kind not in ("space", "comment"):
            out.append((kind, m.group(), line, m.start() - start + 1))
    return out


def scan(text):
    """The top-level fields of text-format ``text`` (a list of :class:`Field`), or None."""
    toks = _tokens(text)
    try:
        fields, i = _block(toks, 0)
    except (IndexError, ValueError):
        return None
    return fields if i == len(toks) else None


def _block(toks, i):
    fields = []
    n = len(toks)
    while i < n:
        kind, text, line, column = toks[i]
        if text in ("}", ">"):
            return fields, i
        if text == "[":                       # an extension or Any type URL: [a.b.c]
            j = i + 1
            while toks[j][1] != "]":
                j += 1
            name = "".join(t[1] for t in toks[i:j + 1])
            i = j + 1
        elif kind == "word":
            name = text
            i += 1
        else:
            raise ValueError(f"unexpected {text!r} at {line}:{column}")
        if i < n and toks[i][1] == ":":
            i += 1
        i = _value(toks, i, name, line, column, fields)
        if i < n and toks[i][1] in (",", ";"):
            i += 1
    return fields, i


def _value(toks, i, name, line, column, fields):
    text = toks[i][1]
    if text in ("{", "<"):
        children, i = _block(toks, i + 1)
        fields.append(Field(name, line, column, children=children))
        return i + 1
    if text == "[":                           # a list: [1, 2] or [{...}, {...}]
        i += 1
        while toks[i][1] != "]":
            if toks[i][1] == ",":
                i += 1
                continue
            _, _, eline, ecol = toks[i]
            i = _value(toks, i, name, eline, ecol, fields)
        return i + 1
    kind = toks[i][0]
    i += 1
    if kind == "string":                      # adjacent strings are one value
        while i < len(toks) and toks[i][0] == "string":
            text += toks[i][1]
            i += 1
    fields.append(Field(name, line, column, value=text))
    return i


def flatten(fields, prefix="", out=None):
    """``{dotted path: [(line, column), ...]}`` of every field under ``fields``."""
    out = {} if out is None else out
    for f in fields:
        path = prefix + f.name
        out.setdefault(path, []).append((f.line, f.column))
        if f.children is not None:
            flatten(f.children, path + ".", out)
    return out


def _layer_source(field, filename, name, legacy=False):
    spots = flatten(field.children or [])
    if legacy:   # a V0 definition nested in a V1 entry: its fields count as the layer's own
        for path, where in list(spots.items()):
            if path.startswith("layer."):
                spots.setdefault(path[len("layer."):], where)
    return LayerSource(filename, field.line, field.column, name, spots)


def layer_names(net_param):
    """The names :func:`named_net_source` records for ``net_param``'s layers: (``layer``'s, the
    legacy ``layers``' (a V0 definition's own name where one is nested))."""
    return ([lp.name for lp in net_param.layer],
            [lp.layer.name if lp.HasField("layer") else lp.name for lp in net_param.layers])


def named_net_source(text, filename, names):
    """The :class:`NetSource` of a message whose layer names were ``names`` (as
    :func:`layer_names` gives them) when it was parsed from ``text`` (None if the scan does not
    match the message)."""
    fields = scan(text)
    return None if fields is None else _source_of_fields(fields, filename, *names)


def nested_net_source(text, filename, field_name, index, net_param):
    """The NetSource of the ``index``-th ``field_name`` message (``net_param``,
    ``train_net_param``, ``test_net_param``) of a solver text, or None."""
    fields = scan(text)
    if fields is None:
        return None
    blocks = [f for f in fields if f.name == field_name and f.children is not None]
    if index >= len(blocks):
        return None
    return _source_of_fields(blocks[index].children, filename, *layer_names(net_param))


def _source_of_fields(fields, filename, names, legacy_names):
    blocks = [f for f in fields if f.name == "layer" and f.children is not None]
    legacy = [f for f in fields if f.name == "layers" and f.children is not None]
    if len(blocks) != len(names) or len(legacy) != len(legacy_names):
        return None
    layers = [_layer_source(f, filename, name) for f, name in zip(blocks, names)]
    old = [_layer_source(f, filename, name, True) for f, name in zip(legacy, legacy_names)]
    top = {}
    for f in fields:
        if f.name not in ("layer", "layers"):
            top.setdefault(f.name, []).append((f.line, f.column))
    return NetSource(filename, layers, old, top)


def path_position(text, path):
    """(line, column) of the deepest field of ``path`` (``"layer[3].clip_param.max"``, as
    protobuf's FindInitializationErrors writes it) found in ``text``, or None."""
    fields = scan(text)
    where = None
    for part in path.split("."):
        if fields is None:
            break
        m = re.fullmatch(r"([\w\[\].]+?)(?:\[(\d+)\])?", part)
        if not m:
            break
        name, index = m.group(1), int(m.group(2) or 0)
        found = [f for f in fields if f.name == name]
        if index >= len(found):
            break
        where = (found[index].line, found[index].column)
        fields = found[index].children
    return where
