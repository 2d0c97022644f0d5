"""ResNet-50 in Kaiming He's Caffe layout, as the per-frame net of the real-data path.

Writes ``prototxt/resnet50_ferplus_train_val.prototxt`` and ``..._deploy.prototxt``: the
layer names, shapes and settings of He et al.'s published ``ResNet-50-deploy.prototxt``
(conv1 7 x 7 / 2 without bias, then BatchNorm with global statistics and Scale with bias after
every convolution; bottleneck stages res2a-c, res3a-d, res4a-f, res5a-c of 1 x 1, 3 x 3, 1 x 1
convolutions with 64/128/256/512 and 4x as many outputs, a 1 x 1 projection branch1 in the
first block of each stage, the stride 2 on branch1 and branch2a; 7 x 7 average pooling), so
that a caffemodel of that layout (ImageNet's ``ResNet-50-model.caffemodel``, or a face
model with the same layer names) loads by layer name. The 1000-way ``fc1000`` becomes
``fc_emotion`` (a new name, so it is not copied from the ImageNet weights) with 8 outputs.
Inputs: 224 x 224 BGR faces with the ImageNet mean subtracted (FER+'s 48 x 48 grey faces
are stored as PNG images and enlarged to 256 x 256 by the ImageData layer, then cropped to
224 and mirrored at random, Caffe's usual fine-tuning transform). BatchNorm keeps the
pre-trained statistics (``use_global_stats: true``) in training too, as He et al.'s models
are fine-tuned.
"""
from __future__ import annotations

__all__ = ["STAGES", "net_text", "write_prototxt"]

STAGES = (("2", 64, 3, 1), ("3", 128, 4, 2), ("4", 256, 6, 2), ("5", 512, 3, 2))
_LETTERS = "abcdef"


def _conv(name, bottom, out, k, stride, pad):
    s = f"  convolution_param {{ num_output: {out}  kernel_size: {k}"
    if pad:
        s += f"  pad: {pad}"
    if stride != 1:
        s += f"  stride: {stride}"
    s += "  bias_term: false  weight_filler { type: \"msra\" } }"
    return (f'layer {{\n  name: "{name}"  type: "Convolution"  bottom: "{bottom}"  '
            f'top: "{name}"\n{s}\n}}\n')


def _bn_scale(suffix, top):
    return (f'layer {{\n  name: "bn{suffix}"  type: "BatchNorm"  bottom: "{top}"  top: "{top}"\n'
            '  batch_norm_param { use_global_stats: true }\n}\n'
            f'layer {{\n  name: "scale{suffix}"  type: "Scale"  bottom: "{top}"  top: "{top}"\n'
            '  scale_param { bias_term: true }\n}\n')


def _relu(name, top):
    return f'layer {{ name: "{name}"  type: "ReLU"  bottom: "{top}"  top: "{top}" }}\n'


def _body():
    s = _conv("conv1", "data", 64, 7, 2, 3) + _bn_scale("_conv1", "conv1")
    s += _relu("conv1_relu", "conv1")
    s += ('layer {\n  name: "pool1"  type: "Pooling"  bottom: "conv1"  top: "pool1"\n'
          '  pooling_param { pool: MAX  kernel_size: 3  stride: 2 }\n}\n')
    bottom = "pool1"
    for stage, width, blocks, stride in STAGES:
        for b in range(blocks):
            block = f"{stage}{_LETTERS[b]}"
            first = b == 0
            st = stride if first else 1
            if first:
                s += _conv(f"res{block}_branch1", bottom, 4 * width, 1, st, 0)
                s += _bn_scale(f"{block}_branch1", f"res{block}_branch1")
                shortcut = f"res{block}_branch1"
            else:
                shortcut = bottom
            s += _conv(f"res{block}_branch2a", bottom, width, 1, st, 0)
            s += _bn_scale(f"{block}_branch2a", f"res{block}_branch2a")
            s += _relu(f"res{block}_branch2a_relu", f"res{block}_branch2a")
            s += _conv(f"res{block}_branch2b", f"res{block}_branch2a", width, 3, 1, 1)
            s += _bn_scale(f"{block}_branch2b", f"res{block}_branch2b")
            s += _relu(f"res{block}_branch2b_relu", f"res{block}_branch2b")
            s += _conv(f"res{block}_branch2c", f"res{block}_branch2b", 4 * width, 1, 1, 0)
            s += _bn_scale(f"{block}_branch2c", f"res{block}_branch2c")
            s += (f'layer {{\n  name: "res{block}"  type: "Eltwise"  bottom: "{shortcut}"  '
                  f'bottom: "res{block}_branch2c"  top: "res{block}"\n}}\n')
            s += _relu(f"res{block}_relu", f"res{block}")
            bottom = f"res{block}"
    s += ('layer {\n  name: "pool5"  type: "Pooling"  bottom: "res5c"  top: "pool5"\n'
          '  pooling_param { pool: AVE  kernel_size: 7  stride: 1 }\n}\n')
    return s


def _head(classes):
    return ('layer {\n  name: "fc_emotion"  type: "InnerProduct"  bottom: "pool5"  '
            'top: "fc_emotion"\n  param { lr_mult: 10  decay_mult: 1 }  '
            'param { lr_mult: 20  decay_mult: 0 }\n'
            f'  inner_product_param {{ num_output: {classes}\n'
            '    weight_filler { type: "gaussian"  std: 0.01 }\n'
            '    bias_filler { type: "constant"  value: 0 } }\n}\n')


_TRANSFORM = ("  transform_param {{ mirror: {mirror}  crop_size: 224  mean_value: 104  "
              "mean_value: 117  mean_value: 123 }}\n")


def net_text(kind, classes=8):
    """The prototxt text: ``kind`` 'train_val' or 'deploy'."""
    head = ("# ResNet-50 (He et al. 2016, the layout of ResNet-50-deploy.prototxt) fine-tuned\n"
            "# to classify faces (Maclean 2021's per-frame net); written by\n"
            "# reproduction/classification/resnet50.py.\n")
    if kind == "deploy":
        data = ('name: "resnet50_emotion"\nlayer {\n  name: "data"  type: "Input"  top: "data"\n'
                '  input_param { shape { dim: 1  dim: 3  dim: 224  dim: 224 } }\n}\n')
        tail = 'layer { name: "prob"  type: "Softmax"  bottom: "fc_emotion"  top: "prob" }\n'
    elif kind == "train_val":
        data = 'name: "resnet50_emotion"\n'
        for phase, source, mirror, batch in (("TRAIN", "train", "true", 16),
                                             ("TEST", "test", "false", 16)):
            data += ('layer {\n  name: "data"  type: "ImageData"  top: "data"  top: "label"\n'
                     f'  include {{ phase: {phase} }}\n' + _TRANSFORM.format(mirror=mirror)
                     + f'  image_data_param {{ source: "DATA/{source}_images.txt"  '
                     f'batch_size: {batch}  new_height: 256  new_width: 256'
                     + ("  shuffle: true" if phase == "TRAIN" else "") + " }\n}\n")
        tail = ('layer { name: "loss"  type: "SoftmaxWithLoss"  bottom: "fc_emotion"  '
                'bottom: "label"  top: "loss" }\n'
                'layer {\n  name: "accuracy"  type: "Accuracy"  bottom: "fc_emotion"  '
                'bottom: "label"  top: "accuracy"\n  include { phase: TEST }\n}\n')
    else:
        raise ValueError(f"kind: expected 'train_val' or 'deploy', got {kind!r}")
    return head + data + _body() + _head(classes) + tail


def write_prototxt(folder):
    """Write both files into ``folder`` (the repository's ``prototxt/``)."""
    import os

    from caffe_compat.io.atomic import write_text_atomic
    for kind in ("train_val", "deploy"):
        write_text_atomic(os.path.join(folder, f"resnet50_ferplus_{kind}.prototxt"),
                          net_text(kind))


if __name__ == "__main__":
    import os
    write_prototxt(os.path.join(os.path.dirname(__file__), "..", "..", "prototxt"))
