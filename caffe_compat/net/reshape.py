"""Caffe's Net::Reshape, and the one place where a layer's shape error gets its context.

Caffe reshapes every layer before running it, so a bottom that does not fit is refused by the
layer's own Reshape checks. Here a layer's reshape rule is its ``top_shapes``;
:func:`layer_top_shapes` runs it for one layer and turns whatever it raises into a
:class:`~caffe_compat.errors.NetError` naming the layer, its type, its ``file:line:column``
when read from text (:mod:`caffe_compat.diagnostics.locations`), the bottom shapes and the
shapes the layer was set up for. Every path that gives a net other shapes goes through it:
building (Net::Init), pycaffe's ``net.reshape()``, a cv2.dnn net given another input size. A
forward given other shapes runs without reshaping first; when it fails, :func:`explain`
(called by :meth:`caffe_compat.net.core.Net.forward` and :mod:`caffe_compat.net.stepwise`)
runs the reshape from the pass's input shapes to name the layer that refuses them, or gives
the layer whose forward raised the same context (:func:`forward_failure`)."""
from __future__ import annotations

from ..diagnostics import locations
from ..errors import CaffeCompatError, NetError

def _context(error, node, module, bottom_shapes):
    """``error`` (a CaffeCompatError) with the bottom shapes' set-up counterpart named when
    they differ, and located at the layer's ``file:line:column``."""
    setup = getattr(module, "bottom_shapes", None)
    shapes = [tuple(s) for s in bottom_shapes]
    text = str(error.args[0]) if error.args else ""
    if setup is not None and shapes != list(setup) and "set up for" not in text:
        error.args = (f"{text} (the layer was set up for bottom shapes {list(setup)})",) + \
            tuple(error.args[1:])
    return locations.locate(error, getattr(node, "source", None))


def _wrapped(error, node, module, bottom_shapes, what):
    """A NetError for a non-CaffeCompatError ``error`` of layer ``node``."""
    shapes = [tuple(s) for s in bottom_shapes]
    err = NetError(f"layer '{node.name}' (type {node.type}): {what} {shapes}: "
                   f"{type(error).__name__}: {error}")
    return _context(err, node, module, shapes)


def layer_top_shapes(node, module, bottom_shapes):
    """``module.top_shapes(bottom_shapes)`` (the layer's Reshape), every error a NetError with
    the layer's context (see the module doc)."""
    try:
        return module.top_shapes(bottom_shapes)
    except CaffeCompatError as e:
        raise _context(e, node, module, bottom_shapes)
    except MemoryError:
        raise
    except Exception as e:
        raise _wrapped(e, node, module, bottom_shapes,
                       "these bottom shapes do not fit the layer:") from e


def propagate(nodes, layers, shapes):
    """Caffe's Net::Reshape over ``nodes`` ((node, module key, ...) per layer, in order):
    ``shapes`` (blob name -> shape) holds the shapes of the blobs no layer rule gives (data
    layers' tops and the Input blobs); the tops of every other layer come from
    :func:`layer_top_shapes`. Returns the blob shapes."""
    out = dict(shapes)
    for node, key, *_ in nodes:
        if node.type == "Input" or not node.bottoms:
            continue
        module = layers[key]
        tops = layer_top_shapes(node, module, [out[b] for b in node.bottoms])
        for name, shape in zip(node.tops, tops):
            out[name] = tuple(shape)
    return out


def out_of_memory(error, nodes, layers, shapes, pass_name, net_name=None):
    """:mod:`caffe_compat.net.device_memory`'s report of a device out of memory (torch's
    ``error``) in a pass over ``nodes`` from ``shapes`` (fed and data blobs): every blob's
    shape by the layers' rules, and the layer on the traceback."""
    from .device_memory import from_pass
    try:
        known = propagate(nodes, layers, shapes)
    except Exception:                     # noqa: BLE001 - the shapes as given
        known = dict(shapes)
    return from_pass(error, nodes, layers, known, layer_in_traceback(error, nodes, layers),
                     pass_name, net_name)


def layer_in_traceback(error, nodes, layers):
    """(node, module) of the innermost layer of ``nodes`` whose own method is on ``error``'s
    traceback (the layer that raised it), or None (a fused fast-path form ran it)."""
    modules = {id(layers[key]): (node, layers[key]) for node, key, *_ in nodes}
    found, tb = None, error.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if owner is not None and id(owner) in modules:
            found = modules[id(owner)]
        tb = tb.tb_next
    return found


def explain(error, nodes, layers, shapes, net_name=None):
    """The exception to raise for ``error``, raised by a pass over ``nodes`` (``layers``: the
    modules by key) whose data and input blobs had ``shapes`` (blob name -> shape): Caffe's
    Net::Reshape run again from those shapes names the first layer whose reshape rule refuses
    its bottoms (that NetError, with the layer's context, caused by ``error``); else the layer
    that raised ``error`` (found on its traceback) gets the context (:func:`forward_failure`);
    else ``error`` itself. MemoryError and KeyboardInterrupt pass unchanged, and so does every
    error of a net with a Python layer (its reshape is the user's code). A device out of
    memory (torch's OutOfMemoryError) is :mod:`caffe_compat.net.device_memory`'s report."""
    if type(error).__name__ == "OutOfMemoryError":
        out = out_of_memory(error, nodes, layers, shapes, "forward", net_name)
        out.__cause__ = error
        return out
    if isinstance(error, MemoryError) or not isinstance(error, Exception) or \
            any(node.type == "Python" for node, *_ in nodes):
        return error
    try:
        known = propagate(nodes, layers, shapes)
    except NetError as found:
        found.__cause__ = error
        return found
    except Exception:
        return error
    hit = layer_in_traceback(error, nodes, layers)
    if hit is None:
        return error
    node, module = hit
    bottoms = [known.get(b, ()) for b in node.bottoms]
    out = forward_failure(error, node, module, bottoms)
    if out is not error:
        out.__cause__ = error
    return out


def forward_failure(error, node, module, bottom_shapes):
    """The exception to raise for ``error``, raised by layer ``node``'s forward on bottoms of
    ``bottom_shapes``: a CaffeCompatError gets the layer's context, any other error (a
    kernel's, torch's) becomes a NetError with it (``raise forward_failure(...) from e``);
    MemoryError and KeyboardInterrupt pass unchanged."""
    if isinstance(error, CaffeCompatError):
        return _context(error, node, module, bottom_shapes)
    if isinstance(error, MemoryError) or not isinstance(error, Exception):
        return error
    return _wrapped(error, node, module, bottom_shapes, "forward failed on bottom shapes")
