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


def _conv_relu(bottom, ks, nout, stride=1, pad=0, group=1):
    conv = L.Convolution(bottom, kernel_size=ks, stride=stride, num_output=nout, pad=pad,
                         group=group, param=[dict(lr_mult=1, decay_mult=1),
                                             dict(lr_mult=2, decay_mult=0)],
                         weight_filler=dict(type="gaussian", std=0.01),
                         bias_filler=dict(type="constant", value=0.1))
    return conv, L.ReLU(conv, in_place=True)


def _fc_relu(bottom, nout):
    fc = L.InnerProduct(bottom, num_output=nout, weight_filler=dict(type="gaussian", std=0.005),
                        bias_filler=dict(type="constant", value=1))
    return fc, L.ReLU(fc, in_place=True)


def caffenet(lmdb, batch_size=256, include_acc=False, deploy=False):
    """AlexNet/CaffeNet from an LMDB (train/val) or for deployment (Input)."""
    if deploy:
        data = L.Input(shape=dict(dim=[10, 3, 227, 227]))
        label = None
    else:
        data, label = L.Data(source=lmdb, backend=P.Data.LMDB, batch_size=batch_size, ntop=2,
                             transform_param=dict(crop_size=227, mean_value=[104, 117, 123],
                                                  mirror=True))
    conv1, relu1 = _conv_relu(data, 11, 96, stride=4)
    pool1 = L.Pooling(relu1, pool=P.Pooling.MAX, kernel_size=3, stride=2)
    norm1 = L.LRN(pool1, local_size=5, alpha=1e-4, beta=0.75)
    conv2, relu2 = _conv_relu(norm1, 5, 256, pad=2, group=2)
    pool2 = L.Pooling(relu2, pool=P.Pooling.MAX, kernel_size=3, stride=2)
    norm2 = L.LRN(pool2, local_size=5, alpha=1e-4, beta=0.75)
    conv3, relu3 = _conv_relu(norm2, 3, 384, pad=1)
    conv4, relu4 = _conv_relu(relu3, 3, 384, pad=1, group=2)
    conv5, relu5 = _conv_relu(relu4, 3, 256, pad=1, group=2)
    pool5 = L.Pooling(relu5, pool=P.Pooling.MAX, kernel_size=3, stride=2)
    fc6, relu6 = _fc_relu(pool5, 4096)
    drop6 = L.Dropout(relu6, in_place=True, dropout_ratio=0.5)
    fc7, relu7 = _fc_relu(drop6, 4096)
    drop7 = L.Dropout(relu7, in_place=True)
    fc8 = L.InnerProduct(drop7, num_output=1000)
    if deploy:
        return str(L.Softmax(fc8).to_proto())
    loss = L.SoftmaxWithLoss(fc8, label)
    if include_acc:
        acc = L.Accuracy(fc8, label)
        return str(caffe.to_proto(loss, acc))
    return str(loss.to_proto())


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
