"""MATLAB's default random stream (Mersenne Twister), draw for draw.

MATLAB's ``rng(seed)`` with the default generator is MT19937 initialised by ``init_genrand(seed)``,
with seed 0 (MATLAB's default, also ``rng('default')``) meaning ``init_genrand(5489)``. ``rand``
returns 53-bit doubles (``genrand_res53``: ``(a*2^26 + b) / 2^53`` from two 32-bit outputs
shifted right by 5 and 6). numpy's legacy ``RandomState`` implements the same twister, seeding and
double conversion; the tests check it against a direct implementation of the reference code.

Sizes follow MATLAB: ``rand(n)`` is n-by-n, ``rand(m, n, ...)`` fills the array down columns
(column-major), so element (i, j) of ``rand(m, n)`` is draw number ``i + j*m``.
``randperm(n)`` is the order that sorts ``rand(1, n)`` (stable), returned 1-based as MATLAB does;
``unidrnd(n, ...)`` is ``ceil(n .* rand(...))``. Use one stream for everything a ported script
draws, in MATLAB's call order.
"""
import time

import numpy as np

from .errors import PortError

__all__ = ["MatlabRandomStream", "default_stream", "rng", "rand", "randperm", "unidrnd"]

_DEFAULT_SEED = 5489


def _dims(args, what):
    if len(args) == 1 and isinstance(args[0], (tuple, list, np.ndarray)):
        args = tuple(args[0])
    if not args:
        return (1, 1)
    out = []
    for v in args:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise PortError(f"{what}: sizes must be non-negative integers, got {args!r}")
        out.append(int(v))
    if len(out) == 1:
        out.append(out[0])
    return tuple(out)


class MatlabRandomStream:
    """One MATLAB random stream (``RandStream('twister')``) with its draws in MATLAB order."""

    def __init__(self, seed=0):
        self._rs = np.random.RandomState()
        self.seed(seed)

    def seed(self, seed=0):
        """MATLAB ``rng(seed)``: reset the twister; 0 is MATLAB's default stream."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
                or not 0 <= seed < 2 ** 32:
            raise PortError(f"seed: expected an integer in [0, 2^32), got {seed!r}")
        self._seed = int(seed)
        self._rs.seed(_DEFAULT_SEED if seed == 0 else int(seed))

    @property
    def seed_value(self):
        """The seed last given to :meth:`seed` (MATLAB's ``rng().Seed``)."""
        return self._seed

    def rand(self, *dims):
        """MATLAB ``rand(...)``: doubles in (0, 1), filled in column-major order."""
        shape = _dims(dims, "rand")
        n = int(np.prod(shape))
        flat = self._rs.random_sample(n)
        return flat.reshape(shape, order="F")

    def randperm(self, n):
        """MATLAB ``randperm(n)``: 1-based permutation, the stable sort order of ``rand(1, n)``."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise PortError(f"randperm: n must be a non-negative integer, got {n!r}")
        draws = self._rs.random_sample(int(n))
        return np.argsort(draws, kind="stable").astype(np.int64) + 1

    def unidrnd(self, n, *dims):
        """Statistics Toolbox ``unidrnd(n, ...)``: ``ceil(n .* rand(...))`` (as double)."""
        nn = np.asarray(n, dtype=np.float64)
        if np.any(~(nn > 0)) or np.any(nn != np.floor(nn)):
            raise PortError(f"unidrnd: n must be positive integers, got {n!r}")
        if dims:
            shape = _dims(dims, "unidrnd")
        elif nn.ndim:
            shape = nn.shape
        else:
            shape = (1, 1)
        if nn.ndim and nn.shape != shape:
            raise PortError(f"unidrnd: n has shape {nn.shape} but the size asked is {shape}")
        return np.ceil(nn * self.rand(*shape))

    def get_state(self):
        """The full generator state as plain Python data (JSON-friendly), for resuming."""
        name, key, pos, has_gauss, gauss = self._rs.get_state(legacy=True)
        return {"generator": "twister", "seed": self._seed, "key": key.tolist(), "pos": int(pos)}

    def set_state(self, state):
        """Restore a state from :meth:`get_state`."""
        try:
            key = np.asarray(state["key"], dtype=np.uint32)
            pos = int(state["pos"])
            seed = int(state.get("seed", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise PortError(f"state: not a state from get_state ({exc})") from None
        if key.shape != (624,) or not 0 <= pos <= 624:
            raise PortError("state: expected a 624-word key and a position in [0, 624]")
        self._rs.set_state(("MT19937", key, pos, 0, 0.0))
        self._seed = seed


_default = MatlabRandomStream(0)


def default_stream():
    """The module's global stream (MATLAB's global stream)."""
    return _default


def rng(seed="default"):
    """MATLAB ``rng(seed)`` / ``rng('default')`` / ``rng('shuffle')`` on the global stream."""
    if isinstance(seed, str):
        if seed == "default":
            seed = 0
        elif seed == "shuffle":
            seed = int(time.time() * 1e6) % (2 ** 32 - 1) + 1
        else:
            raise PortError(f"rng: expected a seed, 'default' or 'shuffle', got {seed!r}")
    _default.seed(seed)


def rand(*dims):
    """MATLAB ``rand`` on the global stream."""
    return _default.rand(*dims)


def randperm(n):
    """MATLAB ``randperm(n)`` on the global stream (1-based)."""
    return _default.randperm(n)


def unidrnd(n, *dims):
    """``unidrnd`` on the global stream."""
    return _default.unidrnd(n, *dims)
