"""One process of pycaffe's multi-GPU program (Caffe's python/train.py), on CPU ranks:
``python nccl_program.py FOLDER RANK COUNT UID [held]``. Rank 0 snapshots at the end.

``held``: GPU mode on the device stand-in (``CAFFE_COMPAT_DEVICE_STANDIN=1`` in the
environment), the program holding a parameter's data and diff arrays through the training (the
exchange must see the diffs the device holds, not the host copies Python holds)."""
import os
import sys

import numpy as np

import caffe


def main(folder, rank, count, uid, held=False):
    os.chdir(folder)
    if held:
        caffe.set_mode_gpu()
    else:
        caffe.set_mode_cpu()
    caffe.set_solver_count(count)
    caffe.set_solver_rank(rank)
    caffe.set_multiprocess(True)
    solver = caffe.SGDSolver("solver.prototxt")
    nccl = caffe.NCCL(solver, uid)
    nccl.bcast()
    solver.add_callback(nccl)
    if solver.param.layer_wise_reduce:
        solver.net.after_backward(nccl)
    arrays = ()
    if held:
        first = next(iter(solver.net.params))
        arrays = solver.net.params[first][0].data, solver.net.params[first][0].diff
    solver.step(solver.param.max_iter)
    if held:             # the arrays held read what the parameter holds now
        assert np.array_equal(arrays[0], solver.net.params[first][0].data.copy())
        assert np.array_equal(arrays[1], solver.net.params[first][0].diff.copy())
    if rank == 0:
        solver.snapshot()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4],
         held=sys.argv[5:] == ["held"])
