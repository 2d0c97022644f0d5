"""Caffe's random streams, bit for bit: boost::mt19937, ``caffe_rng_rand()``, boost's
``uniform_int`` and Caffe's Fisher-Yates ``shuffle`` (util/rng.hpp).

Caffe draws every random decision of its data layers from 32-bit outputs of boost's mt19937:

- ``Caffe::set_random_seed(S)`` (``caffe.set_random_seed``, a solver's ``random_seed``)
  reseeds the calling thread's generator with ``mt19937(S)`` (without a seed: from
  /dev/urandom); ``caffe_rng_rand()`` is its next output.
- A ``Caffe::RNG(seed)`` is an independent ``mt19937(seed)``; the DataTransformer, ImageData's
  shuffle and WindowData's sampler each own one, seeded with a ``caffe_rng_rand()`` drawn at
  set-up (:func:`data_layer_setup_draws`).
- ``DataTransformer::Rand(n)`` is ``rng() % n``; WindowData's ``PrefetchRand()`` is ``rng()``.
- ``shuffle`` swaps element ``i`` (from the last down to 1) with element
  ``boost::uniform_int<ptrdiff_t>(0, i)(rng)``: for a 32-bit engine boost draws ``v = rng()``
  until ``v // bucket <= i``, ``bucket = 2**32 // (i + 1)``
  (boost/random/uniform_int_distribution.hpp, the "brange > range" branch).

HDF5Data's ``shuffle`` is the exception: HDF5DataLayer calls ``std::random_shuffle(first,
last)`` without a generator, which draws from the C library's ``rand()``
(:class:`LibcRand`, :func:`libc_shuffle`): process-wide, never seeded by Caffe (so seed 1,
whatever ``random_seed`` says), each layer's set-up and epochs drawing after those before it.

mt19937 is seeded as the reference ``init_genrand`` (boost's ``seed(value)``); the outputs
come from numpy's MT19937 bit generator with its state set to that key (``random_raw`` gives
the 32-bit tempered outputs). The tests check the reference values (the 10000th output of
seed 5489 is 4123659995, as the C++ standard requires of ``std::mt19937``)."""
from __future__ import annotations

import os
import sys
import threading

import numpy as np

_N = 624
_MASK = 0xFFFFFFFF


def _init_genrand(seed):
    """The 624-word key of ``mt19937(seed)`` (seed taken modulo 2**32, as an unsigned int)."""
    key = np.empty(_N, dtype=np.uint32)
    x = int(seed) & _MASK
    key[0] = x
    for i in range(1, _N):
        x = (1812433253 * (x ^ (x >> 30)) + i) & _MASK
        key[i] = x
    return key


class MT19937:
    """boost::mt19937 seeded with ``seed``: ``next()`` is ``rng()``, ``draw(n)`` the next n."""

    def __init__(self, seed=5489):
        self._bg = np.random.MT19937(0)
        seed = int(seed) & _MASK
        self.set_state({"seed": seed, "key": _init_genrand(seed), "pos": _N})

    def next(self):
        """The next 32-bit output (a Python int)."""
        return int(self._bg.random_raw())

    __call__ = next

    def draw(self, n):
        """The next ``n`` outputs as a uint32 array."""
        return self._bg.random_raw(int(n)).astype(np.uint32)

    def rand_mod(self, n):
        """``rng() % n`` (DataTransformer::Rand)."""
        if n <= 0:
            raise ValueError(f"Rand({n}): n must be positive (Caffe's CHECK_GT(n, 0))")
        return self.next() % int(n)

    def uniform_int(self, low, high):
        """``boost::uniform_int<>(low, high)(rng)`` for ``high - low < 2**32``."""
        span = int(high) - int(low)
        if span < 0:
            raise ValueError(f"uniform_int({low}, {high}): empty range")
        if span == 0:
            return int(low)
        if span == _MASK:
            return int(low) + self.next()
        bucket = (1 << 32) // (span + 1)
        while True:
            v = self.next() // bucket
            if v <= span:
                return int(low) + v

    # ---------------------------------------------------------------- state
    def get_state(self):
        """A JSON-able copy of the generator's position."""
        st = self._bg.state["state"]
        return {"seed": self.seed, "key": st["key"].tolist(), "pos": int(st["pos"])}

    def set_state(self, state):
        self.seed = int(state["seed"])
        self._bg.state = {"bit_generator": "MT19937",
                          "state": {"key": np.asarray(state["key"], dtype=np.uint32),
                                    "pos": int(state["pos"])}}


def shuffle(items, rng):
    """Caffe's ``shuffle(begin, end, rng)`` (util/rng.hpp) of the list ``items`` in place."""
    for i in range(len(items) - 1, 0, -1):
        j = rng.uniform_int(0, i)
        items[i], items[j] = items[j], items[i]
    return items


class CaffeRandom(MT19937):
    """The thread generator of ``Caffe::set_random_seed(seed)``: ``rand()`` is
    ``caffe_rng_rand()``. A net passes one to each of its data layers, in layer order, so
    that the layers draw their seeds as Caffe's Net::Init does (see
    :func:`data_layer_setup_draws`). ``seed=None`` seeds it from the OS, as Caffe does
    when no seed was set."""

    def __init__(self, seed=None):
        if seed is None:            # Caffe's cluster_seedgen reads /dev/urandom
            seed = int.from_bytes(os.urandom(4), "little")
        super().__init__(seed)

    def rand(self):
        """``caffe_rng_rand()``."""
        return self.next()

    def child(self):
        """A ``Caffe::RNG(caffe_rng_rand())``: a new generator seeded by the next draw."""
        return MT19937(self.next())


_THREAD = threading.local()


def thread_stream():
    """The calling thread's generator (``Caffe::rng_stream()``): the stream fillers and the
    data layers of every net built in this thread draw from, in turn. Seeded by
    :func:`set_thread_seed`; before that, from the OS on first use, as Caffe does."""
    rng = getattr(_THREAD, "rng", None)
    if rng is None:
        rng = _THREAD.rng = CaffeRandom(None)
    return rng


def set_thread_seed(seed):
    """``Caffe::set_random_seed(seed)`` for the calling thread's stream."""
    _THREAD.rng = CaffeRandom(int(seed))
    return _THREAD.rng


_TORCH_SEED = {"pending": None}


def seed_torch(seed):
    """torch's default generator seeded with ``seed``, the stream of the draws made on torch
    (gaussian fillers, Dropout): at once where torch is loaded, else by the first net built on
    torch (:func:`apply_torch_seed`), so that a program whose nets stay on numpy arrays never
    imports torch. A ``torch.manual_seed`` of the program's own between the two is
    overridden by it."""
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "manual_seed"):
        _TORCH_SEED["pending"] = None
        torch.manual_seed(int(seed))
    else:
        _TORCH_SEED["pending"] = int(seed)


def apply_torch_seed():
    """The seed :func:`seed_torch` left for torch, applied (a net on torch, before it draws)."""
    seed = _TORCH_SEED["pending"]
    if seed is not None:
        import torch
        _TORCH_SEED["pending"] = None
        torch.manual_seed(seed)


def data_layer_setup_draws(rng, *, transformer_needs_rand, own_draws=()):
    """The draws a prefetching data layer makes from the net's stream while it is set up, in
    Caffe's order; returns ``(transformer_rng or None, [results of own_draws])``.

    Order (BaseDataLayer::LayerSetUp, then BasePrefetchingDataLayer::LayerSetUp):

    1. ``DataTransformer::InitRand`` draws a seed when ``mirror`` is set or, in TRAIN, a
       ``crop_size`` is; that generator is replaced at step 3.
    2. ``DataLayerSetUp`` runs: ``own_draws`` are callables taking the stream, called in
       order (ImageData: a ``Caffe::RNG`` seed for ``shuffle``, then ``rand() % rand_skip``;
       WindowData: a ``Caffe::RNG`` seed for its sampler; Data: nothing).
    3. ``InitRand`` again: the transformer's generator used for every crop and mirror.
    4. ``InternalThread::StartInternalThread`` draws the prefetch thread's seed (always; the
       thread's own stream is not used by these layers afterwards).

    Fillers draw from the same stream in layer order (caffe_compat.layers.fillers: uniform, xavier and
    positive_unitball take Caffe's draws; gaussian and msra do not, see there). In a solver,
    Caffe seeds the stream once and builds the test nets after the train net, continuing it;
    so does this package (the thread's stream, :func:`thread_stream`)."""
    if transformer_needs_rand:
        rng.rand()
    results = [draw(rng) for draw in own_draws]
    transformer_rng = rng.child() if transformer_needs_rand else None
    rng.rand()
    return transformer_rng, results


# ------------------------------------------------------------------ the C library's rand()
class LibcRand:
    """glibc's ``rand()`` (``random(3)``'s default TYPE_3 generator, the C library of Caffe's
    Linux builds): 34 words from ``srand(seed)`` by ``r[i] = 16807 * r[i-1] mod (2**31 - 1)``
    (i < 31) and ``r[i] = r[i-31]`` (31 <= i < 34), then ``r[i] = r[i-31] + r[i-3] mod 2**32``;
    the first 310 of those are discarded and each ``rand()`` is the next ``r[i] >> 1``.
    The state is the last 34 words (JSON-able for a snapshot's sidecar)."""

    def __init__(self, seed=1):
        self.seed(seed)

    def seed(self, seed=1):
        """``srand(seed)`` (seed 0 is taken as 1, as glibc does)."""
        r = [int(seed) & _MASK or 1]
        for i in range(1, 31):
            hi, lo = divmod(r[i - 1], 127773)
            word = 16807 * lo - 2836 * hi          # 16807 * r mod (2**31 - 1), Schrage's way
            r.append(word + 2147483647 if word < 0 else word)
        r += r[:3]
        self._words = r
        self.draw(310)

    def draw(self, n):
        """The next ``n`` values of ``rand()`` (a list of ints in [0, 2**31))."""
        r = self._words
        k = len(r)
        r.extend([0] * n)
        for i in range(k, k + n):
            r[i] = (r[i - 31] + r[i - 3]) & _MASK
        out = [w >> 1 for w in r[k:]]
        del r[:len(r) - 34]
        return out

    def __call__(self):
        return self.draw(1)[0]

    def state(self):
        """The generator's state: its last 34 words."""
        return list(self._words)

    def set_state(self, words):
        """Continue from a :meth:`state` (34 words, each in [0, 2**32))."""
        words = list(words)
        if len(words) != 34 or not all(isinstance(w, int) and not isinstance(w, bool) and
                                       0 <= w <= _MASK for w in words):
            raise ValueError("the C library's rand() state is 34 integers in [0, 2**32)")
        self._words = words


# the process's rand(): every HDF5Data shuffle of the process draws from it, as in Caffe
LIBC_RAND = LibcRand()


def libc_shuffle(items, rand=None):
    """libstdc++'s ``std::random_shuffle(first, last)`` of the list ``items``, in place: for
    ``i`` from 1 to n - 1, element ``i`` swaps with element ``rand() % (i + 1)``; ``rand``
    defaults to the process's :data:`LIBC_RAND`."""
    n = len(items)
    if n < 2:
        return items
    picks = (np.asarray((rand or LIBC_RAND).draw(n - 1), dtype=np.int64)
             % np.arange(2, n + 1)).tolist()        # rand() % (i + 1), for every i at once
    for i, j in enumerate(picks, start=1):
        if i != j:
            items[i], items[j] = items[j], items[i]
    return items
