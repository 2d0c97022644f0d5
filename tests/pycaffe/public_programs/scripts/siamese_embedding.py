"""A learned 2-D embedding of MNIST digits, in the style of a teaching notebook, run from
``examples/siamese``: the siamese network's feature branch (``mnist_siamese.prototxt``, its
weights from ``mnist_siamese_iter_50000.caffemodel``) maps the 10,000 test digits, read from
MNIST's idx files (big-endian header, then raw bytes) and scaled to [0, 1) by 1/256, to two
numbers each through ``net.forward_all``; a scatter plot per digit class goes to a PNG file.

Its state after the run (``features``, ``digit_labels``) is what the harness compares.
"""
import matplotlib.pyplot as plt
import numpy as np

import caffe

IMAGES = "../../data/mnist/t10k-images-idx3-ubyte"
LABELS = "../../data/mnist/t10k-labels-idx1-ubyte"


def read_idx(path, magic):
    """The array stored in an idx file: a big-endian int32 magic number, one int32 per
    dimension (the magic's low byte counts them), then unsigned bytes."""
    with open(path, "rb") as f:
        raw = f.read()
    found = int(np.frombuffer(raw[:4], ">i4")[0])
    if found != magic:
        raise ValueError(f"{path}: magic number {found}, expected {magic}")
    rank = magic & 0xFF
    shape = tuple(int(d) for d in np.frombuffer(raw[4:4 + 4 * rank], ">i4"))
    return np.frombuffer(raw[4 + 4 * rank:], np.uint8).reshape(shape)


caffe.set_mode_cpu()
net = caffe.Net("mnist_siamese.prototxt", caffe.TEST,
                weights="mnist_siamese_iter_50000.caffemodel")
digits = read_idx(IMAGES, 2051)
digit_labels = read_idx(LABELS, 2049)
print("read", digits.shape[0], "digits of", digits.shape[1:], "and", digit_labels.shape[0],
      "labels")

features = net.forward_all(data=digits[:, None].astype(np.float32) / 256.0)["feat"]
print("features", features.shape)

figure = plt.figure(figsize=(8, 6))
colours = plt.cm.tab10(np.arange(10))
for digit in range(10):
    chosen = features[digit_labels == digit]
    plt.plot(chosen[:, 0], chosen[:, 1], ".", color=colours[digit], label=str(digit))
plt.legend()
plt.grid(True)
figure.savefig("siamese_features.png")
plt.close("all")
