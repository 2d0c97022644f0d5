"""NetSpec programs written the way pycaffe users write them (a CaffeNet-style train/val and
deploy pair with LMDB data layers, a LeNet, an FCN-style head with coord_map.crop, nets with
zero-top and multi-top layers, include rules, weight sharing and loss weights).

Each ``PROGRAMS`` entry returns prototxt text (``str(net_param)``). They run unchanged under
real pycaffe (make_pycaffe_fixtures.py writes their text to fixtures/netspec/) and under this
project's ``caffe`` package (test_net_spec.py compares the bytes).
"""
import caffe
from caffe import layers as L
from caffe import params as P


# CaffeNet's layers as data: (kind, settings) in order; "conv" and "fc" are followed by an
# in-place ReLU, "drop" is in place
_LEARNING = [dict(lr_mult=1, decay_mult=1), dict(lr_mult=2, decay_mult=0)]
_LRN = dict(local_size=5, alpha=1e-4, beta=0.75)
_POOL = dict(pool=P.Pooling.MAX, kernel_size=3, stride=2)
_CAFFENET = [
    ("conv", dict(kernel_size=11, num_output=96, stride=4)), ("pool", _POOL), ("lrn", _LRN),
    ("conv", dict(kernel_size=5, num_output=256, pad=2, group=2)), ("pool", _POOL),
    ("lrn", _LRN),
    ("conv", dict(kernel_size=3, num_output=384, pad=1)),
    ("conv", dict(kernel_size=3, num_output=384, pad=1, group=2)),
    ("conv", dict(kernel_size=3, num_output=256, pad=1, group=2)), ("pool", _POOL),
    ("fc", 4096), ("drop", dict(dropout_ratio=0.5)), ("fc", 4096), ("drop", {}),
]


def _add(top, kind, settings):
    """One stage of :data:`_CAFFENET` on ``top``; returns the stage's output top."""
    if kind == "conv":
        geometry = dict(stride=1, pad=0, group=1)
        geometry.update(settings)
        top = L.Convolution(top, param=_LEARNING,
                            weight_filler=dict(type="gaussian", std=0.01),
                            bias_filler=dict(type="constant", value=0.1), **geometry)
        return L.ReLU(top, in_place=True)
    if kind == "fc":
        top = L.InnerProduct(top, num_output=settings,
                             weight_filler=dict(type="gaussian", std=0.005),
                             bias_filler=dict(type="constant", value=1))
        return L.ReLU(top, in_place=True)
    if kind == "drop":
        return L.Dropout(top, in_place=True, **settings)
    return (L.Pooling if kind == "pool" else L.LRN)(top, **settings)


def caffenet(lmdb, batch_size=256, include_acc=False, deploy=False):
    """AlexNet/CaffeNet from an LMDB (train/val) or for deployment (Input)."""
    if deploy:
        top, label = L.Input(shape=dict(dim=[10, 3, 227, 227])), None
    else:
        crop = dict(crop_size=227, mean_value=[104, 117, 123], mirror=True)
        top, label = L.Data(source=lmdb, backend=P.Data.LMDB, batch_size=batch_size, ntop=2,
                            transform_param=crop)
    for kind, settings in _CAFFENET:
        top = _add(top, kind, settings)
    scores = L.InnerProduct(top, num_output=1000)
    if deploy:
        return str(L.Softmax(scores).to_proto())
    heads = [L.SoftmaxWithLoss(scores, label)]
    if include_acc:
        heads.append(L.Accuracy(scores, label))
    return str(caffe.to_proto(*heads))


def caffenet_train():
    return caffenet("ilsvrc12_train_lmdb")


def caffenet_val():
    return caffenet("ilsvrc12_val_lmdb", batch_size=50, include_acc=True)


def caffenet_deploy():
    return caffenet(None, deploy=True)


def lenet(batch_size=64):
    n = caffe.NetSpec()
    n.data, n.label = L.Data(batch_size=batch_size, backend=P.Data.LMDB,
                             source="mnist_train_lmdb", transform_param=dict(scale=1. / 255),
                             ntop=2)
    xavier = dict(type="xavier")
    top = n.data
    for k, width in enumerate((20, 50), start=1):      # two 5x5 convolutions, 2x2 max pooling
        conv = L.Convolution(top, kernel_size=5, num_output=width, weight_filler=xavier)
        setattr(n, f"conv{k}", conv)
        top = L.Pooling(conv, kernel_size=2, stride=2, pool=P.Pooling.MAX)
        setattr(n, f"pool{k}", top)
    n.fc1 = L.InnerProduct(top, num_output=500, weight_filler=xavier)
    n.relu1 = L.ReLU(n.fc1, in_place=True)
    n.score = L.InnerProduct(n.relu1, num_output=10, weight_filler=xavier)
    n.loss = L.SoftmaxWithLoss(n.score, n.label)
    return "name: \"LeNet\"\n" + str(n.to_proto())


def fcn_head():
    """An FCN-style head: a deconvolution upsamples scores and coord_map.crop aligns them."""
    from caffe.coord_map import crop
    n = caffe.NetSpec()
    n.data = L.Input(shape=[dict(dim=[1, 3, 64, 64])])
    n.conv1 = L.Convolution(n.data, kernel_size=3, pad=100, num_output=8)
    n.relu1 = L.ReLU(n.conv1, in_place=True)
    n.pool1 = L.Pooling(n.relu1, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n.score = L.Convolution(n.pool1, kernel_size=1, num_output=5)
    n.upscore = L.Deconvolution(n.score, convolution_param=dict(
        num_output=5, kernel_size=4, stride=2, bias_term=False), param=[dict(lr_mult=0)])
    n.crop = crop(n.upscore, n.data)
    n.loss = L.SoftmaxWithLoss(n.crop, L.Input(shape=[dict(dim=[1, 1, 64, 64])]),
                               loss_param=dict(normalize=False, ignore_label=255))
    return str(n.to_proto())


def assorted():
    """Zero-top and multi-top layers, include rules, shared weights, loss weights, HDF5
    and Python layers, and floats that need care in print."""
    n = caffe.NetSpec()
    n.data, n.label = L.HDF5Data(source="train_h5_list.txt", batch_size=32, ntop=2,
                                 include=dict(phase=caffe.TRAIN))
    n.a, n.b = L.Slice(n.data, slice_param=dict(axis=1, slice_point=[1]), ntop=2)
    n.fa = L.InnerProduct(n.a, num_output=3, param=[dict(name="shared_w"), dict(name="shared_b")])
    n.fb = L.InnerProduct(n.b, num_output=3, param=[dict(name="shared_w"), dict(name="shared_b")])
    n.dist = L.Eltwise(n.fa, n.fb, operation=P.Eltwise.SUM, coeff=[1, -1])
    n.py = L.Python(n.dist, module="my_layers", layer="Scaler", param_str="{'k': 0.3}")
    n.loss = L.EuclideanLoss(n.py, n.label, loss_weight=0.7)
    n.silence = L.Silence(n.a, ntop=0)
    n.lr = L.Power(n.fa, power=2.5, scale=0.1, shift=-1e-7)
    return str(n.to_proto())


def anonymous():
    """A net built without a NetSpec: every name is generated."""
    data, label = L.DummyData(shape=[dict(dim=[4, 2, 3, 3]), dict(dim=[4])], ntop=2)
    conv = L.Convolution(data, kernel_size=[2, 3], num_output=4, stride=1)
    pool = L.Pooling(conv, pool=P.Pooling.AVE, global_pooling=True)
    ip = L.InnerProduct(pool, num_output=2)
    return str(L.SoftmaxWithLoss(ip, label).to_proto())


PROGRAMS = {"caffenet_train": caffenet_train, "caffenet_val": caffenet_val,
            "caffenet_deploy": caffenet_deploy, "lenet": lenet, "fcn_head": fcn_head,
            "assorted": assorted, "anonymous": anonymous}
