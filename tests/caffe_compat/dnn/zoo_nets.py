"""More public deploy-net topologies, written out for the speed benchmarks and the inference
fast-path tests, with random weights (see :mod:`nets` for the builder and the blob draw):

* :func:`resnet50`: ResNet-50 (He et al. 2016; the layer names and shapes of the authors'
  Caffe ``ResNet-50-deploy.prototxt``: bottleneck units ``resNx_branch2a/b/c`` with
  BatchNorm + Scale after every convolution, the stride on ``branch2a``), 224 x 224;
* :func:`squeezenet11`: SqueezeNet 1.1 (Iandola et al. 2016; Fire modules of squeeze 1x1 and
  expand 1x1 / 3x3 convolutions joined by Concat), 227 x 227;
* :func:`mobilenet_v2`: MobileNet v2 (Sandler et al. 2018; the widely used Caffe port's
  layout: expand 1x1, depthwise 3x3 as a grouped Convolution, linear 1x1, each followed by
  BatchNorm + Scale, the ReLUs after the first two), 224 x 224.

``width`` and ``size`` shrink a net for fast tests (the topology is the same).
"""
from .nets import Builder


def _conv_bn(b, name, bottom, n, k, s=1, p=0, group=1, relu=True, bn="bn", scale="scale",
             relu_name=None, top=None):
    c = b.channels[bottom]
    extra = f" group: {group}" if group != 1 else ""
    x = b.add(name, "Convolution", [bottom], [top or name],
              f"convolution_param {{ num_output: {n} kernel_size: {k} stride: {s} pad: {p} "
              f"bias_term: false{extra} }}", [(n, c // group, k, k)], n)
    b.bn_scale(bn, scale, x)
    if relu:
        b.relu(relu_name or f"{name}_relu", x)
    return x


def resnet50(batch=1, size=224, width=1.0):
    b = Builder("ResNet-50", {"data": (batch, 3, size, size)})
    w = lambda n: max(1, int(n * width))       # noqa: E731
    x = _conv_bn(b, "conv1", "data", w(64), 7, 2, 3, bn="bn_conv1", scale="scale_conv1",
                 relu_name="conv1_relu")
    x = b.pool("pool1", x, "MAX", 3, 2)
    for stage, (inner, outer, blocks) in zip("2345", ((64, 256, 3), (128, 512, 4),
                                                      (256, 1024, 6), (512, 2048, 3))):
        for i in range(blocks):
            u = f"{stage}{chr(ord('a') + i)}"
            s = 2 if i == 0 and stage != "2" else 1
            if i == 0:
                short = _conv_bn(b, f"res{u}_branch1", x, w(outer), 1, s, relu=False,
                                 bn=f"bn{u}_branch1", scale=f"scale{u}_branch1")
            else:
                short = x
            y = _conv_bn(b, f"res{u}_branch2a", x, w(inner), 1, s, bn=f"bn{u}_branch2a",
                         scale=f"scale{u}_branch2a", relu_name=f"res{u}_branch2a_relu")
            y = _conv_bn(b, f"res{u}_branch2b", y, w(inner), 3, 1, 1, bn=f"bn{u}_branch2b",
                         scale=f"scale{u}_branch2b", relu_name=f"res{u}_branch2b_relu")
            y = _conv_bn(b, f"res{u}_branch2c", y, w(outer), 1, relu=False,
                         bn=f"bn{u}_branch2c", scale=f"scale{u}_branch2c")
            x = b.add(f"res{u}", "Eltwise", [short, y])
            b.relu(f"res{u}_relu", x)
    x = b.add("pool5", "Pooling", [x], None, "pooling_param { pool: AVE global_pooling: true }")
    x = b.add("fc1000", "InnerProduct", [x], None, "inner_product_param { num_output: 1000 }",
              [(1000, b.channels[x]), (1000,)], 1000)
    b.add("prob", "Softmax", [x])
    return b.text(), b.blobs


def squeezenet11(batch=1, size=227, width=1.0):
    b = Builder("SqueezeNet_v1.1", {"data": (batch, 3, size, size)})
    w = lambda n: max(1, int(n * width))       # noqa: E731
    x = b.relu("relu_conv1", b.conv("conv1", "data", w(64), 3, 2))
    x = b.pool("pool1", x, "MAX", 3, 2)
    fires = ((2, 16, 64), (3, 16, 64), "pool3", (4, 32, 128), (5, 32, 128), "pool5",
             (6, 48, 192), (7, 48, 192), (8, 64, 256), (9, 64, 256))
    for f in fires:
        if isinstance(f, str):
            x = b.pool(f, x, "MAX", 3, 2)
            continue
        k, sq, ex = f
        p = f"fire{k}/"
        s = b.relu(p + "relu_squeeze1x1", b.conv(p + "squeeze1x1", x, w(sq), 1))
        e1 = b.relu(p + "relu_expand1x1", b.conv(p + "expand1x1", s, w(ex), 1))
        e3 = b.relu(p + "relu_expand3x3", b.conv(p + "expand3x3", s, w(ex), 3, 1, 1))
        x = b.add(p + "concat", "Concat", [e1, e3], None, "", (), 2 * w(ex))
    b.add("drop9", "Dropout", [x], [x], "dropout_param { dropout_ratio: 0.5 }")
    x = b.relu("relu_conv10", b.conv("conv10", x, 1000, 1))
    x = b.add("pool10", "Pooling", [x], None,
              "pooling_param { pool: AVE global_pooling: true }")
    b.add("prob", "Softmax", [x])
    return b.text(), b.blobs


MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1))    # expansion t, channels c, repeats n, stride s


def mobilenet_v2(batch=1, size=224, width=1.0):
    b = Builder("MOBILENET_V2", {"data": (batch, 3, size, size)})
    w = lambda n: max(1, int(n * width))       # noqa: E731
    x = _conv_bn(b, "conv1", "data", w(32), 3, 2, 1, bn="conv1/bn", scale="conv1/scale",
                 relu_name="relu1")
    for stage, (t, c, n, s) in enumerate(MOBILENET_V2, start=2):
        for i in range(n):
            p = f"conv{stage}_{i + 1}/"
            cin = b.channels[x]
            hidden = cin * t
            y = _conv_bn(b, p + "expand", x, hidden, 1, bn=p + "expand/bn",
                         scale=p + "expand/scale", relu_name=f"relu{stage}_{i + 1}/expand")
            y = _conv_bn(b, p + "dwise", y, hidden, 3, s if i == 0 else 1, 1, group=hidden,
                         bn=p + "dwise/bn", scale=p + "dwise/scale",
                         relu_name=f"relu{stage}_{i + 1}/dwise")
            y = _conv_bn(b, p + "linear", y, w(c), 1, relu=False, bn=p + "linear/bn",
                         scale=p + "linear/scale")
            if i > 0:
                y = b.add(f"block_{stage}_{i + 1}", "Eltwise", [x, y])
            x = y
    x = _conv_bn(b, "conv6_4", x, w(1280), 1, bn="conv6_4/bn", scale="conv6_4/scale",
                 relu_name="relu6_4")
    x = b.add("pool6", "Pooling", [x], None, "pooling_param { pool: AVE global_pooling: true }")
    x = b.conv("fc7", x, 1000, 1)
    b.add("prob", "Softmax", [x])
    return b.text(), b.blobs
