"""ResNet-50/101/152 (KaimingHe/deep-residual-networks), open_nsfw (yahoo/open_nsfw, a
ResNet-50 of half width) and DenseNet-121 (shicai/DenseNet-Caffe), layer by layer with batch 1."""
from .proto import Net

BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def _conv_bn(n, name, bottom, num, k, s=1, p=0, relu=True, suffix=None):
    """KaimingHe's naming: res2a_branch2a + bn2a_branch2a + scale2a_branch2a (+ relu)."""
    conv = n.conv(name, bottom, num, k, s=s, p=p, bias=False)
    tail = suffix or name[3:]
    n.bn(f"bn{tail}", conv)
    n.scale(f"scale{tail}", conv)
    if relu:
        n.relu(f"{name}_relu", conv)
    return conv


def resnet(depth):
    n = Net(f"ResNet-{depth}", {"data": (1, 3, 224, 224)})
    x = n.conv("conv1", "data", 64, 7, s=2, p=3, bias=False)
    n.bn("bn_conv1", x)
    n.scale("scale_conv1", x)
    n.relu("conv1_relu", x)
    x = n.pool("pool1", x, "MAX", 3, 2)
    for stage, count in enumerate(BLOCKS[depth], 2):
        width = 64 * 2 ** (stage - 2)
        for b in range(count):
            if depth == 50 or b == 0:
                tag = f"{stage}{chr(ord('a') + b)}"
            else:
                tag = f"{stage}b{b}"
            stride = 2 if (b == 0 and stage > 2) else 1
            if b == 0:
                short = _conv_bn(n, f"res{tag}_branch1", x, width * 4, 1, s=stride, relu=False)
            else:
                short = x
            y = _conv_bn(n, f"res{tag}_branch2a", x, width, 1, s=stride)
            y = _conv_bn(n, f"res{tag}_branch2b", y, width, 3, p=1)
            y = _conv_bn(n, f"res{tag}_branch2c", y, width * 4, 1, relu=False)
            x = n.eltwise(f"res{tag}", [short, y])
            n.relu(f"res{tag}_relu", x)
    x = n.pool("pool5", x, "AVE", 7, 1)
    n.ip("fc1000", x, 1000)
    n.softmax("prob", "fc1000")
    return n.text()


def resnet50():
    return resnet(50)


def resnet101():
    return resnet(101)


def resnet152():
    return resnet(152)


def _nsfw_conv(n, name, bottom, num, k, s=1, p=0, relu=True):
    conv = n.conv(f"conv_{name}", bottom, num, k, s=s, p=p)
    n.bn(f"bn_{name}", conv)
    n.scale(f"scale_{name}", conv)
    if relu:
        n.relu(f"relu_{name}", conv)
    return conv


def open_nsfw():
    n = Net("ResNet_50_1by2_nsfw", {"data": (1, 3, 224, 224)})
    x = _nsfw_conv(n, "1", "data", 64, 7, s=2, p=3)
    x = n.pool("pool1", x, "MAX", 3, 2)
    for stage, count in enumerate((3, 4, 6, 3)):
        width = 32 * 2 ** stage
        for b in range(count):
            tag = f"stage{stage}_block{b}"
            stride = 2 if (b == 0 and stage > 0) else 1
            short = _nsfw_conv(n, f"{tag}_proj_shortcut", x, width * 4, 1, s=stride,
                               relu=False) if b == 0 else x
            y = _nsfw_conv(n, f"{tag}_branch2a", x, width, 1, s=stride)
            y = _nsfw_conv(n, f"{tag}_branch2b", y, width, 3, p=1)
            y = _nsfw_conv(n, f"{tag}_branch2c", y, width * 4, 1, relu=False)
            x = n.eltwise(f"eltwise_{tag}", [short, y])
            n.relu(f"relu_{tag}", x)
    x = n.pool("pool", x, "AVE", 7, 1)
    n.ip("fc_nsfw", x, 2)
    n.softmax("prob", "fc_nsfw")
    return n.text()


def densenet121():
    n = Net("DENSENET_121", {"data": (1, 3, 224, 224)})
    x = n.conv("conv1", "data", 64, 7, s=2, p=3, bias=False)
    n.bn("conv1/bn", x, eps=1e-5)
    n.scale("conv1/scale", x)
    n.relu("relu1", x)
    x = n.pool("pool1", x, "MAX", 3, 2, p=1)
    channels = 64
    for block, count in enumerate((6, 12, 24, 16), 2):
        for i in range(1, count + 1):
            pre = f"conv{block}_{i}"
            y = n.add(f"{pre}/x1/bn", "BatchNorm", [x], [f"{pre}/x1/bn"],
                      batch_norm_param={"eps": 1e-5})
            n.scale(f"{pre}/x1/scale", y)
            n.relu(f"relu{block}_{i}/x1", y)
            y = n.conv(f"{pre}/x1", y, 128, 1, bias=False)
            n.bn(f"{pre}/x2/bn", y, eps=1e-5)
            n.scale(f"{pre}/x2/scale", y)
            n.relu(f"relu{block}_{i}/x2", y)
            y = n.conv(f"{pre}/x2", y, 32, 3, p=1, bias=False)
            x = n.concat(f"concat_{block}_{i}", [x, y])
            channels += 32
        if block < 5:
            pre = f"conv{block}_blk"
            y = n.add(f"{pre}/bn", "BatchNorm", [x], [f"{pre}/bn"],
                      batch_norm_param={"eps": 1e-5})
            n.scale(f"{pre}/scale", y)
            n.relu(f"relu{block}_blk", y)
            channels //= 2
            y = n.conv(pre, y, channels, 1, bias=False)
            x = n.pool(f"pool{block}", y, "AVE", 2, 2)
    y = n.add("conv5_blk/bn", "BatchNorm", [x], ["conv5_blk/bn"], batch_norm_param={"eps": 1e-5})
    n.scale("conv5_blk/scale", y)
    n.relu("relu5_blk", y)
    x = n.pool("pool5", y, "AVE", global_pool=True)
    n.conv("fc6", x, 1000, 1)
    return n.text()
