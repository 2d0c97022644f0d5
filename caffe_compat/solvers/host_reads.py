"""Every read of a device value by the training loop, through one function: :func:`host_value`.

On a CUDA device each such read makes the host wait for the device (a stream
synchronisation), so the solver reads as Caffe's display and test intervals need and no more
(:mod:`.deferred_losses`): on the CPU a read is a plain copy and the loop reads each
iteration's loss at once, as before. :data:`reads` counts the calls (tests count the reads per
iteration with it).
"""
from __future__ import annotations

reads = 0


def host_value(tensor):
    """``tensor``'s value on the host: a Python number for a 0-d tensor (``.item()``), else a
    numpy array (a copy off its device)."""
    global reads
    reads += 1
    return tensor.item() if tensor.dim() == 0 else tensor.detach().cpu().numpy()
