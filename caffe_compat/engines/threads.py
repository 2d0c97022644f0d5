"""The number of threads every engine runs with: one function, so that the thread policy of
the package decides it in one place for torch, onnxruntime and OpenVINO alike.

Sessions are keyed by this count (:mod:`caffe_compat.engines.choose`): when it changes, the
next forward builds (or reuses) a session of the new count instead of running on the old one.
"""
from __future__ import annotations

import torch


def engine_threads():
    """Threads for an inference forward: torch's own thread count."""
    return max(1, int(torch.get_num_threads()))
