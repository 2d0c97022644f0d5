"""Caffe's SGD solver on the array engine: pycaffe's ``solve()`` / ``step()`` without torch.

A solver whose nets the array engine runs (:mod:`caffe_compat.array_net`, data layers
included: HDF5Data in file order, LMDB / LevelDB Data) and whose rules this package follows
(Caffe's SGD with L2 or no weight decay, no gradient clipping, binary snapshots) trains on
the nets' numpy arrays: Caffe's Solver::Step, Test, Solve, Snapshot and Restore
(:mod:`.solver`, :mod:`.state`), the update in one C call per iteration
(``kernels/_sgd_update.c``, the fused form: OpenBLAS's saxpy and saxpby are fused
multiply-adds on processors with FMA). :func:`build_array_solver` returns None for anything
else, having drawn nothing from Caffe's random stream, and the torch engine's solver
(:mod:`caffe_compat.solvers`) runs it with its own checks and messages.
"""
from .solver import ArraySolver, build_array_solver

__all__ = ["ArraySolver", "build_array_solver"]
