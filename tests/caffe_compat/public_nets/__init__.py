"""Public Caffe deploy nets, regenerated layer by layer (no public file is copied): the 24
BVLC-layer nets that OpenCV 4's Caffe importer runs, used to check the ONNX export against our
forward and against OpenCV 4's outputs (committed fixtures), and by benchmarks/bench_zoo.py.

``NETS[name]`` gives ``build`` (the prototxt text), ``outputs`` (the blobs compared: the
logits and the probabilities where there are both), ``source`` (where the public definition
lives) and ``quick`` (part of the default test suite: the nets that take a few seconds on a 2-core
machine). Differences from the public files:
batch 1; FCN-8s and colorization get smaller inputs (48 and 64 pixels); weights are seeded
random (``tests.caffe_compat.opencv_fixtures.nets.fill_weights``), except where a test loads
real ones.
"""
import hashlib

import numpy as np

from . import classic, dense, inception, mobile, resnet


def _spec(build, outputs, source, quick=False):
    return dict(build=build, outputs=outputs, source=source, quick=quick)


BVLC = "BVLC/caffe models/"
NETS = {
    "LeNet": _spec(classic.lenet, ["ip2", "prob"], "BVLC/caffe examples/mnist/lenet.prototxt",
                   quick=True),
    "CIFAR-10 quick (V0)": _spec(classic.cifar10_quick_v0, ["ip2", "prob"],
                                 "BVLC/caffe examples/cifar10 (the V0-format deploy of 2014)",
                                 quick=True),
    "CIFAR-10 full": _spec(classic.cifar10_full, ["ip1", "prob"],
                           "BVLC/caffe examples/cifar10/cifar10_full.prototxt", quick=True),
    "AlexNet": _spec(classic.alexnet, ["fc8", "prob"], BVLC + "bvlc_alexnet"),
    "CaffeNet (V1)": _spec(classic.caffenet_v1, ["fc8", "prob"],
                           BVLC + "bvlc_reference_caffenet (V1-format deploy)"),
    "R-CNN ILSVRC13": _spec(classic.rcnn_ilsvrc13, ["fc-rcnn"],
                            BVLC + "bvlc_reference_rcnn_ilsvrc13"),
    "AgeNet": _spec(classic.age_net, ["fc8", "prob"],
                    "GilLevi/AgeGenderDeepLearning (OpenCV's age/gender sample)"),
    "NIN ImageNet": _spec(classic.nin_imagenet, ["pool4", "prob"],
                          "Caffe model zoo: Network in Network (ImageNet)"),
    "VGG16": _spec(classic.vgg16, ["fc8", "prob"], "Caffe model zoo: VGG_ILSVRC_16_layers"),
    "VGG19": _spec(classic.vgg19, ["fc8", "prob"], "Caffe model zoo: VGG_ILSVRC_19_layers"),
    "GoogLeNet": _spec(inception.googlenet, ["loss3/classifier", "prob"],
                       BVLC + "bvlc_googlenet"),
    "Inception-BN 21k": _spec(inception.inception_bn_21k, ["fc1", "softmax"],
                              "pertusa/InceptionBN-21K-for-Caffe"),
    "Inception-v3": _spec(inception.inception_v3, ["softmax_logits", "softmax"],
                          "Caffe ports of TensorFlow's Inception-v3 (e.g. soeaver/caffe-model)"),
    "ResNet-50": _spec(resnet.resnet50, ["fc1000", "prob"],
                       "KaimingHe/deep-residual-networks"),
    "ResNet-101": _spec(resnet.resnet101, ["fc1000", "prob"],
                        "KaimingHe/deep-residual-networks"),
    "ResNet-152": _spec(resnet.resnet152, ["fc1000", "prob"],
                        "KaimingHe/deep-residual-networks"),
    "open_nsfw": _spec(resnet.open_nsfw, ["fc_nsfw", "prob"], "yahoo/open_nsfw"),
    "DenseNet-121": _spec(resnet.densenet121, ["fc6"], "shicai/DenseNet-Caffe"),
    "SqueezeNet 1.0": _spec(mobile.squeezenet10, ["pool10", "prob"], "forresti/SqueezeNet"),
    "SqueezeNet 1.1": _spec(mobile.squeezenet11, ["pool10", "prob"], "forresti/SqueezeNet",
                            quick=True),
    "MobileNet v1": _spec(mobile.mobilenet_v1, ["fc7", "prob"], "shicai/MobileNet-Caffe"),
    "MobileNet v2": _spec(mobile.mobilenet_v2, ["fc7", "prob"], "shicai/MobileNet-Caffe"),
    "FCN-8s": _spec(dense.fcn8s, ["score"], "shelhamer/fcn.berkeleyvision.org voc-fcn8s"),
    "Colorization": _spec(dense.colorization, ["class8_ab"],
                          "richzhang/colorization colorization_deploy_v2 (OpenCV's sample)"),
}


def slug(name):
    """File name stem of a net: lower case, runs of other characters as one underscore."""
    out = "".join(c if c.isalnum() else "_" for c in name.lower())
    while "__" in out:
        out = out.replace("__", "_")
    return out.strip("_")


def input_digest(inputs):
    """sha256 of the input arrays (by blob name), as the fixtures store it."""
    h = hashlib.sha256()
    for k in sorted(inputs):
        h.update(np.ascontiguousarray(inputs[k]).tobytes())
    return h.hexdigest()


def seed_of(name):
    """A fixed seed per net (from its name, so adding nets does not change the others)."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % (2 ** 31)


def build(name):
    """(net, weights sha256) with the net's seeded weights."""
    from caffe_compat import Net
    from tests.caffe_compat.opencv_fixtures.nets import fill_weights
    net = Net(NETS[name]["build"](), phase="test")
    return net, fill_weights(net, seed_of(name))


def net_input(net, name, batch=1):
    """Seeded uniform [-1, 1) inputs for the net's input blobs, ``batch`` items."""
    rng = np.random.RandomState(seed_of(name) + 1)
    out = {}
    for b in net.inputs:
        shape = (batch,) + tuple(net.blob_shape(b))[1:]
        out[b] = rng.uniform(-1, 1, shape).astype(np.float32)
    return out
