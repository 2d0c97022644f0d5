"""Two classifiers of 4-feature vectors trained from Python with pycaffe: a logistic regression
(one InnerProduct) and a net with one hidden layer of 40 ReLU units. Each is written with
``caffe.NetSpec`` over ``HDF5Data`` (batch 10), given a ``SolverParameter`` built in Python (SGD,
step policy, 10,000 iterations, a 250-batch test every 1,000), trained by ``solver.solve()``
and then scored over the whole test set by stepping the test net from Python: the work of
Caffe's HDF5 classification example.

Part of this project's benchmark suite, under the project's licence (Apache-2.0, LICENSE at
the root).

Data (``setup``): 10,000 points with 2 informative and 2 noise features, two clusters per
class, split 7,500 / 2,500 (``sklearn.datasets.make_classification`` when scikit-learn is
installed, else a seeded draw of the same kind). The training file is plain HDF5 and its list
names it twice; the test file is gzip-compressed: the Data reader meets both forms.
"""
import os
import sys

FOLDER = os.path.join("examples", "hdf5_classification")
BATCH = 10
ITERATIONS = 10000
TEST_EVERY, TEST_BATCHES = 1000, 250


def _points():
    """(train X, train y, test X, test y): float64 features, integer labels."""
    import numpy as np
    try:
        from sklearn.datasets import make_classification
        from sklearn.model_selection import train_test_split
    except ImportError:
        rng = np.random.default_rng(7)
        y = rng.integers(0, 2, 10000)
        centre = rng.normal(0, 1.5, (2, 2, 2))[y, rng.integers(0, 2, 10000)]
        x = np.hstack([centre + rng.normal(size=(10000, 2)), rng.normal(size=(10000, 2))])
        return x[:7500], y[:7500], x[7500:], y[7500:]
    x, y = make_classification(n_samples=10000, n_features=4, n_informative=2, n_redundant=0,
                               n_clusters_per_class=2, hypercube=False, random_state=0)
    x_train, x_test, y_train, y_test = train_test_split(x, y, random_state=0)
    return x_train, y_train, x_test, y_test


def setup(workdir):
    """The HDF5 files, their list files and the test features as .npy under FOLDER/data."""
    import h5py
    import numpy as np
    data = os.path.join(os.path.abspath(workdir), FOLDER, "data")
    os.makedirs(data, exist_ok=True)
    x_train, y_train, x_test, y_test = _points()
    train, test = os.path.join(data, "train.h5"), os.path.join(data, "test.h5")
    with h5py.File(train, "w") as f:
        f.create_dataset("data", data=x_train)
        f.create_dataset("label", data=y_train.astype(np.float32))
    with h5py.File(test, "w") as f:
        for name, values in (("data", x_test), ("label", y_test.astype(np.float32))):
            f.create_dataset(name, data=values, compression="gzip", compression_opts=1)
    with open(os.path.join(data, "train.txt"), "w") as f:
        f.write(f"{train}\n{train}\n")
    with open(os.path.join(data, "test.txt"), "w") as f:
        f.write(f"{test}\n")
    np.save(os.path.join(data, "test_x.npy"), x_test)


def main():
    import numpy as np
    import caffe
    from caffe import layers as L
    from caffe.proto import caffe_pb2

    caffe.set_mode_cpu()
    data = os.path.join(FOLDER, "data")
    test_points = len(np.load(os.path.join(data, "test_x.npy")))

    def classifier(list_file, hidden):
        """Scores of 2 classes from the features, through ``hidden`` ReLU units if any."""
        spec = caffe.NetSpec()
        spec.data, spec.label = L.HDF5Data(source=list_file, batch_size=BATCH, ntop=2)
        top = spec.data
        if hidden:
            spec.hidden = L.InnerProduct(top, num_output=hidden,
                                         weight_filler=dict(type="xavier"))
            spec.hidden_relu = L.ReLU(spec.hidden, in_place=True)
            top = spec.hidden
        spec.score = L.InnerProduct(top, num_output=2, weight_filler=dict(type="xavier"))
        spec.accuracy = L.Accuracy(spec.score, spec.label)
        spec.loss = L.SoftmaxWithLoss(spec.score, spec.label)
        return spec.to_proto()

    def write(path, message):
        with open(path, "w") as f:
            f.write(str(message))
        return path

    def solver_for(name, hidden):
        nets = [write(os.path.join(FOLDER, f"{name}_{phase}.prototxt"),
                      classifier(os.path.join(data, f"{phase}.txt"), hidden))
                for phase in ("train", "test")]
        param = caffe_pb2.SolverParameter()
        param.train_net = nets[0]
        param.test_net.append(nets[1])
        param.test_iter.append(TEST_BATCHES)
        param.test_interval = TEST_EVERY
        param.max_iter = ITERATIONS
        param.base_lr, param.momentum, param.weight_decay = 0.01, 0.9, 5e-4
        param.lr_policy, param.gamma, param.stepsize = "step", 0.1, ITERATIONS // 2
        param.display = TEST_EVERY
        param.snapshot = ITERATIONS
        param.snapshot_prefix = os.path.join(data, name)
        param.solver_mode = caffe_pb2.SolverParameter.CPU
        return write(os.path.join(FOLDER, f"{name}_solver.prototxt"), param)

    for name, hidden in (("logistic", 0), ("hidden40", 40)):
        solver = caffe.get_solver(solver_for(name, hidden))
        solver.solve()
        test_net = solver.test_nets[0]
        batches = test_points // test_net.blobs["data"].num
        hits = 0.0
        for _ in range(batches):
            test_net.forward()
            hits += float(test_net.blobs["accuracy"].data)
        print(f"{name}: accuracy {hits / batches:.3f} over {batches} test batches")


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"]:
        setup(sys.argv[2])
    else:
        main()
