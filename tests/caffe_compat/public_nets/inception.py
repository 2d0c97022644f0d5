"""GoogLeNet (BVLC), Inception-BN with 21k classes (pertusa/InceptionBN-21K-for-Caffe, converted
from MXNet) and Inception-v3 (the Caffe ports of the TensorFlow model), layer by layer with
batch 1."""
from .proto import Net

# GoogLeNet: (name, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj)
GOOGLENET = [("3a", 64, 96, 128, 16, 32, 32), ("3b", 128, 128, 192, 32, 96, 64), "pool3",
             ("4a", 192, 96, 208, 16, 48, 64), ("4b", 160, 112, 224, 24, 64, 64),
             ("4c", 128, 128, 256, 24, 64, 64), ("4d", 112, 144, 288, 32, 64, 64),
             ("4e", 256, 160, 320, 32, 128, 128), "pool4",
             ("5a", 256, 160, 320, 32, 128, 128), ("5b", 384, 192, 384, 48, 128, 128)]


def _conv_relu(n, name, bottom, num, k, s=1, p=0):
    blob = n.conv(name, bottom, num, k, s=s, p=p)
    n.relu(name.replace("/", "/relu_", 1) if "/" in name else f"relu_{name}", blob)
    return blob


def googlenet():
    n = Net("GoogleNet", {"data": (1, 3, 224, 224)})
    blob = _conv_relu(n, "conv1/7x7_s2", "data", 64, 7, 2, 3)
    blob = n.pool("pool1/3x3_s2", blob, "MAX", 3, 2)
    blob = n.lrn("pool1/norm1", blob)
    blob = _conv_relu(n, "conv2/3x3_reduce", blob, 64, 1)
    blob = _conv_relu(n, "conv2/3x3", blob, 192, 3, p=1)
    blob = n.lrn("conv2/norm2", blob)
    blob = n.pool("pool2/3x3_s2", blob, "MAX", 3, 2)
    for spec in GOOGLENET:
        if isinstance(spec, str):
            blob = n.pool(f"{spec}/3x3_s2", blob, "MAX", 3, 2)
            continue
        name, c1, c3r, c3, c5r, c5, pp = spec
        pre = f"inception_{name}"
        b1 = _conv_relu(n, f"{pre}/1x1", blob, c1, 1)
        b3 = _conv_relu(n, f"{pre}/3x3_reduce", blob, c3r, 1)
        b3 = _conv_relu(n, f"{pre}/3x3", b3, c3, 3, p=1)
        b5 = _conv_relu(n, f"{pre}/5x5_reduce", blob, c5r, 1)
        b5 = _conv_relu(n, f"{pre}/5x5", b5, c5, 5, p=2)
        bp = n.pool(f"{pre}/pool", blob, "MAX", 3, 1, p=1)
        bp = _conv_relu(n, f"{pre}/pool_proj", bp, pp, 1)
        blob = n.concat(f"{pre}/output", [b1, b3, b5, bp])
    blob = n.pool("pool5/7x7_s1", blob, "AVE", 7, 1)
    n.dropout("pool5/drop_7x7_s1", blob, 0.4)
    n.ip("loss3/classifier", blob, 1000)
    n.softmax("prob", "loss3/classifier")
    return n.text()


def _bn_conv(n, bottom, num, k, s, p, name):
    """MXNet's ConvFactory as converted: conv_<name>, BatchNorm + Scale and ReLU in place."""
    conv = n.conv(f"conv_{name}", bottom, num, k, s=s, p=p)
    n.bn(f"bn_{name}", conv)
    n.scale(f"scale_conv_{name}", conv)
    n.relu(f"relu_{name}", conv)
    return conv


def _inception_a(n, data, c1, c3r, c3, d3r, d3, pool, proj, name):
    a = _bn_conv(n, data, c1, 1, 1, 0, f"{name}_1x1")
    b = _bn_conv(n, data, c3r, 1, 1, 0, f"{name}_3x3_reduce")
    b = _bn_conv(n, b, c3, 3, 1, 1, f"{name}_3x3")
    c = _bn_conv(n, data, d3r, 1, 1, 0, f"{name}_double_3x3_reduce")
    c = _bn_conv(n, c, d3, 3, 1, 1, f"{name}_double_3x3_0")
    c = _bn_conv(n, c, d3, 3, 1, 1, f"{name}_double_3x3_1")
    d = n.pool(f"{pool.lower()}_pool_{name}_pool", data, pool, 3, 1, p=1)
    d = _bn_conv(n, d, proj, 1, 1, 0, f"{name}_proj")
    return n.concat(f"ch_concat_{name}_chconcat", [a, b, c, d])


def _inception_b(n, data, c3r, c3, d3r, d3, name):
    b = _bn_conv(n, data, c3r, 1, 1, 0, f"{name}_3x3_reduce")
    b = _bn_conv(n, b, c3, 3, 2, 1, f"{name}_3x3")
    c = _bn_conv(n, data, d3r, 1, 1, 0, f"{name}_double_3x3_reduce")
    c = _bn_conv(n, c, d3, 3, 1, 1, f"{name}_double_3x3_0")
    c = _bn_conv(n, c, d3, 3, 2, 1, f"{name}_double_3x3_1")
    d = n.pool(f"max_pool_{name}_pool", data, "MAX", 3, 2, p=1)
    return n.concat(f"ch_concat_{name}_chconcat", [b, c, d])


def inception_bn_21k():
    n = Net("Inception21k", {"data": (1, 3, 224, 224)})
    x = _bn_conv(n, "data", 96, 7, 2, 3, "conv1")
    x = n.pool("pool1", x, "MAX", 3, 2, p=1)
    x = _bn_conv(n, x, 128, 1, 1, 0, "conv2red")
    x = _bn_conv(n, x, 288, 3, 1, 1, "conv2")
    x = n.pool("pool2", x, "MAX", 3, 2, p=1)
    x = _inception_a(n, x, 96, 96, 96, 96, 144, "AVE", 48, "3a")
    x = _inception_a(n, x, 96, 96, 144, 96, 144, "AVE", 96, "3b")
    x = _inception_b(n, x, 192, 240, 96, 144, "3c")
    x = _inception_a(n, x, 224, 64, 96, 96, 128, "AVE", 128, "4a")
    x = _inception_a(n, x, 192, 96, 128, 96, 128, "AVE", 128, "4b")
    x = _inception_a(n, x, 160, 128, 160, 128, 160, "AVE", 128, "4c")
    x = _inception_a(n, x, 96, 128, 192, 160, 96, "AVE", 128, "4d")
    x = _inception_b(n, x, 128, 192, 192, 256, "4e")
    x = _inception_a(n, x, 352, 192, 320, 160, 224, "AVE", 128, "5a")
    x = _inception_a(n, x, 352, 192, 320, 192, 224, "MAX", 128, "5b")
    x = n.pool("global_pool", x, "AVE", global_pool=True)
    n.ip("fc1", x, 21841)
    n.softmax("softmax", "fc1")
    return n.text()


def _v3_conv(n, name, bottom, num, k=None, s=1, p=0, kh=None, kw=None, ph=None, pw=None):
    conv = n.conv(name, bottom, num, k, s=s, p=p, bias=False, kh=kh, kw=kw, ph=ph, pw=pw)
    n.bn(f"{name}_bn", conv, eps=0.001)
    n.scale(f"{name}_scale", conv)
    n.relu(f"{name}_relu", conv)
    return conv


def _v3_17(n, name, bottom, num, k, horizontal_first):
    """1 x k then k x 1 (or the reverse) convolutions, padded to keep the size."""
    p = k // 2
    shapes = [(1, k, 0, p), (k, 1, p, 0)]
    if not horizontal_first:
        shapes.reverse()
    out = bottom
    for i, (kh, kw, ph, pw) in enumerate(shapes):
        out = _v3_conv(n, f"{name}_{kh}x{kw}_{i}", out, num[i], kh=kh, kw=kw, ph=ph, pw=pw)
    return out


def inception_v3():
    n = Net("inception_v3", {"data": (1, 3, 299, 299)})
    x = _v3_conv(n, "conv", "data", 32, 3, s=2)
    x = _v3_conv(n, "conv_1", x, 32, 3)
    x = _v3_conv(n, "conv_2", x, 64, 3, p=1)
    x = n.pool("pool", x, "MAX", 3, 2)
    x = _v3_conv(n, "conv_3", x, 80, 1)
    x = _v3_conv(n, "conv_4", x, 192, 3)
    x = n.pool("pool_1", x, "MAX", 3, 2)
    for i, pool_features in enumerate((32, 64, 64)):           # 35 x 35
        m = f"mixed_{i}"
        a = _v3_conv(n, f"{m}_conv", x, 64, 1)
        b = _v3_conv(n, f"{m}_tower_conv", x, 48, 1)
        b = _v3_conv(n, f"{m}_tower_conv_1", b, 64, 5, p=2)
        c = _v3_conv(n, f"{m}_tower_1_conv", x, 64, 1)
        c = _v3_conv(n, f"{m}_tower_1_conv_1", c, 96, 3, p=1)
        c = _v3_conv(n, f"{m}_tower_1_conv_2", c, 96, 3, p=1)
        d = n.pool(f"{m}_tower_2_pool", x, "AVE", 3, 1, p=1)
        d = _v3_conv(n, f"{m}_tower_2_conv", d, pool_features, 1)
        x = n.concat(f"{m}_join", [a, b, c, d])
    m = "mixed_3"                                               # 35 -> 17
    a = _v3_conv(n, f"{m}_conv", x, 384, 3, s=2)
    b = _v3_conv(n, f"{m}_tower_conv", x, 64, 1)
    b = _v3_conv(n, f"{m}_tower_conv_1", b, 96, 3, p=1)
    b = _v3_conv(n, f"{m}_tower_conv_2", b, 96, 3, s=2)
    c = n.pool(f"{m}_pool", x, "MAX", 3, 2)
    x = n.concat(f"{m}_join", [a, b, c])
    for i, c7 in enumerate((128, 160, 160, 192), 4):            # 17 x 17
        m = f"mixed_{i}"
        a = _v3_conv(n, f"{m}_conv", x, 192, 1)
        b = _v3_conv(n, f"{m}_tower_conv", x, c7, 1)
        b = _v3_17(n, f"{m}_tower", b, (c7, 192), 7, True)
        c = _v3_conv(n, f"{m}_tower_1_conv", x, c7, 1)
        c = _v3_17(n, f"{m}_tower_1a", c, (c7, c7), 7, False)
        c = _v3_17(n, f"{m}_tower_1b", c, (c7, 192), 7, False)
        d = n.pool(f"{m}_tower_2_pool", x, "AVE", 3, 1, p=1)
        d = _v3_conv(n, f"{m}_tower_2_conv", d, 192, 1)
        x = n.concat(f"{m}_join", [a, b, c, d])
    m = "mixed_8"                                               # 17 -> 8
    a = _v3_conv(n, f"{m}_tower_conv", x, 192, 1)
    a = _v3_conv(n, f"{m}_tower_conv_1", a, 320, 3, s=2)
    b = _v3_conv(n, f"{m}_tower_1_conv", x, 192, 1)
    b = _v3_17(n, f"{m}_tower_1", b, (192, 192), 7, True)
    b = _v3_conv(n, f"{m}_tower_1_conv_3", b, 192, 3, s=2)
    c = n.pool(f"{m}_pool", x, "MAX", 3, 2)
    x = n.concat(f"{m}_join", [a, b, c])
    for i, pool in ((9, "AVE"), (10, "MAX")):                   # 8 x 8
        m = f"mixed_{i}"
        a = _v3_conv(n, f"{m}_conv", x, 320, 1)
        b = _v3_conv(n, f"{m}_tower_conv", x, 384, 1)
        b1 = _v3_conv(n, f"{m}_tower_mixed_conv", b, 384, kh=1, kw=3, ph=0, pw=1)
        b2 = _v3_conv(n, f"{m}_tower_mixed_conv_1", b, 384, kh=3, kw=1, ph=1, pw=0)
        c = _v3_conv(n, f"{m}_tower_1_conv", x, 448, 1)
        c = _v3_conv(n, f"{m}_tower_1_conv_1", c, 384, 3, p=1)
        c1 = _v3_conv(n, f"{m}_tower_1_mixed_conv", c, 384, kh=1, kw=3, ph=0, pw=1)
        c2 = _v3_conv(n, f"{m}_tower_1_mixed_conv_1", c, 384, kh=3, kw=1, ph=1, pw=0)
        d = n.pool(f"{m}_tower_2_pool", x, pool, 3, 1, p=1)
        d = _v3_conv(n, f"{m}_tower_2_conv", d, 192, 1)
        x = n.concat(f"{m}_join", [a, b1, b2, c1, c2, d])
    x = n.pool("pool_3", x, "AVE", 8, 1)
    n.ip("softmax_logits", x, 1008)
    n.softmax("softmax", "softmax_logits")
    return n.text()
