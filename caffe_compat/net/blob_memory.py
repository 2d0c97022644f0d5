"""Caffe's Blob::Reshape rule for a blob's memory, shared by the array and torch engines (numpy
only: the array engine runs without torch)."""
from __future__ import annotations

import numpy as np


def reshaped_memory(kept, key, current, shape, zeros):
    """Caffe's Blob::Reshape on one memory of a blob (its data or its diff), for the array and
    torch engines alike. Caffe keeps a blob's memory while the new count fits its capacity
    (the largest count it has had): the values stay in their order, seen at the new shape, so
    a blob that shrinks keeps its first values (a Split top's stale diff included, which a
    later partial backward adds in) and one that grows back within the capacity finds the
    older values beyond them; a count beyond the capacity gets new memory, zeros.

    ``kept``: a dict holding, per ``key``, the capacity's flat memory and the view handed out;
    ``current``: the blob's memory now (numpy array or tensor; its values go first when it is
    not that view); ``zeros(n)``: new flat memory of the same kind. Returns the new view."""
    count = int(np.prod(shape, dtype=np.int64))
    n = int(np.prod(current.shape, dtype=np.int64))
    memory, view = kept.get(key, (None, None))
    held = view is current                   # else the blob holds other memory now
    capacity = memory.shape[0] if held else max(n, 0 if memory is None else memory.shape[0])
    if count > capacity:                     # new memory: nothing to keep
        memory = zeros(count)
    elif not held:                           # the blob's values go first
        if memory is None or memory.shape[0] < n:
            memory = zeros(n)
        memory[:n] = current.reshape(-1)
    view = memory[:count].reshape(shape)
    kept[key] = (memory, view)
    return view
