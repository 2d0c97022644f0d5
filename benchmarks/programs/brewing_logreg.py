"""Caffe's "Brewing Logistic Regression then Going Deeper" notebook as a script: a logistic
regression and a net with a 40-unit hidden layer, each trained by ``solver.solve()`` for
10,000 iterations (HDF5Data batch 10, a 250-batch test pass every 1,000 iterations), then
scored over the test set from Python.

Source: BVLC/caffe examples/brewing-logreg.ipynb (commit 9b891540, git blob 0f87185a), code
cells 9, 11, 13, 17 and 18 as the notebook runs them (cells 1-7: imports, the data and the
HDF5 files, are the setup step; the sklearn baseline, the plots, the ``caffe train`` shell
cells and the clean-up are left out). BSD 2-Clause licence, Copyright (c) 2014-2017 The
Regents of the University of California (Regents) and the contributors
(tests/pycaffe/public_programs/sources/bvlc_caffe/LICENSE).

Data: ``sklearn.datasets.make_classification(n_samples=10000, n_features=4, n_redundant=0,
n_informative=2, n_clusters_per_class=2, hypercube=False, random_state=0)`` split 3:1 as the
notebook does when scikit-learn is installed; else a seeded stand-in of the same shape (two
informative features from two Gaussian clusters per class, two noise features). The train
file is plain HDF5 listed twice, the test file gzip-compressed, as in the notebook.
"""
import os
import sys


def setup(workdir):
    """Write examples/hdf5_classification/data/{train,test}.h5 and their list files."""
    import h5py
    import numpy as np
    try:
        import sklearn.datasets
        import sklearn.model_selection
        X, y = sklearn.datasets.make_classification(
            n_samples=10000, n_features=4, n_redundant=0, n_informative=2,
            n_clusters_per_class=2, hypercube=False, random_state=0)
        X, Xt, y, yt = sklearn.model_selection.train_test_split(X, y, random_state=0)
    except ImportError:
        rng = np.random.RandomState(0)
        y_all = rng.randint(0, 2, 10000)
        centres = rng.randn(2, 2, 2) * 1.5
        cluster = rng.randint(0, 2, 10000)
        informative = centres[y_all, cluster] + rng.randn(10000, 2)
        X_all = np.concatenate([informative, rng.randn(10000, 2)], axis=1)
        X, Xt, y, yt = X_all[:7500], X_all[7500:], y_all[:7500], y_all[7500:]
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    dirname = os.path.abspath("./examples/hdf5_classification/data")
    os.makedirs(dirname, exist_ok=True)
    train_filename = os.path.join(dirname, "train.h5")
    test_filename = os.path.join(dirname, "test.h5")
    with h5py.File(train_filename, "w") as f:
        f["data"] = X
        f["label"] = y.astype(np.float32)
    with open(os.path.join(dirname, "train.txt"), "w") as f:
        f.write(train_filename + "\n")
        f.write(train_filename + "\n")
    comp_kwargs = {"compression": "gzip", "compression_opts": 1}
    with h5py.File(test_filename, "w") as f:
        f.create_dataset("data", data=Xt, **comp_kwargs)
        f.create_dataset("label", data=yt.astype(np.float32), **comp_kwargs)
    with open(os.path.join(dirname, "test.txt"), "w") as f:
        f.write(test_filename + "\n")
    np.save(os.path.join(dirname, "Xt.npy"), Xt)


def main():
    import numpy as np
    import caffe
    from caffe import layers as L
    from caffe import params as P  # noqa: F401  (the notebook imports it)
    from caffe.proto import caffe_pb2

    Xt = np.load("examples/hdf5_classification/data/Xt.npy")

    def logreg(hdf5, batch_size):
        n = caffe.NetSpec()
        n.data, n.label = L.HDF5Data(batch_size=batch_size, source=hdf5, ntop=2)
        n.ip1 = L.InnerProduct(n.data, num_output=2, weight_filler=dict(type='xavier'))
        n.accuracy = L.Accuracy(n.ip1, n.label)
        n.loss = L.SoftmaxWithLoss(n.ip1, n.label)
        return n.to_proto()

    train_net_path = 'examples/hdf5_classification/logreg_auto_train.prototxt'
    with open(train_net_path, 'w') as f:
        f.write(str(logreg('examples/hdf5_classification/data/train.txt', 10)))
    test_net_path = 'examples/hdf5_classification/logreg_auto_test.prototxt'
    with open(test_net_path, 'w') as f:
        f.write(str(logreg('examples/hdf5_classification/data/test.txt', 10)))

    def solver(train_net_path, test_net_path):
        s = caffe_pb2.SolverParameter()
        s.train_net = train_net_path
        s.test_net.append(test_net_path)
        s.test_interval = 1000
        s.test_iter.append(250)
        s.max_iter = 10000
        s.base_lr = 0.01
        s.lr_policy = 'step'
        s.gamma = 0.1
        s.stepsize = 5000
        s.momentum = 0.9
        s.weight_decay = 5e-4
        s.display = 1000
        s.snapshot = 10000
        s.snapshot_prefix = 'examples/hdf5_classification/data/train'
        s.solver_mode = caffe_pb2.SolverParameter.CPU
        return s

    solver_path = 'examples/hdf5_classification/logreg_solver.prototxt'
    with open(solver_path, 'w') as f:
        f.write(str(solver(train_net_path, test_net_path)))

    def train_and_score(solver_path):
        caffe.set_mode_cpu()
        solver = caffe.get_solver(solver_path)
        solver.solve()
        accuracy = 0
        batch_size = solver.test_nets[0].blobs['data'].num
        test_iters = int(len(Xt) / batch_size)
        for i in range(test_iters):
            solver.test_nets[0].forward()
            accuracy += solver.test_nets[0].blobs['accuracy'].data
        accuracy /= test_iters
        print("Accuracy: {:.3f}".format(accuracy))

    train_and_score(solver_path)

    def nonlinear_net(hdf5, batch_size):
        n = caffe.NetSpec()
        n.data, n.label = L.HDF5Data(batch_size=batch_size, source=hdf5, ntop=2)
        n.ip1 = L.InnerProduct(n.data, num_output=40, weight_filler=dict(type='xavier'))
        n.relu1 = L.ReLU(n.ip1, in_place=True)
        n.ip2 = L.InnerProduct(n.ip1, num_output=2, weight_filler=dict(type='xavier'))
        n.accuracy = L.Accuracy(n.ip2, n.label)
        n.loss = L.SoftmaxWithLoss(n.ip2, n.label)
        return n.to_proto()

    train_net_path = 'examples/hdf5_classification/nonlinear_auto_train.prototxt'
    with open(train_net_path, 'w') as f:
        f.write(str(nonlinear_net('examples/hdf5_classification/data/train.txt', 10)))
    test_net_path = 'examples/hdf5_classification/nonlinear_auto_test.prototxt'
    with open(test_net_path, 'w') as f:
        f.write(str(nonlinear_net('examples/hdf5_classification/data/test.txt', 10)))
    solver_path = 'examples/hdf5_classification/nonlinear_logreg_solver.prototxt'
    with open(solver_path, 'w') as f:
        f.write(str(solver(train_net_path, test_net_path)))
    train_and_score(solver_path)


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"]:
        setup(sys.argv[2])
    else:
        main()
