"""The opcodes of the array engine's compiled training loop (``_tiny_solve.c``), by name, and
the base of its programs (:class:`LoopProgram`, which :mod:`caffe_compat.array_solver.loop`
extends). The numbers are the C file's enum."""
from __future__ import annotations

import weakref

import numpy as np

OPS = dict(ZERO=1, DATA=2, IP_FWD=3, SMLOSS_BWD=7, ADD=8, COPY=9, UPDATE=12, ADVANCE=13,
           ACCURACY=15, OUTPUT=16, ASMLOSS_FWD=24, ARELU_FWD=25, ARELU_BWD=26, AIP_BWD=27,
           ALOSS=28)


class LoopProgram:
    """The operations of one pass and the buffers they name: ``ptrs`` (addresses; the live
    ones, ``(index, getter, count)``, resolved again at each call), ``consts`` (float64
    constants), the HDF5 ``sources`` ``(source, batch)`` whose cursors ``advance`` ``(slot,
    batch)`` moves on at the end of an iteration, a test pass's ``outputs`` and what each
    layer's backward needs (``saved``). The solver is held weakly: it keeps its programs."""

    def __init__(self, solver):
        self.solver_ref = weakref.ref(solver)
        self.ops = []
        self.ptrs = []
        self.live = []
        self.consts = []
        self.sources = []
        self.advance = []
        self.outputs = []
        self.saved = {}

    def op(self, name, *args):
        self.ops.append(OPS[name])
        self.ops.extend(int(a) for a in args)

    def const(self, value):
        self.consts.append(float(value))
        return len(self.consts) - 1

    def live_ptr(self, getter, count):
        """A buffer read as it is at each call: ``getter()`` gives it (None: not there now),
        of at least ``count`` values."""
        self.ptrs.append(0)
        self.live.append((len(self.ptrs) - 1, getter, int(count)))
        return len(self.ptrs) - 1

    def hdf5_source(self, src):
        """An in-order HDF5 source read by the loop: its cursor's slot and batch size (the
        cursor moves on by one batch at the end of each iteration)."""
        slot = 2 * len(self.sources)
        self.sources.append((src, src.batch_size))
        self.advance.append((slot, src.batch_size))
        return slot, src.batch_size

    def hdf5_rows(self, src, k):
        """The live pointer to dataset ``k`` of the file ``src`` holds in memory (read within
        the source's row count, the loop's limit)."""
        def rows():
            held = src._in_memory
            return None if held is None else held[k]
        return self.live_ptr(rows, 0)

    def resolve(self, address):
        """The live buffers' addresses written into ``ptrs_array`` (``address(buffer)``: its
        address, None where the loop cannot take it): the buffers, to be held for the call,
        or None where one is not there or holds fewer values than the program reads."""
        held = []
        for index, getter, count in self.live:
            buf = getter()
            where = address(buf)
            if where is None or buf.size < count:
                return None
            self.ptrs_array[index] = where
            held.append(buf)
        return held

    def finish(self):
        """The cursors' moves appended and the program as the loop's arrays."""
        for slot, batch in self.advance:
            self.op("ADVANCE", slot, batch)
        self.ops_array = np.asarray(self.ops, dtype=np.int64)
        self.ptrs_array = np.asarray(self.ptrs, dtype=np.int64)
        self.consts_array = np.asarray(self.consts, dtype=np.float64)
        return self


def array_address(a):
    """The address of a float32 C-contiguous numpy array, or None."""
    if not isinstance(a, np.ndarray) or a.dtype != np.float32 or not a.flags.c_contiguous:
        return None
    return a.ctypes.data
