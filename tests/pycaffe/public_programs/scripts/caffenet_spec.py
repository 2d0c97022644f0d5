"""Write CaffeNet's training and test definitions with pycaffe's net specification: layers
made with ``caffe.layers`` (``L``), enumerations from ``caffe.params`` (``P``). The training
net is written with ``caffe.to_proto`` from its loss alone, so every layer takes the automatic
name (type and running count); the test net goes through a ``caffe.NetSpec`` whose attribute
names become the layer and top names.

    python caffenet_spec.py [OUT_DIR]      # writes caffenet_train.prototxt, caffenet_test.prototxt

The layer settings are CaffeNet's published ones (AlexNet's five convolutions, two of them
grouped, three pooling stages, two local response normalisations, three fully connected layers).
"""
import os
import sys

import caffe
from caffe import layers as L, params as P

# CaffeNet after its data layer: (name, kind, settings); a ReLU follows every conv and fc
STAGES = (
    ("conv1", "conv", dict(num_output=96, kernel_size=11, stride=4)),
    ("pool1", "pool", {}),
    ("norm1", "lrn", {}),
    ("conv2", "conv", dict(num_output=256, kernel_size=5, pad=2, group=2)),
    ("pool2", "pool", {}),
    ("norm2", "lrn", {}),
    ("conv3", "conv", dict(num_output=384, kernel_size=3, pad=1)),
    ("conv4", "conv", dict(num_output=384, kernel_size=3, pad=1, group=2)),
    ("conv5", "conv", dict(num_output=256, kernel_size=3, pad=1, group=2)),
    ("pool5", "pool", {}),
    ("fc6", "fc", dict(num_output=4096)),
    ("drop6", "dropout", {}),
    ("fc7", "fc", dict(num_output=4096)),
    ("drop7", "dropout", {}),
)
CLASSES = 1000
MEAN_BGR = [104, 117, 123]


def layer_for(kind, bottom, settings):
    """One top of the given kind over ``bottom``."""
    if kind == "conv":
        return L.Convolution(bottom, **settings)
    if kind == "fc":
        return L.InnerProduct(bottom, **settings)
    if kind == "pool":
        return L.Pooling(bottom, pool=P.Pooling.MAX, kernel_size=3, stride=2)
    if kind == "lrn":
        return L.LRN(bottom, local_size=5, alpha=1e-4, beta=0.75)
    if kind == "dropout":
        return L.Dropout(bottom, dropout_ratio=0.5, in_place=True)
    raise ValueError(f"unknown stage kind {kind!r}")


def build_caffenet(source, batch_size, training):
    """{name: top} of CaffeNet reading the LMDB ``source``, in creation order."""
    tops = {}
    crop = dict(crop_size=227, mean_value=MEAN_BGR, mirror=training)
    tops["data"], tops["label"] = L.Data(source=source, backend=P.Data.LMDB,
                                         batch_size=batch_size, ntop=2, transform_param=crop)
    current = tops["data"]
    for name, kind, settings in STAGES:
        current = tops[name] = layer_for(kind, current, settings)
        if kind in ("conv", "fc"):
            current = tops["relu" + name[-1]] = L.ReLU(current, in_place=True)
    tops["fc8"] = L.InnerProduct(current, num_output=CLASSES)
    tops["loss"] = L.SoftmaxWithLoss(tops["fc8"], tops["label"])
    if not training:
        tops["accuracy"] = L.Accuracy(tops["fc8"], tops["label"],
                                      include=dict(phase=caffe.TEST))
    return tops


def training_net(source):
    return caffe.to_proto(build_caffenet(source, 256, training=True)["loss"])


def test_net(source):
    spec = caffe.NetSpec()
    for name, top in build_caffenet(source, 50, training=False).items():
        setattr(spec, name, top)
    return spec.to_proto()


def main(argv):
    out_dir = argv[0] if argv else "."
    for file_name, proto in (("caffenet_train.prototxt", training_net("ilsvrc12_train_lmdb")),
                             ("caffenet_test.prototxt", test_net("ilsvrc12_val_lmdb"))):
        path = os.path.join(out_dir, file_name)
        with open(path, "w") as f:
            f.write(str(proto))
        print(f"{path}: {len(proto.layer)} layers, the last {proto.layer[-1].name!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
