"""Deploy nets whose authors' files may not be copied into this repository, written out layer
by layer with their names, types, order and parameters (facts of the published files):

* :func:`colorization_v2`: Zhang et al.'s ``colorization_deploy_v2.prototxt`` (ECCV 2016,
  github.com/richzhang/colorization; no licence file at the commit OpenCV's sample points to):
  the first convolution is *named* ``bw_conv1_1`` with top ``conv1_1``; BatchNorm without Scale
  after each block; dilated convolutions in blocks 5 and 6; a Deconvolution; the 313-bin
  softmax ``conv8_313`` -> Scale ``conv8_313_rh`` -> Softmax ``class8_313_rh``; the 1x1 decoding
  convolution ``class8_ab``; and a last ``Silence`` layer.
* :func:`openpose_body`: the OpenPose body nets (Cao et al. 2017,
  github.com/CMU-Perceptual-Computing-Lab/openpose, whose licence forbids redistribution):
  COCO ``pose_deploy_linevec.prototxt`` (19 heat maps, 38 part-affinity maps, 6 stages) and MPI
  (16 and 28, 6 stages; the ``faster_4_stages`` file stops at 4), input ``image`` declared
  1 x 3 x 1 x 1 and sized at run time, L1/L2 branches interleaved as in the files, ending
  with ``Mconv7_stageN_L2``, as the 2017 files did (``forward()`` gives the heat maps, the
  layout ``scripts/pose_keypoints.py`` reads); ``concat=True`` appends the later files' last layer,
  ``concat_stageN+1`` (top ``net_output``: heat maps, then part affinities).

``width`` scales every channel count but the outputs' (for the default test suite's smaller
weights); ``stages`` shortens OpenPose. The default arguments give the published nets.
"""


class _Text:
    def __init__(self, name, head):
        self.lines = [f'name: "{name}"'] + head

    def layer(self, name, type_, bottoms, tops, params=""):
        self.lines.append(f'layer {{ name: "{name}" type: "{type_}" '
                          + "".join(f'bottom: "{b}" ' for b in bottoms)
                          + "".join(f'top: "{t}" ' for t in tops) + params + "}")

    def conv(self, name, bottom, n, k, pad=0, stride=1, dilation=1, top=None, relu=None):
        extra = (f"stride: {stride} " if stride != 1 else "") + \
            (f"dilation: {dilation} " if dilation != 1 else "")
        top = top or name
        self.layer(name, "Convolution", [bottom], [top],
                   f"convolution_param {{ num_output: {n} pad: {pad} kernel_size: {k} {extra}}} ")
        if relu:
            self.layer(relu, "ReLU", [top], [top])
        return top

    def text(self):
        return "\n".join(self.lines) + "\n"


def colorization_v2(width=1.0):
    w = lambda n: max(2, int(round(n * width)))            # noqa: E731
    t = _Text("LtoAB", ['layer { name: "data_l" type: "Input" top: "data_l" '
                        'input_param { shape { dim: 1 dim: 1 dim: 224 dim: 224 } } }'])
    x = t.conv("bw_conv1_1", "data_l", w(64), 3, 1, top="conv1_1", relu="relu1_1")
    blocks = [  # block, convolutions, channels, dilation, stride of the last
        (1, 2, 64, 1, 2), (2, 2, 128, 1, 2), (3, 3, 256, 1, 2), (4, 3, 512, 1, 1),
        (5, 3, 512, 2, 1), (6, 3, 512, 2, 1), (7, 3, 512, 1, 1)]
    for block, count, n, d, s in blocks:
        for i in range(2 if block == 1 else 1, count + 1):
            x = t.conv(f"conv{block}_{i}", x, w(n), 3, pad=d, dilation=d,
                       stride=s if i == count else 1, relu=f"relu{block}_{i}")
        t.layer(f"conv{block}_{count}norm", "BatchNorm", [x], [f"conv{block}_{count}norm"],
                "batch_norm_param { } ")
        x = f"conv{block}_{count}norm"
    t.layer("conv8_1", "Deconvolution", [x], ["conv8_1"],
            f"convolution_param {{ num_output: {w(256)} kernel_size: 4 pad: 1 stride: 2 }} ")
    t.layer("relu8_1", "ReLU", ["conv8_1"], ["conv8_1"])
    x = t.conv("conv8_2", "conv8_1", w(256), 3, 1, relu="relu8_2")
    x = t.conv("conv8_3", x, w(256), 3, 1, relu="relu8_3")
    x = t.conv("conv8_313", x, 313, 1)
    t.layer("conv8_313_rh", "Scale", [x], ["conv8_313_rh"],
            "scale_param { bias_term: false filler { type: 'constant' value: 2.606 } } ")
    t.layer("class8_313_rh", "Softmax", ["conv8_313_rh"], ["class8_313_rh"])
    t.conv("class8_ab", "class8_313_rh", 2, 1)
    t.layer("Silence", "Silence", ["class8_ab"], [])
    return t.text()


DATASETS = {"COCO": (19, 38), "MPI": (16, 28)}     # heat maps (L2), part affinities (L1)


def openpose_body(dataset="COCO", stages=6, width=1.0, concat=False):
    heat, paf = DATASETS[dataset]
    w = lambda n: max(2, int(round(n * width)))            # noqa: E731
    t = _Text("OpenPose - " + dataset,
              ['input: "image"', "input_dim: 1", "input_dim: 3", "input_dim: 1",
               "input_dim: 1"])
    x = "image"
    vgg = [("1_1", 64), ("1_2", 64), "pool1", ("2_1", 128), ("2_2", 128), "pool2",
           ("3_1", 256), ("3_2", 256), ("3_3", 256), ("3_4", 256), "pool3",
           ("4_1", 512), ("4_2", 512), ("4_3_CPM", 256), ("4_4_CPM", 128)]
    for item in vgg:
        if isinstance(item, str):
            t.layer(f"{item}_stage1", "Pooling", [x], [f"{item}_stage1"],
                    "pooling_param { pool: MAX kernel_size: 2 stride: 2 } ")
            x = f"{item}_stage1"
            continue
        suffix, n = item
        x = t.conv(f"conv{suffix}", x, w(n), 3, 1, relu=f"relu{suffix}")
    features = x
    # stage 1: three 3x3, a 1x1 of 512, the 1x1 output; the branches interleaved
    for i, (k, n) in enumerate(((3, 128), (3, 128), (3, 128), (1, 512)), start=1):
        for br in ("L1", "L2"):
            src = features if i == 1 else f"conv5_{i - 1}_CPM_{br}"
            t.conv(f"conv5_{i}_CPM_{br}", src, w(n), k, pad=k // 2,
                   relu=f"relu5_{i}_CPM_{br}")
    for br, n in (("L1", paf), ("L2", heat)):
        t.conv(f"conv5_5_CPM_{br}", f"conv5_4_CPM_{br}", n, 1)
    last = {"L1": "conv5_5_CPM_L1", "L2": "conv5_5_CPM_L2"}
    for stage in range(2, stages + 1):
        cat = f"concat_stage{stage}"
        t.layer(cat, "Concat", [last["L1"], last["L2"], features], [cat],
                "concat_param { axis: 1 } ")
        for i, (k, n) in enumerate(((7, 128),) * 5 + ((1, 128),), start=1):
            for br in ("L1", "L2"):
                src = cat if i == 1 else f"Mconv{i - 1}_stage{stage}_{br}"
                t.conv(f"Mconv{i}_stage{stage}_{br}", src, w(n), k, pad=k // 2,
                       relu=f"Mrelu{i}_stage{stage}_{br}")
        for br, n in (("L1", paf), ("L2", heat)):
            last[br] = t.conv(f"Mconv7_stage{stage}_{br}", f"Mconv6_stage{stage}_{br}", n, 1)
    if concat:      # the files since 2018: heat maps then part affinities in one output
        t.layer(f"concat_stage{stages + 1}", "Concat", [last["L2"], last["L1"]], ["net_output"],
                "concat_param { axis: 1 } ")
    return t.text()


def fcn8s(width=1.0, classes=21):
    """FCN-8s (Long, Shelhamer and Darrell 2015), ``voc-fcn8s/deploy.prototxt`` of
    fcn.berkeleyvision.org: VGG-16 whose first convolution pads by 100, ``fc6``/``fc7`` as
    7 x 7 and 1 x 1 convolutions with Dropout, ``score_fr``, and the skip path: ``upscore2``
    (Deconvolution 4/2, no bias, fixed: ``lr_mult: 0``), ``score_pool4`` cropped at offset 5
    (``score_pool4c``), Eltwise ``fuse_pool4``, ``upscore_pool4``, ``score_pool3`` cropped at
    offset 9, ``fuse_pool3``, ``upscore8`` (16/8) and the ``score`` Crop at offset 31 against
    ``data``. The input is declared 1 x 3 x 500 x 500 as in the file."""
    w = lambda n: max(2, int(round(n * width)))            # noqa: E731
    t = _Text("voc-fcn8s", ['layer { name: "input" type: "Input" top: "data" '
                            'input_param { shape { dim: 1 dim: 3 dim: 500 dim: 500 } } }'])
    x = "data"
    for block, count, n in ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512)):
        for i in range(1, count + 1):
            pad = 100 if (block, i) == (1, 1) else 1
            x = t.conv(f"conv{block}_{i}", x, w(n), 3, pad, relu=f"relu{block}_{i}")
        t.layer(f"pool{block}", "Pooling", [x], [f"pool{block}"],
                "pooling_param { pool: MAX kernel_size: 2 stride: 2 } ")
        x = f"pool{block}"
    for name, k in (("6", 7), ("7", 1)):
        x = t.conv(f"fc{name}", x, w(4096), k, relu=f"relu{name}")
        t.layer(f"drop{name}", "Dropout", [x], [x], "dropout_param { dropout_ratio: 0.5 } ")
    t.conv("score_fr", x, classes, 1)

    def up(name, bottom, k, s):
        t.layer(name, "Deconvolution", [bottom], [name],
                f"param {{ lr_mult: 0 }} convolution_param {{ num_output: {classes} "
                f"bias_term: false kernel_size: {k} stride: {s} }} ")
        return name

    x = up("upscore2", "score_fr", 4, 2)
    for pool, offset, nxt in (("pool4", 5, "upscore_pool4"), ("pool3", 9, "upscore8")):
        score = t.conv(f"score_{pool}", pool, classes, 1)
        t.layer(f"score_{pool}c", "Crop", [score, x], [f"score_{pool}c"],
                f"crop_param {{ axis: 2 offset: {offset} }} ")
        t.layer(f"fuse_{pool}", "Eltwise", [x, f"score_{pool}c"], [f"fuse_{pool}"],
                "eltwise_param { operation: SUM } ")
        x = up(nxt, f"fuse_{pool}", 16 if nxt == "upscore8" else 4, 8 if nxt == "upscore8" else 2)
    t.layer("score", "Crop", [x, "data"], ["score"], "crop_param { axis: 2 offset: 31 } ")
    return t.text()
