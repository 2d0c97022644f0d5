"""Net surgery: CaffeNet's fully connected weights transplanted into a fully convolutional
CaffeNet. Section 2 of BVLC Caffe's ``examples/net_surgery.ipynb`` (BSD 2-Clause
licence, nets/LICENSE.caffe), its code cells as a script without the plots, under Python 3.

Loads the 233 MB ``bvlc_reference_caffenet.caffemodel`` (V1 layout; seeded random values
written by ``benchmarks/program_data.py``) into the deploy net and into
``bvlc_caffenet_full_conv.prototxt``, copies fc6/fc7/fc8 into fc6-conv/fc7-conv/fc8-conv
through ``.flat``, saves the new caffemodel, and classifies a 451 x 451 image into an 8 x 8 map
with ``forward_all``.
"""
import os
import sys
import tempfile


def setup(workdir):
    """Write the files this program reads into ``workdir`` (seeded random weights in the
    public files' layouts, images, mean, labels: ``benchmarks/program_data.py``)."""
    from _program_files import write     # this folder is the script's own when setup runs
    write(workdir)


def main():
    """The program, run in the folder ``setup`` wrote."""
    import numpy as np
    import caffe

    here = os.path.dirname(os.path.abspath(__file__))
    data = os.getcwd()   # the folder setup() wrote
    weights = os.path.join(data, "bvlc_reference_caffenet.caffemodel")

    caffe.set_mode_cpu()

    # Load the original network and extract the fully connected layers' parameters.
    net = caffe.Net(os.path.join(here, "nets", "caffenet_deploy.prototxt"), weights, caffe.TEST)
    params = ["fc6", "fc7", "fc8"]
    # fc_params = {name: (weights, biases)}
    fc_params = {pr: (net.params[pr][0].data, net.params[pr][1].data) for pr in params}
    for fc in params:
        print("{} weights are {} dimensional and biases are {} dimensional".format(
            fc, fc_params[fc][0].shape, fc_params[fc][1].shape))

    # Load the fully convolutional network to transplant the parameters.
    net_full_conv = caffe.Net(os.path.join(here, "nets", "caffenet_full_conv.prototxt"), weights,
                              caffe.TEST)
    params_full_conv = ["fc6-conv", "fc7-conv", "fc8-conv"]
    # conv_params = {name: (weights, biases)}
    conv_params = {pr: (net_full_conv.params[pr][0].data, net_full_conv.params[pr][1].data)
                   for pr in params_full_conv}
    for conv in params_full_conv:
        print("{} weights are {} dimensional and biases are {} dimensional".format(
            conv, conv_params[conv][0].shape, conv_params[conv][1].shape))

    for pr, pr_conv in zip(params, params_full_conv):
        conv_params[pr_conv][0].flat = fc_params[pr][0].flat  # flat unrolls the arrays
        conv_params[pr_conv][1][...] = fc_params[pr][1]

    with tempfile.TemporaryDirectory() as tmp:
        net_full_conv.save(os.path.join(tmp, "bvlc_caffenet_full_conv.caffemodel"))
        print("saved", os.path.getsize(os.path.join(tmp, "bvlc_caffenet_full_conv.caffemodel")),
              "bytes")

    # load input and configure preprocessing
    im = caffe.io.load_image(os.path.join(data, "cat.jpg"))
    transformer = caffe.io.Transformer({"data": net_full_conv.blobs["data"].data.shape})
    transformer.set_mean("data", np.load(os.path.join(data, "ilsvrc_2012_mean.npy")).mean(1).mean(1))
    transformer.set_transpose("data", (2, 0, 1))
    transformer.set_channel_swap("data", (2, 1, 0))
    transformer.set_raw_scale("data", 255.0)
    # make classification map by forward and print prediction indices at each location
    out = net_full_conv.forward_all(data=np.asarray([transformer.preprocess("data", im)]))
    print(out["prob"][0].argmax(axis=0))
    print("confidence of 281:", float(out["prob"][0, 281].sum()))


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"]:
        setup(sys.argv[2])
    else:
        main()
