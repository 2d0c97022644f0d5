"""Whole nets compared with OpenCV 4, written here layer by layer:

- the res10 SSD face detector of OpenCV's samples (samples/dnn/face_detector/deploy.prototxt:
  ResNet-10 trunk with BatchNorm/Scale, dilated last block, conv6-conv9 extras, Normalize on
  layer_256_1_bn1, six PriorBox heads, DetectionOutput with ``clip: 1``), same layer names and
  parameters;
- MobileNet-SSD (chuanqi305/MobileNet-SSD, MobileNetSSD_deploy.prototxt: depthwise MobileNet v1
  trunk with merged BatchNorm, conv14-conv17 extras, six heads, 21 classes), same names and
  parameters;
- a small Faster R-CNN (RPN, Proposal, ROIPooling, fully connected heads) and a small R-FCN
  (RPN, Proposal, position-sensitive score maps, PSROIPooling, global average);
- a ResNeXt-50-style stem and blocks (grouped 3x3 convolutions) whose pool1 has
  ``ceil_mode: false``: 56 x 56 as OpenCV computes it, where Caffe's ceil rule gives 57 x 57.

Weights are seeded (``nets.fill_weights``); a few layers get larger gains so that random
weights give confident, non-trivial detections. Inputs: scikit-image's ``astronaut`` photo
(public domain / BSD), resized by the fixture script and stored in the fixture as uint8.
"""
import numpy as np

from .nets import bn_scale, conv, inputs_text, layer, relu

# -------------------------------------------------------------------------- SSD heads


def _heads(num_classes, priors, loc_k=3, pad=1):
    """mbox loc/conf convolutions, Permute, Flatten and PriorBox per (name prefix, source blob),
    then the Concats, the confidence Softmax and its Flatten."""
    text = ""
    for prefix, src, spec, boxes in priors:
        for kind, num in (("loc", boxes * 4), ("conf", boxes * num_classes)):
            name = f"{prefix}_mbox_{kind}"
            text += layer(name, "Convolution", [src], f"convolution_param {{ num_output: {num} "
                          f"pad: {pad} kernel_size: {loc_k} stride: 1 }}")
            text += layer(name + "_perm", "Permute", [name], "permute_param { order: 0 "
                          "order: 2 order: 3 order: 1 }")
            text += layer(name + "_flat", "Flatten", [name + "_perm"], "flatten_param { axis: 1 }")
        text += layer(f"{prefix}_mbox_priorbox", "PriorBox", [src, "data"],
                      f"prior_box_param {{ {spec} variance: 0.1 variance: 0.1 variance: 0.2 "
                      "variance: 0.2 offset: 0.5 }")
    for kind, axis in (("loc", 1), ("conf", 1), ("priorbox", 2)):
        suffix = "" if kind == "priorbox" else "_flat"
        text += layer(f"mbox_{kind}", "Concat",
                      [f"{p}_mbox_{kind}{suffix}" for p, _, _, _ in priors],
                      f"concat_param {{ axis: {axis} }}")
    text += layer("mbox_conf_reshape", "Reshape", ["mbox_conf"], "reshape_param { shape { "
                  f"dim: 0 dim: -1 dim: {num_classes} }} }}")
    text += layer("mbox_conf_softmax", "Softmax", ["mbox_conf_reshape"],
                  "softmax_param { axis: 2 }")
    text += layer("mbox_conf_flatten", "Flatten", ["mbox_conf_softmax"],
                  "flatten_param { axis: 1 }")
    return text


def _ar(min_size, max_size, ratios, step=None):
    spec = f"min_size: {min_size}"
    spec += f" max_size: {max_size}" if max_size else ""
    spec += "".join(f" aspect_ratio: {r}" for r in ratios) + " flip: true clip: false"
    spec += f" step: {step}" if step else ""
    return spec


def _bn(bn, scale, blob, top=None):
    top = top or blob
    return (layer(bn, "BatchNorm", [blob], tops=[top])
            + layer(scale, "Scale", [top], "scale_param { bias_term: true }", tops=[top]))


def res10_face_detector_text():
    t = 'input: "data"\ninput_shape {\n  dim: 1\n  dim: 3\n  dim: 300\n  dim: 300\n}\n'
    t += _bn("data_bn", "data_scale", "data", "data_bn")
    t += conv("conv1_h", "data_bn", 32, 7, stride=2, pad=3)
    t += _bn("conv1_bn_h", "conv1_scale_h", "conv1_h") + relu("conv1_relu", "conv1_h")
    t += layer("conv1_pool", "Pooling", ["conv1_h"], "pooling_param { kernel_size: 3 stride: 2 }")
    t += conv("layer_64_1_conv1_h", "conv1_pool", 32, 3, pad=1, bias=False)
    t += _bn("layer_64_1_bn2_h", "layer_64_1_scale2_h", "layer_64_1_conv1_h")
    t += relu("layer_64_1_relu2", "layer_64_1_conv1_h")
    t += conv("layer_64_1_conv2_h", "layer_64_1_conv1_h", 32, 3, pad=1, bias=False)
    t += layer("layer_64_1_sum", "Eltwise", ["layer_64_1_conv2_h", "conv1_pool"])
    # (width, stride, dilation, name suffixes of: bn1/scale1, conv1, bn2/scale2, conv2, expand)
    blocks = ((128, 128, 2, 1, ("_h", "_h", "", "", "_h")), (256, 256, 2, 1, ("",) * 5),
              (512, 128, 1, 2, ("", "_h", "_h", "_h", "_h")))
    prev = "layer_64_1_sum"
    for width, mid, stride, dil, (s1, c1, s2, c2, ex) in blocks:
        p = f"layer_{width}_1"
        out = min(width, 256)
        t += _bn(f"{p}_bn1{s1}", f"{p}_scale1{s1}", prev, f"{p}_bn1{s1}")
        t += relu(f"{p}_relu1", f"{p}_bn1{s1}")
        t += conv(f"{p}_conv1{c1}", f"{p}_bn1{s1}", mid, 3, stride=stride, pad=1, bias=False)
        t += _bn(f"{p}_bn2{s2}", f"{p}_scale2{s2}", f"{p}_conv1{c1}")
        t += relu(f"{p}_relu2", f"{p}_conv1{c1}")
        t += conv(f"{p}_conv2{c2}", f"{p}_conv1{c1}", out, 3, pad=dil, dilation=dil, bias=False)
        t += conv(f"{p}_conv_expand{ex}", f"{p}_bn1{s1}", out, 1, stride=stride, bias=False)
        t += layer(f"{p}_sum", "Eltwise", [f"{p}_conv2{c2}", f"{p}_conv_expand{ex}"])
        prev = f"{p}_sum"
    t += _bn("last_bn_h", "last_scale_h", prev)
    t += layer("last_relu", "ReLU", [prev], tops=["fc7"])
    prev = "fc7"
    for k, (n1, n2, s) in zip(range(6, 10), ((128, 256, 2), (64, 128, 2), (64, 128, 1),
                                             (64, 128, 1))):
        t += conv(f"conv{k}_1_h", prev, n1, 1) + relu(f"conv{k}_1_relu", f"conv{k}_1_h")
        t += conv(f"conv{k}_2_h", f"conv{k}_1_h", n2, 3, stride=s, pad=1)
        t += relu(f"conv{k}_2_relu", f"conv{k}_2_h")
        prev = f"conv{k}_2_h"
    t += layer("conv4_3_norm", "Normalize", ["layer_256_1_bn1"], "norm_param { across_spatial: "
               'false scale_filler { type: "constant" value: 20 } channel_shared: false }')
    priors = [("conv4_3_norm", "conv4_3_norm", _ar(30.0, 60.0, [2], 8), 4),
              ("fc7", "fc7", _ar(60.0, 111.0, [2, 3], 16), 6),
              ("conv6_2", "conv6_2_h", _ar(111.0, 162.0, [2, 3], 32), 6),
              ("conv7_2", "conv7_2_h", _ar(162.0, 213.0, [2, 3], 64), 6),
              ("conv8_2", "conv8_2_h", _ar(213.0, 264.0, [2], 100), 4),
              ("conv9_2", "conv9_2_h", _ar(264.0, 315.0, [2], 300), 4)]
    t += _heads(2, priors)
    t += layer("detection_out", "DetectionOutput", ["mbox_loc", "mbox_conf_flatten",
                                                    "mbox_priorbox"],
               "include { phase: TEST } detection_output_param { num_classes: 2 "
               "share_location: true background_label_id: 0 nms_param { nms_threshold: 0.45 "
               "top_k: 400 } code_type: CENTER_SIZE keep_top_k: 200 confidence_threshold: 0.2 "
               "clip: 1 }")
    return t


def mobilenet_ssd_text():
    t = 'name: "MobileNet-SSD"\n' + inputs_text({"data": (1, 3, 300, 300)})
    t += conv("conv0", "data", 32, 3, stride=2, pad=1) + relu("conv0/relu", "conv0")
    prev = "conv0"
    channels = 32
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
            (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]
    for i, (out, stride) in enumerate(plan, start=1):
        dw = f"conv{i}/dw"
        t += conv(dw, prev, channels, 3, stride=stride, pad=1, group=channels)
        t += relu(dw + "/relu", dw)
        t += conv(f"conv{i}", dw, out, 1) + relu(f"conv{i}/relu", f"conv{i}")
        prev, channels = f"conv{i}", out
    for k, (n1, n2) in zip(range(14, 18), ((256, 512), (128, 256), (128, 256), (64, 128))):
        t += conv(f"conv{k}_1", prev, n1, 1) + relu(f"conv{k}_1/relu", f"conv{k}_1")
        t += conv(f"conv{k}_2", f"conv{k}_1", n2, 3, stride=2, pad=1)
        t += relu(f"conv{k}_2/relu", f"conv{k}_2")
        prev = f"conv{k}_2"
    priors = [(s, s, _ar(lo, hi, ratios), boxes) for s, lo, hi, ratios, boxes in (
        ("conv11", 60.0, None, [2.0], 3), ("conv13", 105.0, 150.0, [2.0, 3.0], 6),
        ("conv14_2", 150.0, 195.0, [2.0, 3.0], 6), ("conv15_2", 195.0, 240.0, [2.0, 3.0], 6),
        ("conv16_2", 240.0, 285.0, [2.0, 3.0], 6), ("conv17_2", 285.0, 300.0, [2.0, 3.0], 6))]
    t += _heads(21, priors, loc_k=1, pad=0)
    t += layer("detection_out", "DetectionOutput", ["mbox_loc", "mbox_conf_flatten",
                                                    "mbox_priorbox"],
               "include { phase: TEST } detection_output_param { num_classes: 21 "
               "share_location: true background_label_id: 0 nms_param { nms_threshold: 0.45 "
               "top_k: 100 } code_type: CENTER_SIZE keep_top_k: 100 confidence_threshold: 0.3 }")
    return t


def _rpn(feature, anchors):
    t = conv("rpn_conv", feature, 32, 3, pad=1) + relu("rpn_relu", "rpn_conv")
    t += conv("rpn_cls_score", "rpn_conv", 2 * anchors, 1)
    t += conv("rpn_bbox_pred", "rpn_conv", 4 * anchors, 1)
    t += layer("rpn_cls_score_reshape", "Reshape", ["rpn_cls_score"],
               "reshape_param { shape { dim: 0 dim: 2 dim: -1 dim: 0 } }")
    t += layer("rpn_cls_prob", "Softmax", ["rpn_cls_score_reshape"])
    t += layer("rpn_cls_prob_reshape", "Reshape", ["rpn_cls_prob"],
               f"reshape_param {{ shape {{ dim: 0 dim: {2 * anchors} dim: -1 dim: 0 }} }}")
    t += layer("proposal", "Proposal", ["rpn_cls_prob_reshape", "rpn_bbox_pred", "im_info"],
               "proposal_param { feat_stride: 8 base_size: 8 ratio: 0.5 ratio: 1 ratio: 2 "
               "scale: 2 scale: 4 pre_nms_topn: 120 post_nms_topn: 20 nms_thresh: 0.7 }",
               tops=["rois"])
    return t


def _trunk():
    t = inputs_text({"data": (1, 3, 96, 128), "im_info": (1, 3)})
    t += conv("conv1", "data", 16, 3, stride=2, pad=1) + relu("relu1", "conv1")
    t += layer("pool1", "Pooling", ["conv1"], "pooling_param { pool: MAX kernel_size: 3 "
               "stride: 2 }")
    t += conv("conv2", "pool1", 32, 3, stride=2, pad=1) + relu("relu2", "conv2")
    return t


def faster_rcnn_text():
    t = 'name: "faster_rcnn_small"\n' + _trunk() + _rpn("conv2", 6)
    t += layer("roi_pool", "ROIPooling", ["conv2", "rois"], "roi_pooling_param { pooled_w: 4 "
               "pooled_h: 3 spatial_scale: 0.125 }")
    t += layer("fc6", "InnerProduct", ["roi_pool"], "inner_product_param { num_output: 48 }")
    t += relu("relu6", "fc6")
    t += layer("cls_score", "InnerProduct", ["fc6"], "inner_product_param { num_output: 5 }")
    t += layer("bbox_pred", "InnerProduct", ["fc6"], "inner_product_param { num_output: 20 }")
    t += layer("cls_prob", "Softmax", ["cls_score"])
    return t


def rfcn_text():
    t = 'name: "rfcn_small"\n' + _trunk() + _rpn("conv2", 6)
    t += conv("rfcn_cls", "conv2", 5 * 9, 1) + conv("rfcn_bbox", "conv2", 8 * 9, 1)
    t += layer("psroipooled_cls_rois", "PSROIPooling", ["rfcn_cls", "rois"],
               "psroi_pooling_param { spatial_scale: 0.125 output_dim: 5 group_size: 3 }")
    t += layer("ave_cls_score_rois", "Pooling", ["psroipooled_cls_rois"],
               "pooling_param { pool: AVE kernel_size: 3 stride: 3 }")
    t += layer("psroipooled_loc_rois", "PSROIPooling", ["rfcn_bbox", "rois"],
               "psroi_pooling_param { spatial_scale: 0.125 output_dim: 8 group_size: 3 }")
    t += layer("ave_bbox_pred_rois", "Pooling", ["psroipooled_loc_rois"],
               "pooling_param { pool: AVE kernel_size: 3 stride: 3 }")
    t += layer("cls_prob", "Softmax", ["ave_cls_score_rois"])
    return t


def resnext_text():
    t = 'name: "resnext50_style"\n' + inputs_text({"data": (1, 3, 224, 224)})
    t += conv("conv1", "data", 16, 7, stride=2, pad=3, bias=False)
    t += bn_scale("conv1", "conv1") + relu("conv1_relu", "conv1")
    t += layer("pool1", "Pooling", ["conv1"], "pooling_param { pool: MAX kernel_size: 3 "
               "stride: 2 pad: 1 ceil_mode: false }")
    prev, width = "pool1", 16
    for i, (mid, out, stride) in enumerate(((64, 64, 1), (64, 64, 1), (128, 128, 2)), start=1):
        p = f"stage1_unit{i}"
        t += conv(p + "_conv1", prev, mid, 1, bias=False) + bn_scale(p + "_1", p + "_conv1")
        t += relu(p + "_relu1", p + "_conv1")
        t += conv(p + "_conv2", p + "_conv1", mid, 3, stride=stride, pad=1, group=32, bias=False)
        t += bn_scale(p + "_2", p + "_conv2") + relu(p + "_relu2", p + "_conv2")
        t += conv(p + "_conv3", p + "_conv2", out, 1, bias=False) + bn_scale(p + "_3", p + "_conv3")
        short = prev
        if width != out or stride != 1:
            t += conv(p + "_sc", prev, out, 1, stride=stride, bias=False)
            t += bn_scale(p + "_sc", p + "_sc")
            short = p + "_sc"
        t += layer(p + "_plus", "Eltwise", [p + "_conv3", short]) + relu(p + "_relu", p + "_plus")
        prev, width = p + "_plus", out
    t += layer("pool5", "Pooling", [prev], "pooling_param { pool: AVE global_pooling: true }")
    t += layer("fc", "InnerProduct", ["pool5"], "inner_product_param { num_output: 10 }")
    t += layer("prob", "Softmax", ["fc"])
    return t


def blob(image, mean, scale=1.0):
    """cv2.dnn.blobFromImage of an already resized BGR uint8 image, in NumPy (float32)."""
    x = image.astype(np.float32) - np.asarray(mean, np.float32)
    return (x * np.float32(scale)).transpose(2, 0, 1)[None].copy()


FACE_MEAN = (104.0, 177.0, 123.0)
SSD_MEAN, SSD_SCALE = (127.5, 127.5, 127.5), 0.007843


def _photo_case(text, outputs, kinds, size, mean, scale=1.0, **extra):
    return dict(text=text, outputs=outputs, kinds=kinds, photo_size=size, mean=mean,
                scale=scale, store_inputs=False, **extra)


def face_detector():
    return _photo_case(res10_face_detector_text(),
                       ["detection_out", "mbox_loc", "mbox_conf_flatten", "mbox_priorbox"],
                       {"detection_out": "detections", "mbox_loc": "dense",
                        "mbox_conf_flatten": "dense", "mbox_priorbox": "dense"},
                       (300, 300), FACE_MEAN, seed=10, gains=FACE_GAINS,
                       scales={"conv4_3_norm": (10.0, 20.0)},
                       # data_bn normalizes raw pixels (mean-subtracted, not scaled)
                       variances={"data_bn": (2000.0, 5000.0)})


# Head gains that give random weights confident but unsaturated detections (142 above the
# 0.2 threshold, best 0.99 on the photo): small location offsets, moderate logits.
FACE_HEADS = ("conv4_3_norm", "fc7", "conv6_2", "conv7_2", "conv8_2", "conv9_2")
FACE_GAINS = {**{f"{h}_mbox_loc": 0.02 for h in FACE_HEADS},
              **{f"{h}_mbox_conf": 0.06 for h in FACE_HEADS}}


def mobilenet_ssd():
    gains = {f"{s}_mbox_conf": 6.0 for s in ("conv11", "conv13", "conv14_2", "conv15_2",
                                              "conv16_2", "conv17_2")}
    return _photo_case(mobilenet_ssd_text(),
                       ["detection_out", "mbox_loc", "mbox_conf_flatten"],
                       {"detection_out": "detections", "mbox_loc": "dense",
                        "mbox_conf_flatten": "dense"},
                       (300, 300), SSD_MEAN, SSD_SCALE, seed=11, gains=gains)


def faster_rcnn():
    return _photo_case(faster_rcnn_text(), ["rois", "cls_prob", "bbox_pred"],
                       {"rois": "rois", "cls_prob": "dense", "bbox_pred": "dense"},
                       (128, 96), SSD_MEAN, SSD_SCALE, seed=12, im_info=(96, 128, 1.0))


def rfcn():
    return _photo_case(rfcn_text(), ["rois", "cls_prob", "ave_bbox_pred_rois"],
                       {"rois": "rois", "cls_prob": "dense", "ave_bbox_pred_rois": "dense"},
                       (128, 96), SSD_MEAN, SSD_SCALE, seed=13, im_info=(96, 128, 1.0))


def resnext():
    return _photo_case(resnext_text(), ["pool1", "prob"], {"pool1": "dense", "prob": "dense"},
                       (224, 224), SSD_MEAN, SSD_SCALE, seed=14)


NETS = {
    "SSD face detector": face_detector,
    "MobileNet-SSD": mobilenet_ssd,
    "Faster R-CNN": faster_rcnn,
    "R-FCN": rfcn,
    "ResNeXt ceil_mode": resnext,
}
