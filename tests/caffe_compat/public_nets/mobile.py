"""SqueezeNet 1.0 and 1.1 (forresti/SqueezeNet), MobileNet v1 and v2 (shicai/MobileNet-Caffe),
layer by layer with batch 1."""
from .proto import Net


def _fire(n, name, bottom, squeeze, expand):
    s = n.conv(f"{name}/squeeze1x1", bottom, squeeze, 1)
    n.relu(f"{name}/relu_squeeze1x1", s)
    a = n.conv(f"{name}/expand1x1", s, expand, 1)
    n.relu(f"{name}/relu_expand1x1", a)
    b = n.conv(f"{name}/expand3x3", s, expand, 3, p=1)
    n.relu(f"{name}/relu_expand3x3", b)
    return n.concat(f"{name}/concat", [a, b])


def _squeeze_tail(n, x):
    n.dropout("drop9", x)
    x = n.conv("conv10", x, 1000, 1)
    n.relu("relu_conv10", x)
    x = n.pool("pool10", x, "AVE", global_pool=True)
    n.softmax("prob", x)
    return n.text()


def squeezenet10():
    n = Net("SqueezeNet_v1.0", {"data": (1, 3, 227, 227)})
    x = n.conv("conv1", "data", 96, 7, s=2)
    n.relu("relu_conv1", x)
    x = n.pool("pool1", x, "MAX", 3, 2)
    for name, s, e in (("fire2", 16, 64), ("fire3", 16, 64), ("fire4", 32, 128)):
        x = _fire(n, name, x, s, e)
    x = n.pool("pool4", x, "MAX", 3, 2)
    for name, s, e in (("fire5", 32, 128), ("fire6", 48, 192), ("fire7", 48, 192),
                       ("fire8", 64, 256)):
        x = _fire(n, name, x, s, e)
    x = n.pool("pool8", x, "MAX", 3, 2)
    x = _fire(n, "fire9", x, 64, 256)
    return _squeeze_tail(n, x)


def squeezenet11():
    n = Net("SqueezeNet_v1.1", {"data": (1, 3, 227, 227)})
    x = n.conv("conv1", "data", 64, 3, s=2)
    n.relu("relu_conv1", x)
    x = n.pool("pool1", x, "MAX", 3, 2)
    x = _fire(n, "fire2", x, 16, 64)
    x = _fire(n, "fire3", x, 16, 64)
    x = n.pool("pool3", x, "MAX", 3, 2)
    x = _fire(n, "fire4", x, 32, 128)
    x = _fire(n, "fire5", x, 32, 128)
    x = n.pool("pool5", x, "MAX", 3, 2)
    for name, s, e in (("fire6", 48, 192), ("fire7", 48, 192), ("fire8", 64, 256),
                       ("fire9", 64, 256)):
        x = _fire(n, name, x, s, e)
    return _squeeze_tail(n, x)


def _conv_bn_relu(n, name, bottom, num, k, s=1, p=0, group=1, relu=True, relu_name=None):
    x = n.conv(name, bottom, num, k, s=s, p=p, group=group, bias=False)
    n.bn(f"{name}/bn", x, eps=1e-5)
    n.scale(f"{name}/scale", x)
    if relu:
        n.relu(relu_name or f"relu{name[4:]}", x)
    return x


def mobilenet_v1():
    n = Net("MOBILENET", {"data": (1, 3, 224, 224)})
    x = _conv_bn_relu(n, "conv1", "data", 32, 3, s=2, p=1, relu_name="relu1")
    channels = 32
    plan = [("2_1", 64, 1), ("2_2", 128, 2), ("3_1", 128, 1), ("3_2", 256, 2), ("4_1", 256, 1),
            ("4_2", 512, 2)] + [(f"5_{i}", 512, 1) for i in range(1, 6)] + \
        [("5_6", 1024, 2), ("6", 1024, 1)]
    for tag, out, stride in plan:
        x = _conv_bn_relu(n, f"conv{tag}/dw", x, channels, 3, s=stride, p=1, group=channels,
                          relu_name=f"relu{tag}/dw")
        x = _conv_bn_relu(n, f"conv{tag}/sep", x, out, 1, relu_name=f"relu{tag}/sep")
        channels = out
    x = n.pool("pool6", x, "AVE", global_pool=True)
    x = n.conv("fc7", x, 1000, 1)
    n.softmax("prob", x)
    return n.text()


# (expansion, output channels, repeats, first stride)
MOBILENET_V2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1)]


def mobilenet_v2():
    n = Net("MOBILENET_V2", {"data": (1, 3, 224, 224)})
    x = _conv_bn_relu(n, "conv1", "data", 32, 3, s=2, p=1, relu_name="relu1")
    channels = 32
    stage = 2
    for t, c, repeats, first_stride in MOBILENET_V2:
        for i in range(1, repeats + 1):
            tag = f"conv{stage}_{i}"
            stride = first_stride if i == 1 else 1
            y = x
            if t != 1:
                y = _conv_bn_relu(n, f"{tag}/expand", y, channels * t, 1,
                                  relu_name=f"relu{stage}_{i}/expand")
            y = _conv_bn_relu(n, f"{tag}/dwise", y, channels * t, 3, s=stride, p=1,
                              group=channels * t, relu_name=f"relu{stage}_{i}/dwise")
            y = _conv_bn_relu(n, f"{tag}/linear", y, c, 1, relu=False)
            if stride == 1 and channels == c:
                y = n.eltwise(f"block_{stage}_{i}", [x, y])
            x, channels = y, c
        stage += 1
    x = _conv_bn_relu(n, "conv6_4", x, 1280, 1, relu_name="relu6_4")
    x = n.pool("pool6", x, "AVE", global_pool=True)
    x = n.conv("fc7", x, 1000, 1)
    n.softmax("prob", x)
    return n.text()
