"""CPU time per iteration of the brewing_logreg program's logistic regression through pycaffe's
``solver.solve()`` (HDF5Data batch 10 -> InnerProduct 2 -> Accuracy + SoftmaxWithLoss, that
program's solver settings), test passes included: a 250-batch pass every 1,000 iterations.

    python benchmarks/bench_pycaffe_solve.py [--iterations 3000] [--workdir DIR]

The data are the brewing_logreg program's (benchmarks/programs/brewing_logreg.py, its seeded
setup); the process CPU time of ``solve()`` (user + system, all threads) is printed per
iteration with the wall time; run it with another checkout first on PYTHONPATH for a before
figure (alternate the two on a shared machine).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=3000)
    ap.add_argument("--workdir", help="the data's folder (default: a temporary one)")
    args = ap.parse_args(argv)
    root = args.workdir or tempfile.mkdtemp(prefix="bench_pycaffe_solve_")
    try:
        if not os.path.exists(os.path.join(root, "examples", "hdf5_classification", "data",
                                           "test.txt")):
            subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "programs",
                                                         "brewing_logreg.py"), "setup", root],
                           check=True)
        os.chdir(root)
        import caffe
        from caffe.proto import caffe_pb2
        from caffe import layers as L
        for name, source in (("train", "train.txt"), ("test", "test.txt")):
            spec = caffe.NetSpec()
            spec.data, spec.label = L.HDF5Data(source=os.path.join(
                "examples", "hdf5_classification", "data", source), batch_size=10, ntop=2)
            spec.score = L.InnerProduct(spec.data, num_output=2,
                                        weight_filler=dict(type="xavier"))
            spec.accuracy = L.Accuracy(spec.score, spec.label)
            spec.loss = L.SoftmaxWithLoss(spec.score, spec.label)
            with open(f"bench_{name}.prototxt", "w") as f:
                f.write(str(spec.to_proto()))
        s = caffe_pb2.SolverParameter(train_net="bench_train.prototxt",
                                      test_net=["bench_test.prototxt"], test_interval=1000,
                                      test_iter=[250], max_iter=args.iterations, base_lr=0.01,
                                      lr_policy="step", gamma=0.1, stepsize=5000,
                                      momentum=0.9, weight_decay=5e-4, display=1000,
                                      snapshot_after_train=False)
        with open("bench_solver.prototxt", "w") as f:
            f.write(str(s))
        caffe.set_mode_cpu()
        solver = caffe.get_solver("bench_solver.prototxt")
        cpu, wall = time.process_time(), time.perf_counter()
        solver.solve()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        tests = args.iterations // 1000 + 1
        print(f"solve(): {args.iterations} iterations and {tests} test passes of 250 batches: "
              f"{cpu / args.iterations * 1e3:.3f} ms CPU, {wall / args.iterations * 1e3:.3f} "
              f"ms wall per iteration ({caffe.__file__})")
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
