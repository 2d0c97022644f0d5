"""One process of pycaffe's multi-GPU program (Caffe's python/train.py), on CPU ranks:
``python nccl_program.py FOLDER RANK COUNT UID``. Rank 0 snapshots at the end."""
import os
import sys

import caffe


def main(folder, rank, count, uid):
    os.chdir(folder)
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
    solver.step(solver.param.max_iter)
    if rank == 0:
        solver.snapshot()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
