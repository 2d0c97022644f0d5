"""LeNet, CIFAR-10 (quick, in the V0 format, and full), AlexNet, CaffeNet (V1 format), R-CNN
ILSVRC13, the age net of Levi and Hassner, Network in Network and VGG 16/19, layer by layer as
their public deploy files define them (BVLC/caffe models/ and examples/, the Caffe model zoo
gists), with batch 1."""
from .proto import Net


def lenet():
    n = Net("LeNet", {"data": (1, 1, 28, 28)})
    n.conv("conv1", "data", 20, 5)
    n.pool("pool1", "conv1", "MAX", 2, 2)
    n.conv("conv2", "pool1", 50, 5)
    n.pool("pool2", "conv2", "MAX", 2, 2)
    n.ip("ip1", "pool2", 500)
    n.relu("relu1", "ip1")
    n.ip("ip2", "ip1", 10)
    n.softmax("prob", "ip2")
    return n.text()


def _cifar_quick():
    n = Net("CIFAR10_quick_test", {"data": (1, 3, 32, 32)}, input_style="input_dim")
    n.conv("conv1", "data", 32, 5, p=2)
    n.pool("pool1", "conv1", "MAX", 3, 2)
    n.relu("relu1", "pool1")
    n.conv("conv2", "pool1", 32, 5, p=2)
    n.relu("relu2", "conv2")
    n.pool("pool2", "conv2", "AVE", 3, 2)
    n.conv("conv3", "pool2", 64, 5, p=2)
    n.relu("relu3", "conv3")
    n.pool("pool3", "conv3", "AVE", 3, 2)
    n.ip("ip1", "pool3", 64)
    n.ip("ip2", "ip1", 10)
    n.softmax("prob", "ip2")
    return n


def cifar10_quick_v0():
    return _cifar_quick().text_v0()


def cifar10_full():
    n = Net("CIFAR10_full_deploy", {"data": (1, 3, 32, 32)})
    n.conv("conv1", "data", 32, 5, p=2)
    n.pool("pool1", "conv1", "MAX", 3, 2)
    n.relu("relu1", "pool1")
    n.lrn("norm1", "pool1", 3, 5e-05, 0.75, within=True)
    n.conv("conv2", "norm1", 32, 5, p=2)
    n.relu("relu2", "conv2")
    n.pool("pool2", "conv2", "AVE", 3, 2)
    n.lrn("norm2", "pool2", 3, 5e-05, 0.75, within=True)
    n.conv("conv3", "norm2", 64, 5, p=2)
    n.relu("relu3", "conv3")
    n.pool("pool3", "conv3", "AVE", 3, 2)
    n.ip("ip1", "pool3", 10)
    n.softmax("prob", "ip1")
    return n.text()


def _alex_trunk(n, norm_first):
    """AlexNet (norm before pool) or CaffeNet (pool before norm) up to pool5."""
    n.conv("conv1", "data", 96, 11, s=4)
    n.relu("relu1", "conv1")
    if norm_first:
        n.lrn("norm1", "conv1")
        n.pool("pool1", "norm1", "MAX", 3, 2)
    else:
        n.pool("pool1", "conv1", "MAX", 3, 2)
        n.lrn("norm1", "pool1")
    n.conv("conv2", "pool1" if norm_first else "norm1", 256, 5, p=2, group=2)
    n.relu("relu2", "conv2")
    if norm_first:
        n.lrn("norm2", "conv2")
        n.pool("pool2", "norm2", "MAX", 3, 2)
    else:
        n.pool("pool2", "conv2", "MAX", 3, 2)
        n.lrn("norm2", "pool2")
    n.conv("conv3", "pool2" if norm_first else "norm2", 384, 3, p=1)
    n.relu("relu3", "conv3")
    n.conv("conv4", "conv3", 384, 3, p=1, group=2)
    n.relu("relu4", "conv4")
    n.conv("conv5", "conv4", 256, 3, p=1, group=2)
    n.relu("relu5", "conv5")
    n.pool("pool5", "conv5", "MAX", 3, 2)


def _fc67(n, bottom="pool5"):
    n.ip("fc6", bottom, 4096)
    n.relu("relu6", "fc6")
    n.dropout("drop6", "fc6")
    n.ip("fc7", "fc6", 4096)
    n.relu("relu7", "fc7")
    n.dropout("drop7", "fc7")


def alexnet():
    n = Net("AlexNet", {"data": (1, 3, 227, 227)}, input_style="input_dim")
    _alex_trunk(n, norm_first=True)
    _fc67(n)
    n.ip("fc8", "fc7", 1000)
    n.softmax("prob", "fc8")
    return n.text()


def caffenet_v1():
    n = Net("CaffeNet", {"data": (1, 3, 227, 227)}, input_style="input_dim")
    _alex_trunk(n, norm_first=False)
    _fc67(n)
    n.ip("fc8", "fc7", 1000)
    n.softmax("prob", "fc8")
    return n.text_v1()


def rcnn_ilsvrc13():
    n = Net("R-CNN-ilsvrc13", {"data": (1, 3, 227, 227)}, input_style="input_dim")
    _alex_trunk(n, norm_first=False)
    _fc67(n)
    n.ip("fc-rcnn", "fc7", 200)
    return n.text()


def age_net():
    n = Net("CaffeNet", {"data": (1, 3, 227, 227)}, input_style="input_dim")
    n.conv("conv1", "data", 96, 7, s=4)
    n.relu("relu1", "conv1")
    n.pool("pool1", "conv1", "MAX", 3, 2)
    n.lrn("norm1", "pool1")
    n.conv("conv2", "norm1", 256, 5, p=2)
    n.relu("relu2", "conv2")
    n.pool("pool2", "conv2", "MAX", 3, 2)
    n.lrn("norm2", "pool2")
    n.conv("conv3", "norm2", 384, 3, p=1)
    n.relu("relu3", "conv3")
    n.pool("pool5", "conv3", "MAX", 3, 2)
    n.ip("fc6", "pool5", 512)
    n.relu("relu6", "fc6")
    n.dropout("drop6", "fc6")
    n.ip("fc7", "fc6", 512)
    n.relu("relu7", "fc7")
    n.dropout("drop7", "fc7")
    n.ip("fc8", "fc7", 8)
    n.softmax("prob", "fc8")
    return n.text()


def nin_imagenet():
    n = Net("nin_imagenet", {"data": (1, 3, 224, 224)}, input_style="input_dim")
    blob = "data"
    stages = [("conv1", 96, 11, 4, 0, ("cccp1", "cccp2"), "pool0", (0, 1, 2)),
              ("conv2", 256, 5, 1, 2, ("cccp3", "cccp4"), "pool2", (3, 5, 6)),
              ("conv3", 384, 3, 1, 1, ("cccp5", "cccp6"), "pool3", (7, 8, 9))]
    for conv, num, k, s, p, cccps, pool, relus in stages:
        blob = n.conv(conv, blob, num, k, s=s, p=p)
        n.relu(f"relu{relus[0]}", blob)
        for name, r in zip(cccps, relus[1:]):
            blob = n.conv(name, blob, num, 1)
            n.relu(f"relu{r}", blob)
        blob = n.pool(pool, blob, "MAX", 3, 2)
    n.dropout("drop", blob)
    blob = n.conv("conv4-1024", blob, 1024, 3, p=1)
    n.relu("relu10", blob)
    blob = n.conv("cccp7-1024", blob, 1024, 1)
    n.relu("relu11", blob)
    blob = n.conv("cccp8-1024", blob, 1000, 1)
    n.relu("relu12", blob)
    n.pool("pool4", blob, "AVE", 6, 1)
    n.softmax("prob", "pool4")
    return n.text()


def _vgg(name, per_stage):
    n = Net(name, {"data": (1, 3, 224, 224)}, input_style="input_dim")
    blob = "data"
    for stage, (count, width) in enumerate(zip(per_stage, (64, 128, 256, 512, 512)), 1):
        for i in range(1, count + 1):
            blob = n.conv(f"conv{stage}_{i}", blob, width, 3, p=1)
            n.relu(f"relu{stage}_{i}", blob)
        blob = n.pool(f"pool{stage}", blob, "MAX", 2, 2)
    _fc67(n, blob)
    n.ip("fc8", "fc7", 1000)
    n.softmax("prob", "fc8")
    return n.text()


def vgg16():
    return _vgg("VGG_ILSVRC_16_layers", (2, 2, 3, 3, 3))


def vgg19():
    return _vgg("VGG_ILSVRC_19_layers", (2, 2, 4, 4, 4))
