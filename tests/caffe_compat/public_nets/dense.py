"""Dense prediction nets: FCN-8s (shelhamer/fcn.berkeleyvision.org, voc-fcn8s) and the
colorization net of Zhang et al. (richzhang/colorization, colorization_deploy_v2, the one of
OpenCV's samples), layer by layer with batch 1 and smaller inputs (the outputs are per pixel)."""
from .proto import Net


def fcn8s(size=48):
    n = Net("FCN-8s", {"data": (1, 3, size, size)})
    x = "data"
    for stage, (count, width) in enumerate(zip((2, 2, 3, 3, 3), (64, 128, 256, 512, 512)), 1):
        for i in range(1, count + 1):
            x = n.conv(f"conv{stage}_{i}", x, width, 3, p=100 if (stage, i) == (1, 1) else 1)
            n.relu(f"relu{stage}_{i}", x)
        x = n.pool(f"pool{stage}", x, "MAX", 2, 2)
    x = n.conv("fc6", x, 4096, 7)
    n.relu("relu6", x)
    n.dropout("drop6", x)
    x = n.conv("fc7", x, 4096, 1)
    n.relu("relu7", x)
    n.dropout("drop7", x)
    x = n.conv("score_fr", x, 21, 1)
    up = n.conv("upscore2", x, 21, 4, s=2, bias=False, type_="Deconvolution")
    sp4 = n.conv("score_pool4", "pool4", 21, 1)
    sp4 = n.add("score_pool4c", "Crop", [sp4, up], crop_param={"axis": 2, "offset": 5})
    x = n.eltwise("fuse_pool4", [up, sp4])
    up = n.conv("upscore_pool4", x, 21, 4, s=2, bias=False, type_="Deconvolution")
    sp3 = n.conv("score_pool3", "pool3", 21, 1)
    sp3 = n.add("score_pool3c", "Crop", [sp3, up], crop_param={"axis": 2, "offset": 9})
    x = n.eltwise("fuse_pool3", [up, sp3])
    x = n.conv("upscore8", x, 21, 16, s=8, bias=False, type_="Deconvolution")
    n.add("score", "Crop", [x, "data"], crop_param={"axis": 2, "offset": 31})
    return n.text()


def colorization(size=64):
    n = Net("LtoAB", {"data_l": (1, 1, size, size)})
    x = "data_l"
    plan = [(1, 64, 2, (1, 2), 1), (2, 128, 2, (1, 2), 1), (3, 256, 3, (1, 1, 2), 1),
            (4, 512, 3, (1, 1, 1), 1), (5, 512, 3, (1, 1, 1), 2), (6, 512, 3, (1, 1, 1), 2),
            (7, 512, 3, (1, 1, 1), 1)]
    for stage, width, count, strides, dil in plan:
        for i in range(1, count + 1):
            x = n.conv(f"conv{stage}_{i}", x, width, 3, s=strides[i - 1], p=dil, dilation=dil)
            n.relu(f"relu{stage}_{i}", x)
        x = n.add(f"conv{stage}_{count}norm", "BatchNorm", [x])
    x = n.conv("conv8_1", x, 256, 4, s=2, p=1, type_="Deconvolution")
    n.relu("relu8_1", x)
    for i in (2, 3):
        x = n.conv(f"conv8_{i}", x, 256, 3, p=1)
        n.relu(f"relu8_{i}", x)
    x = n.conv("conv8_313", x, 313, 1)
    x = n.add("conv8_313_rh", "Scale", [x],
              scale_param={"bias_term": False, "filler": {"type": "constant", "value": 2.606}})
    x = n.softmax("class8_313_rh", x)
    n.conv("class8_ab", x, 2, 1)
    return n.text()
