"""A device that runs out of memory, reported as a Caffe user needs it: the net, the layer and
its bottom shapes where one was running, the pass, the batch size, the memory asked for and
free, and a batch that would fit, measured from the net's blob and weight sizes.

Caffe stops with ``Check failed: error == cudaSuccess (2 vs. 0) out of memory`` and nothing
else. Here the forward (through :func:`caffe_compat.net.reshape.explain`), ``Net.backward``
and a solver's iteration and update turn torch's ``OutOfMemoryError`` into a
:class:`DeviceMemoryError`, which is both a :class:`~caffe_compat.errors.CaffeCompatError`
and a ``torch.OutOfMemoryError`` (``except torch.cuda.OutOfMemoryError`` still catches it).

The batch that would fit: the memory this process could use for the pass's blobs is what the
device has free, plus what torch holds reserved but not allocated, plus the blobs this pass
made before it failed (released with it; the fed inputs stay with the caller); a pass needs,
per item, the bytes of every blob of the net at one item (twice that when it keeps
gradients: each blob's diff). The figure is an
estimate from the sizes (kernels' workspaces and torch's rounding of blocks are not counted),
said so in the message. :data:`MEMORY` reads the device's figures (``torch.cuda.mem_get_info``,
``memory_reserved``, ``memory_allocated``); tests give it a stand-in."""
from __future__ import annotations

import math
import re

import torch

from ..errors import CaffeCompatError
from .param_memory import _unique


class DeviceMemoryError(CaffeCompatError, torch.OutOfMemoryError):
    """The device ran out of memory (module doc); the message says where and what to change."""


def _device_figures(device):
    """``(free, total, reserved, allocated)`` bytes of ``device`` (a CUDA device)."""
    free, total = torch.cuda.mem_get_info(device)
    return free, total, torch.cuda.memory_reserved(device), torch.cuda.memory_allocated(device)


MEMORY = {"cuda": _device_figures}

_SIZE = r"([\d.]+) (GiB|MiB|KiB|B)\b"
_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def asked_bytes(message):
    """The bytes torch's message says it tried to allocate, or None."""
    found = re.search(r"Tried to allocate " + _SIZE, message)
    return None if found is None else float(found.group(1)) * _UNITS[found.group(2)]


def size_text(n):
    for unit in ("GiB", "MiB", "KiB"):
        if n >= _UNITS[unit]:
            return f"{n / _UNITS[unit]:.2f} {unit}"
    return f"{int(n)} B"


def _count(shape):
    return math.prod(int(d) for d in shape)


def out_of_memory(error, net_name, pass_name, device, blob_shapes, batch, weights, itemsize,
                  alive=(), layer=None, bottom_shapes=None, gradients=False):
    """The :class:`DeviceMemoryError` for torch's ``error``: ``blob_shapes`` (name -> shape of
    every blob of the pass), ``batch`` (its batch size), ``weights`` (the net's weight
    tensors), ``alive`` (names of the blobs the pass had made when it failed), ``layer`` (the
    (name, type) running, if known) on ``bottom_shapes``; ``gradients``: the pass keeps diffs."""
    named = re.search(r"\bGPU (\d+)\b", str(error))   # torch's words name the device
    device = torch.device(f"cuda:{named.group(1)}" if named else device)
    where = f"net '{net_name}' ran out of memory on {device}"
    if layer is not None:
        where += f" in layer '{layer[0]}' (type {layer[1]}) {pass_name}"
        if bottom_shapes is not None:
            where += f", bottom shapes {[tuple(s) for s in bottom_shapes]}"
    else:
        where += f" in its {pass_name}"
    where += f", batch {batch}" if batch else ""
    asked = asked_bytes(str(error))
    figures = None
    reader = MEMORY.get(device.type)
    if reader is not None:
        try:
            figures = reader(device)
        except Exception:                 # noqa: BLE001 - the figures are a courtesy
            figures = None
    parts = [where]
    if figures is not None:
        free, total, reserved, allocated = figures
        parts.append(("asked for " + size_text(asked) + " with " if asked else "")
                     + f"{size_text(free)} free of {size_text(total)} (torch holds "
                     f"{size_text(reserved)} reserved, {size_text(allocated)} allocated)")
    elif asked:
        parts.append(f"asked for {size_text(asked)}")
    per_item = sum(_count(s) for s in blob_shapes.values()) * itemsize / max(batch or 1, 1)
    per_item *= 2 if gradients else 1
    weight_bytes = sum(t.numel() * t.element_size() for t in weights)
    advice = (f"the net's blobs take about {size_text(per_item)} per item"
              + (" with their diffs" if gradients else "")
              + f" and its weights {size_text(weight_bytes)}")
    if figures is not None and per_item > 0:
        free, _, reserved, allocated = figures
        held = sum(_count(blob_shapes[b]) for b in alive if b in blob_shapes) * itemsize * \
            (2 if gradients else 1)
        budget = free + max(reserved - allocated, 0) + held
        fits = int(budget // per_item)
        if fits >= 1:
            advice += (f": a batch of about {fits} would fit in that memory (an estimate from "
                       "the blob sizes); lower batch_size in the data layer, or feed fewer "
                       "items")
        else:
            advice += (": not even one item fits in that memory (an estimate from the blob "
                       "sizes); free the device's memory held elsewhere, or use a smaller "
                       "input")
    else:
        advice += ": a smaller batch needs proportionally less"
    if not gradients:
        advice += "; an inference forward with keep_blobs=False frees each blob after its " \
                  "last use"
    return DeviceMemoryError(f"{'; '.join(parts)}. {advice[0].upper()}{advice[1:]}. "
                             f"(torch: {str(error).splitlines()[0] if str(error) else ''})")


def from_pass(error, nodes, layers, known, hit, pass_name="forward", net_name=None):
    """The :class:`DeviceMemoryError` of a pass over ``nodes`` (``layers``: the modules by
    key) whose blobs have the shapes ``known``: ``hit`` (the (node, module) on ``error``'s
    traceback, or None) named with its bottom shapes, the blobs of the layers before it
    counted as alive (:func:`caffe_compat.net.reshape.explain` finds both)."""
    layer = bottoms = None
    alive = []
    for node, *_ in nodes:
        if hit is not None and node is hit[0]:
            layer = (node.name, node.type)
            bottoms = [known.get(b, ()) for b in node.bottoms]
            break
        if node.type != "Input":          # fed blobs stay with the caller
            alive.extend(node.tops)
    weights = _unique(b for _, key, *_ in nodes for b in layers[key].blobs)
    first = weights[0] if weights else None
    fed = [t for node, *_ in nodes if node.type == "Input" or not node.bottoms for t in node.tops]
    return out_of_memory(
        error, net_name or "net", pass_name, first.device if first is not None else "cuda",
        known, batch_of(known, fed), weights, first.element_size() if first is not None else 4,
        alive=alive if hit is not None else (), layer=layer, bottom_shapes=bottoms,
        gradients=torch.is_grad_enabled())


def batch_of(shapes, inputs):
    """The batch size of a pass: the first axis of its first fed or data blob."""
    for name in inputs:
        shape = shapes.get(name)
        if shape:
            return int(shape[0])
    return 0
