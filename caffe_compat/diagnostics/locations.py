"""Where each layer of a net was written: file, line and column, kept from the text parser to
the built net, so that every error of building a net names ``file:line:column``.

The text reader (:mod:`caffe_compat.io.prototxt`) records, for every layer block, the position
of the block and of each field inside it (``type``, every ``bottom`` and ``top``,
``convolution_param.kernel_size``, ...). The upgrade (V0/V1 ``layers``, ``input_dim``), the
phase filter and the split insertion (:mod:`caffe_compat.net.graph`) carry these positions over to
the layers they produce; a Split layer is placed at the ``top`` it splits.

The positions travel beside the protobuf messages, never inside them: a side table maps a
NetParameter object to its :class:`NetSource`. The table holds the messages it describes (so an
entry cannot outlive its message and be taken by another object at the same address), and
forgets the oldest entries beyond a budget of :data:`MAX_LAYERS` layers. A message built in
code has no entry, and its errors name layers only.
"""
from __future__ import annotations

import collections
import re

# Layers of all the messages the side table describes at once (the oldest entries go first).
MAX_LAYERS = 50_000


class LayerSource:
    """The position of one layer block (``file``, ``line``, ``column``, 1-based) and of its
    fields: ``fields[path]`` lists ``(line, column)`` per occurrence, ``path`` dotted for
    nested messages (``"convolution_param.kernel_size"``)."""

    __slots__ = ("file", "line", "column", "name", "fields")

    def __init__(self, file, line, column, name="", fields=None):
        self.file = file
        self.line = line
        self.column = column
        self.name = name
        self.fields = fields or {}

    def renamed(self, name, at=None):
        """A copy for layer ``name``, placed at ``at`` = (line, column) when given."""
        line, column = at or (self.line, self.column)
        return LayerSource(self.file, line, column, name, self.fields)

    def where(self, field=None, index=0):
        """``"file:line:column"`` of ``field`` (its ``index``-th occurrence), else of the
        layer block."""
        spots = self.fields.get(field, ()) if field else ()
        line, column = spots[min(index, len(spots) - 1)] if spots else (self.line, self.column)
        return f"{self.file}:{line}:{column}"

    def where_for(self, message, field=None, index=0):
        """The position an error ``message`` is about: ``field`` (its ``index``-th occurrence)
        when given, else the field of this layer whose name appears as a word in the message
        (the longest such name), else the layer block."""
        if field:
            return self.where(field, index)
        text = _LAYER_PREFIX.sub("", str(message), count=1)
        best = None
        for path in self.fields:
            leaf = path.rsplit(".", 1)[-1]
            if leaf in _GENERIC_FIELDS:
                continue
            if re.search(rf"(?<![\w.]){re.escape(leaf)}(?!\w)", text) or \
                    re.search(rf"(?<![\w.]){re.escape(path)}(?!\w)", text):
                key = (len(leaf), len(path))
                if best is None or key > best[0]:
                    best = (key, path)
        return self.where(best[1] if best else None)

    def __repr__(self):
        return f"LayerSource({self.file}:{self.line}:{self.column}, {self.name!r})"


# fields named in nearly every message (the layer's name and type, "bottom blob", "top"):
# naming them does not single one field out
_GENERIC_FIELDS = frozenset({"name", "type", "bottom", "top"})
# the "file: layer 'name' (Type): " an error message starts with, stripped before matching
_LAYER_PREFIX = re.compile(r"^(?:[^\n]*?: )?layer '[^']*'(?: \([^)]*\))?: ")


class NetSource:
    """The positions of a NetParameter's layers: ``layers[i]`` for ``layer[i]`` and
    ``legacy_layers[i]`` for the deprecated ``layers[i]`` (a :class:`LayerSource` or None);
    ``fields`` holds the net-level fields' positions (``input``, ``input_dim``, ...)."""

    __slots__ = ("file", "layers", "legacy_layers", "fields")

    def __init__(self, file, layers=(), legacy_layers=(), fields=None):
        self.file = file
        self.layers = list(layers)
        self.legacy_layers = list(legacy_layers)
        self.fields = fields or {}

    def fits(self, net_param):
        return (len(self.layers) == len(net_param.layer)
                and len(self.legacy_layers) == len(net_param.layers))

    def layer(self, index, layer_param=None):
        """The LayerSource of ``layer[index]``; None when unknown or when ``layer_param``'s
        name is not the one recorded (the message was edited since it was read)."""
        if not 0 <= index < len(self.layers):
            return None
        src = self.layers[index]
        if src is None or (layer_param is not None and src.name != layer_param.name):
            return None
        return src

    def subset(self, indices):
        """The NetSource of a net keeping ``layer[i]`` for ``i`` in ``indices``, in order."""
        return NetSource(self.file, [self.layers[i] for i in indices], (), self.fields)

    def where(self, field, index=0):
        """``"file:line:column"`` of a net-level field, or just ``"file"``."""
        spots = self.fields.get(field, ())
        if not spots:
            return self.file
        line, column = spots[min(index, len(spots) - 1)]
        return f"{self.file}:{line}:{column}"


class Pending:
    """Positions not worked out yet: ``make()`` gives the NetSource (or None) the first time
    they are asked for. Scanning a prototxt's text for positions costs about as much as
    parsing it; a net read without an error never asks (a one-shot cv2.dnn program), so the
    readers record the scan to be done rather than doing it. ``file`` is known at once."""

    __slots__ = ("file", "make")

    def __init__(self, file, make):
        self.file, self.make = file, make


_TABLE = collections.OrderedDict()  # id(message) -> (message, NetSource or Pending, layers)
_table_layers = 0


def _store(net_param, source, size):
    global _table_layers
    key = id(net_param)
    old = _TABLE.pop(key, None)
    if old is not None:
        _table_layers -= old[2]
    _TABLE[key] = (net_param, source, size)
    _table_layers += size
    while _table_layers > MAX_LAYERS and len(_TABLE) > 1:
        _, (_, _, n) = _TABLE.popitem(last=False)
        _table_layers -= n


def attach(net_param, source):
    """Record ``source`` as the positions of ``net_param`` (returns ``net_param``)."""
    if source is None or not source.fits(net_param):
        return net_param
    _store(net_param, source, len(source.layers) + len(source.legacy_layers) + 1)
    return net_param


def attach_pending(net_param, file, make):
    """Record that ``make()`` gives the positions of ``net_param`` (a NetSource or None),
    worked out when first asked for (:class:`Pending`); returns ``net_param``."""
    _store(net_param, Pending(file, make), len(net_param.layer) + len(net_param.layers) + 1)
    return net_param


def derive(net_param, parent, transform):
    """Record for ``net_param`` the positions ``transform(source_of(parent))`` (a NetSource
    or None), worked out when first asked for; nothing where ``parent`` has none. The
    parent must keep its layers until then (the readers' and filters' own messages do)."""
    entry = _TABLE.get(id(parent))
    if entry is None or entry[0] is not parent:
        return net_param

    def make():
        src = source_of(parent)
        return None if src is None else transform(src)
    return attach_pending(net_param, entry[1].file, make)


def file_of(net_param):
    """The file ``net_param`` was read from, where positions are recorded for it (pending
    or not), without working them out; None otherwise."""
    entry = _TABLE.get(id(net_param))
    return None if entry is None or entry[0] is not net_param else entry[1].file


def source_of(net_param):
    """The :class:`NetSource` recorded for ``net_param``, or None."""
    global _table_layers
    entry = _TABLE.get(id(net_param))
    if entry is None or entry[0] is not net_param:
        return None
    source = entry[1]
    if isinstance(source, Pending):
        source = source.make()
        if source is None or not source.fits(net_param):
            if _TABLE.get(id(net_param)) is entry:
                del _TABLE[id(net_param)]
                _table_layers -= entry[2]
            return None
        _store(net_param, source, entry[2])
    if not source.fits(net_param):
        return None
    _TABLE.move_to_end(id(net_param))
    return source


def layer_source(net_param, index):
    """The LayerSource of ``net_param.layer[index]``, or None."""
    src = source_of(net_param)
    return None if src is None else src.layer(index, net_param.layer[index])


def locate(error, source, field=None, index=0):
    """Put the position of layer ``source`` (a :class:`LayerSource`; None leaves ``error`` as
    it is) in front of ``error``'s message: the position of ``field``, or of the error's own
    ``field`` attribute (set by :meth:`caffe_compat.layers.base.Layer.fail`), or of the field
    the message names (``index``: which occurrence of a repeated field). A message that
    already starts with ``file:line`` is left alone.
    Returns ``error``."""
    if source is None:
        return error
    text = str(error.args[0]) if error.args else ""
    if re.match(re.escape(source.file) + r":\d+", text):
        return error
    where = source.where_for(text, field or getattr(error, "field", None), index)
    error.args = (f"{where}: {text}",) + tuple(error.args[1:])
    return error
