"""Whether a weights file covers a net: the one rule every loader applies after matching a
caffemodel's layers with a net's by name.

Caffe's CopyTrainedLayersFrom copies blobs by layer name: a layer of the file that the net
lacks is skipped (the log's ``Ignoring source layer X``), a layer of the net that the file lacks
keeps its filler values, and a layer of both whose blobs do not fit is an error (that stays the
loaders' error). Caffe says nothing of the net's uncovered layers, so a renamed layer silently
runs on its fillers. Here:

* a layer of the net with parameter blobs that no layer of the file gave values to (a blob
  shared with a layer the file holds is covered) makes the load a mismatch, reported once per
  load as a :class:`~caffe_compat.errors.WeightsMismatchWarning` and, where a glog-style log
  exists, as a ``W`` line; the message names those layers and, beside them, the file's layers
  with blobs that the net does not have (a renamed layer shows on both sides);
* the file's layers with blobs that the net lacks, alone, are no mismatch: a trained caffemodel
  loaded into its deploy net holds training-only layers (GoogLeNet's auxiliary classifiers);
  layers without blobs (data, loss, accuracy) never count;
* fine-tuning a renamed layer is such a mismatch by design: it stays a warning, never an error,
  unless asked for (``strict=True`` of :class:`caffe_compat.Net` and its ``copy_from``, or
  ``warnings.simplefilter("error", WeightsMismatchWarning)`` on any path).

The loaders give the net's layers as ``(name, blob keys)`` (a key per parameter blob, the same
key where layers share a blob) and each file's layers as ``(name, blob count)``; several files
(``--weights a,b``) add up before the report.
"""
from __future__ import annotations

import os
import warnings

from ..errors import WeightsError, WeightsMismatchWarning
from .stack import caller_stacklevel

# at most this many layer names of each side in a message ("... and N more")
_SHOWN = 12


class WeightsCoverage:
    """What the weights files loaded into one net cover of it (module doc)."""

    def __init__(self, net_name, net_layers, at=None):
        """``net_layers``: ``(layer name, blob keys)`` of every layer of the net, in order;
        ``at(name)``: a ``"file:line:column: "`` prefix of the layer's definition, or ""."""
        self.net_name = net_name
        self._layers = [(name, tuple(keys)) for name, keys in net_layers]
        self._names = {name for name, _ in self._layers}
        self._at = at or (lambda name: "")
        self.files = []
        self._copied = set()
        self.unused = []         # the files' layers with blobs that the net lacks, in order

    def add(self, where, file_layers):
        """Count a file (``where``: its name) whose layers are ``(name, blob count)``."""
        self.files.append(os.fspath(where) if isinstance(where, os.PathLike) else str(where))
        for name, count in file_layers:
            if not count:
                continue                    # data, loss, accuracy layers: nothing to copy
            if name in self._names:
                self._copied.add(name)
            elif name not in self.unused:
                self.unused.append(name)
        return self

    def missing(self):
        """``(layer name, blob count)`` of the net's layers whose parameter blobs no file
        covered, a shared blob named once (under the first layer holding it)."""
        covered = {k for name, keys in self._layers if name in self._copied for k in keys}
        out, named = [], set()
        for name, keys in self._layers:
            left = [k for k in keys if k not in covered and k not in named]
            if left:
                out.append((name, len(left)))
                named.update(left)
        return out

    def missing_lines(self):
        """One line per uncovered layer, as a strict load lists its problems."""
        return [f"{self._at(name)}missing layer '{name}' ({n} blob(s)) is not in the file"
                for name, n in self.missing()]

    def message(self):
        """The mismatch's message, or None where every parameter of the net is covered."""
        missing = self.missing() if self.files else None
        if not missing:
            return None             # covered, or no file loaded: nothing to say
        files = ", ".join(self.files)
        own = _names([f"'{name}' ({n} blob{'s' if n > 1 else ''}"
                      f"{', ' + self._at(name).rstrip(': ') if self._at(name) else ''})"
                      for name, n in missing])
        text = (f"{files}: these weights do not cover net '{self.net_name}': the net's "
                f"layer(s) with parameters {own} are not in the file and keep their filler "
                "values; ")
        if self.unused:
            text += (f"the file's layer(s) with blobs {_names(repr(n) for n in self.unused)} "
                     "are not in the net (ignored, as Caffe does). A renamed layer? Give it the "
                     "file's name, or check these are this net's weights; fine-tuning")
        else:
            text += "every layer of the file with blobs was copied. Fine-tuning"
        return (text + " a renamed layer starts it from its fillers by design. To make this "
                "an error: strict=True (caffe_compat.Net), warnings.simplefilter('error', "
                "WeightsMismatchWarning), PYTHONWARNINGS=error::caffe_compat.errors."
                "WeightsMismatchWarning (caffe-compat).")

    def report(self, log=None, strict=False):
        """Say the mismatch (module doc): a ``W`` line in ``log`` (a glog-style log, or None)
        and a :class:`WeightsMismatchWarning`; with ``strict`` a :class:`WeightsError`
        instead. Nothing where the files cover the net."""
        text = self.message()
        if text is None:
            return
        if strict:
            raise WeightsError(text)
        if log is not None:
            log.warning(text)    # no Caffe counterpart: the line names this file
        warnings.warn(text, WeightsMismatchWarning, stacklevel=caller_stacklevel())


def _names(quoted):
    quoted = list(quoted)
    shown = ", ".join(quoted[:_SHOWN])
    return shown + (f" ... and {len(quoted) - _SHOWN} more" if len(quoted) > _SHOWN else "")
