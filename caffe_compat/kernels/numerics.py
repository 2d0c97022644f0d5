"""Which CPU kernels compute a run's floating-point results, and how to pin them.

A CPU training run gives the same bits every time on the same machine with the same kernels,
at any thread count (:mod:`caffe_compat.kernels.fixed_order`). Across machines the bits depend
on three libraries under torch that pick their kernels by instruction set (each measured to
change the CNN+D's weights after one iteration: docs/reproduction.md, "What reproduces bit
for bit"):

- ATen's vectorized CPU kernels: ``ATEN_CPU_CAPABILITY`` = ``default`` | ``avx2`` | ``avx512``;
- oneDNN (convolution backward passes not on the DFT route, inference convolutions):
  ``ONEDNN_MAX_CPU_ISA`` (``SSE41``, ``AVX2``, ``AVX512_CORE``, ...);
- MKL (the DFT route's products, InnerProduct's backward): ``MKL_CBWR`` (``COMPATIBLE``,
  ``AVX2``, ``AVX512``, ...; MKL's conditional numerical reproducibility).

The project's own C kernels (``_exact_gemm.c`` with hardware FMA or C's ``fmaf``, the pooling
loop, MATLAB's ``imresize``) give the same bits on every x86-64 machine.
:func:`kernel_fingerprint` records what a process uses (the reproduction writes it into
``pipeline.json``); :func:`pin_kernels` sets the three variables so a machine with a wider
instruction set runs a narrower one's code paths; it must run before the process's first
floating-point work (each library reads its variable once)."""
from __future__ import annotations

import os
import platform

__all__ = ["KERNEL_VARIABLES", "PINS", "kernel_fingerprint", "pin_kernels"]

KERNEL_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR")
# the value of each variable that selects one instruction set's code path in all three
PINS = {
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"},
    "avx512": {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE",
               "MKL_CBWR": "AVX512"},
    "portable": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41",
                 "MKL_CBWR": "COMPATIBLE"},
}


def _cpuinfo(prefixes):
    """The value of /proc/cpuinfo's first line that starts with ``prefixes``, or None (also
    where it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(prefixes):
                    return line.split(":", 1)[1]
    except OSError:
        pass
    return None


def _cpu_model():
    model = _cpuinfo("model name")
    return model.strip() if model is not None else platform.processor() or platform.machine()


def cpu_flags():
    """The flags of /proc/cpuinfo's first processor (empty where it cannot be read)."""
    return set((_cpuinfo(("flags", "Features")) or "").split())


def kernel_fingerprint():
    """What decides the bits of this process's results: torch version, ATen's CPU capability,
    the three variables, the Caffe-order kernel in use, whose kernels compute large
    convolutions' gradients, the processor; a JSON-able dict.
    Two runs whose fingerprints differ may differ in the last bits (and, through training,
    in more)."""
    import torch

    from . import blas_order
    out = {"torch": torch.__version__,
           "aten_cpu_capability": torch.backends.cpu.get_cpu_capability(),
           "mkldnn": bool(torch.backends.mkldnn.is_available()),
           "caffe_order_kernel": blas_order.kernel_name(),
           # whose kernels compute large convolutions' gradients (other bits; by processor)
           "conv_gradients": "caffe-order" if blas_order.gradients_chosen() else "torch",
           "cpu": _cpu_model(),
           "cpu_flags": sorted(cpu_flags() & {"avx2", "fma", "avx512f", "avx512bw", "avx512vl"}),
           "threads": torch.get_num_threads()}
    for name in KERNEL_VARIABLES:
        out[name] = os.environ.get(name)
    return out


def pin_kernels(isa):
    """Set the three variables to ``isa``'s code paths (:data:`PINS`: 'avx2', 'avx512' or
    'portable'); returns what was set. Call it before any computation of the process."""
    try:
        values = PINS[isa]
    except KeyError:
        raise ValueError(f"unknown kernel pin {isa!r}; expected one of {', '.join(PINS)}") \
            from None
    os.environ.update(values)
    return dict(values)
