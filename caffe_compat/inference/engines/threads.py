"""The number of threads every engine runs with: one function, so that the thread policy of
the package (:mod:`caffe_compat.parallel.threads`) decides it in one place for torch, onnxruntime and
OpenVINO alike.

Sessions are keyed by this count (:mod:`caffe_compat.inference.engines.choose`): when it changes (a
core taken by another process, or given back), the next forward builds (or reuses) a session
of the new count instead of running on the old one."""
from __future__ import annotations

from ...parallel import threads


def engine_threads():
    """Threads for an inference forward: the cores this process can get now, never more than
    the count the user set with ``torch.set_num_threads`` (:func:`caffe_compat.parallel.threads.apply`,
    which also sets torch's own count to it)."""
    return max(1, int(threads.apply()))
