"""Many training iterations of a small net in one C call (``_tiny_solve.c``).

The compiled loop computes every value with the routine the per-layer pass reaches for it:
the Caffe-order products of ``_exact_gemm`` and the per-blob SGD loop of ``_sgd_update``
(through their capsules), and, for what the pass leaves to torch, torch's own routines found
in its library (MKL's ``sgemm_`` behind ``torch.mm``, MKL's ``vsLn`` behind ``torch.log``,
Sleef's ``Sleef_expf8_u10`` behind the AVX2 softmax), in the order ATen calls them; ATen's
sums are followed element by element. Whether each of these gives torch's bits on this machine
is checked before use: :func:`check` runs the loop's computation and torch's call on the
same arrays (the net's own shapes, values of many magnitudes, signed zeros) and keeps the
answer per shape for the process. Where the extension, a routine or a check is missing, the
solver keeps its per-layer loop (:mod:`caffe_compat.solvers.tiny_solve`).
"""
from __future__ import annotations

import ctypes
import os

import numpy as np
import torch

from .array_loop import smooth  # noqa: F401  (the smoothed loss of a run of iterations)

try:
    from . import _tiny_solve
except ImportError:  # pragma: no cover - the extension is optional
    _tiny_solve = None

_BOUND = []          # [True | False] once decided
_CHECKED = {}        # (primitive, shape) -> bool


def _torch_library():
    path = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
    return ctypes.CDLL(path) if os.path.exists(path) else None


def available():
    """Whether the compiled loop can run here: the extension built, torch's CPU kernels the
    AVX2 ones (the softmax's vector width), its routines found and bound."""
    if _BOUND:
        return _BOUND[0]
    ok = False
    capability = getattr(torch.backends.cpu, "get_cpu_capability", lambda: None)()
    if _tiny_solve is not None and capability == "AVX2":
        try:
            from . import _exact_gemm, _sgd_update  # noqa: F401  (their capsules)
            lib = _torch_library()
            if lib is not None:
                address = [ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
                           for name in ("sgemm_", "vsLn", "Sleef_expf8_u10", "vsTanh",
                                        "vdTanh")]
                _tiny_solve.bind(*address)
                ok = True
        except (AttributeError, ImportError, OSError, ValueError):
            ok = False
    _BOUND.append(ok)
    return ok


def lanes():
    """Floats per vector of torch's CPU kernels (the width its sums interleave)."""
    return 8


def _values(rng, shape, positive=False):
    """Values of many magnitudes with some signed zeros and ties (float32)."""
    v = rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 4, shape)
    v = v.astype(np.float32)
    flat = v.reshape(-1)
    if flat.size > 3:
        flat[rng.integers(0, flat.size, max(1, flat.size // 16))] = -0.0
        flat[rng.integers(0, flat.size, max(1, flat.size // 16))] = 0.0
    if positive:
        v = np.abs(v).astype(np.float32)
        v[v < np.float32(np.finfo(np.float32).tiny)] = np.float32(np.finfo(np.float32).tiny)
    return v


def _same(a, b):
    return np.asarray(a, np.float32).tobytes() == np.asarray(b, np.float32).tobytes()


def _check_once(kind, shape):
    rng = np.random.default_rng(abs(hash((kind, shape))) % (2 ** 32))
    prim = _tiny_solve.primitive
    for trial in range(6):
        if kind == "softmax":
            m, c = shape
            x = _values(rng, (m, c)) if trial % 2 else \
                (rng.standard_normal((m, c)) * 4).astype(np.float32)
            if trial == 5 and c > 1:
                x[:, 1] = x[:, 0]                      # ties
            out = np.empty_like(x)
            prim("softmax", x, out, m, c, 0, 0)
            if not _same(out, torch.softmax(torch.from_numpy(x), 1).numpy()):
                return False
        elif kind == "log":
            (n,) = shape
            x = rng.uniform(0, 1, n).astype(np.float32) if trial % 2 else \
                _values(rng, (n,), positive=True)
            x = np.minimum(x, np.float32(1))
            out = np.empty_like(x)
            prim("log", x, out, n, 0, 0, 0)
            if not _same(out, torch.log(torch.from_numpy(x)).numpy()):
                return False
        elif kind == "sum":
            (n,) = shape
            x = _values(rng, (n, 1))
            out = np.empty(1, np.float32)
            prim("sum", x, out, n, lanes(), 0, 0)
            if not _same(out, torch.from_numpy(x).sum().numpy()):
                return False
        elif kind == "colsum":
            m, n = shape
            x = _values(rng, (m, n))
            out = np.empty(n, np.float32)
            prim("colsum", x, out, m, n, lanes(), 0)
            if not _same(out, torch.from_numpy(x).sum(0).numpy()):
                return False
        elif kind == "linear":
            m, k, n, bias = shape
            x, w, b = _values(rng, (m, k)), _values(rng, (n, k)), _values(rng, (n,))
            want = torch.nn.functional.linear(torch.from_numpy(x), torch.from_numpy(w),
                                              torch.from_numpy(b) if bias else None).numpy()
            out = np.empty((m, n), np.float32)
            prim("linear", np.concatenate([x.ravel(), w.ravel(), b.ravel()]), out, m, k, n,
                 bias)
            if not _same(out, want):
                return False
        elif kind in ("sigmoid", "tanh"):
            (n,) = shape
            x = _values(rng, (n,)) if trial % 2 else (rng.standard_normal(n) * 3).astype(
                np.float32)
            out = np.empty_like(x)
            prim(kind, x, out, n, 0, 0, 0)
            t = torch.from_numpy(x)
            from ..layers._neuron import caffe_sigmoid
            want = caffe_sigmoid(t) if kind == "sigmoid" else torch.tanh(t)
            if not _same(out, want.numpy()):
                return False
        elif kind == "tanh_backward":
            (n,) = shape
            dy, x = _values(rng, (n,)), (rng.standard_normal(n) * 2).astype(np.float32)
            y = torch.tanh(torch.from_numpy(x))
            out = np.empty_like(dy)
            prim(kind, np.concatenate([dy, y.numpy()]), out, n, 0, 0, 0)
            want = torch.ops.aten.tanh_backward(torch.from_numpy(dy), y).numpy()
            if not _same(out, want):
                return False
        elif kind == "relu":
            (n,) = shape
            x = _values(rng, (n,))
            out = np.empty_like(x)
            prim("relu", x, out, n, 0, 0, 0)
            if not _same(out, torch.relu(torch.from_numpy(x)).numpy()):
                return False
        elif kind == "mm":
            m, k, n, flags = shape
            a_store = _values(rng, (k, m) if flags & 1 else (m, k))
            b_store = _values(rng, (n, k) if flags & 2 else (k, n))
            a = torch.from_numpy(a_store)
            b = torch.from_numpy(b_store)
            want = torch.mm(a.t() if flags & 1 else a, b.t() if flags & 2 else b).numpy()
            out = np.empty((m, n), np.float32)
            try:
                prim("mm", np.concatenate([a_store.ravel(), b_store.ravel()]), out, m, k, n,
                     flags)
            except ValueError:
                return False
            if not _same(out, want):
                return False
        else:
            raise ValueError(f"unknown primitive {kind!r}")
    return True


def check(kind, shape):
    """Whether the loop's ``kind`` computation ('softmax' (M, C), 'log' (n,), 'sum' (n,),
    'colsum' (M, N), 'relu' (n,), 'sigmoid' (n,), 'tanh' (n,), 'tanh_backward' (n,),
    'mm' (M, K, N, flags), 'linear' (M, K, N, bias)) gives torch's bits for ``shape``
    here: run on both, compared bit for bit, once per process."""
    key = (kind, tuple(int(d) for d in shape))
    ok = _CHECKED.get(key)
    if ok is None:
        ok = _CHECKED[key] = bool(available() and _check_once(kind, key[1]))
    return ok


def run(ops, ptrs, consts, iterations, losses, rates, cursors, limits):
    """Run the program for up to ``iterations`` iterations (see ``_tiny_solve.c``); returns
    how many ran."""
    return _tiny_solve.run(ops, ptrs, consts, iterations, losses, rates, cursors, limits,
                           lanes())
