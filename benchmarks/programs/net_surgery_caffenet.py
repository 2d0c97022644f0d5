"""Net surgery with pycaffe: CaffeNet's fully connected layers become convolutions. The deploy
net and the fully convolutional net (``fc6-conv``, ``fc7-conv``, ``fc8-conv`` in place of
``fc6``-``fc8``) are both loaded from the 233 MB V1-format caffemodel; each inner product's
weights are poured into its convolution through ``.flat`` and its biases copied, the new net is
saved with ``net.save``, and a 451 x 451 image (a ``caffe.io.Transformer`` as for
classification) goes through ``forward_all``, giving an 8 x 8 map of class scores: the work of
the second part of Caffe's net surgery example.

Part of this project's benchmark suite, under the project's licence (Apache-2.0, LICENSE at
the root). ``setup`` writes the files it reads (``benchmarks/program_data.py``: BVLC's two
definitions copied from ../shared/public-nets, seeded random weights, mean, a test image).
"""
import os
import sys
import tempfile

PAIRS = (("fc6", "fc6-conv"), ("fc7", "fc7-conv"), ("fc8", "fc8-conv"))


def setup(workdir):
    from _program_files import write     # this folder is the script's own here
    write(workdir)


def main():
    """Run in the folder ``setup`` wrote."""
    import numpy as np
    import caffe

    caffe.set_mode_cpu()
    weights = "bvlc_reference_caffenet.caffemodel"
    dense = caffe.Net("caffenet_deploy.prototxt", weights, caffe.TEST)
    conv = caffe.Net("caffenet_full_conv.prototxt", weights, caffe.TEST)
    for fc, as_conv in PAIRS:
        (w_fc, b_fc), (w_conv, b_conv) = dense.params[fc], conv.params[as_conv]
        print(f"{fc} {w_fc.data.shape} + {b_fc.data.shape} -> "
              f"{as_conv} {w_conv.data.shape} + {b_conv.data.shape}")
        w_conv.data.flat = w_fc.data.flat          # same numbers, 4-D layout
        b_conv.data[...] = b_fc.data

    with tempfile.TemporaryDirectory() as folder:
        saved = os.path.join(folder, "caffenet_full_conv.caffemodel")
        conv.save(saved)
        print("saved the converted net:", os.path.getsize(saved), "bytes")

    prep = caffe.io.Transformer({"data": conv.blobs["data"].data.shape})
    prep.set_transpose("data", (2, 0, 1))
    prep.set_channel_swap("data", (2, 1, 0))
    prep.set_raw_scale("data", 255.0)
    prep.set_mean("data", np.load("ilsvrc_2012_mean.npy").mean(axis=(1, 2)))
    picture = caffe.io.load_image("cat.jpg")
    scores = conv.forward_all(data=np.asarray([prep.preprocess("data", picture)]))["prob"][0]
    print("best class per position:")
    print(scores.argmax(axis=0))
    print("summed score of class 281:", float(scores[281].sum()))


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"]:
        setup(sys.argv[2])
    else:
        main()
