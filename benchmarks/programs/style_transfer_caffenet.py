"""Neural style transfer through CaffeNet (Gatys, Ecker and Bethge 2015) with pycaffe, the kind
of program that drives Caffe from Python with the backward pass cut into pieces: the deploy
definition gets ``force_backward`` through protobuf's text format, the input is 1 x 3 x 227 x
227, and scipy's L-BFGS-B (60 iterations, the pixel range as bounds) minimises over the input
image a style loss (Gram matrices of conv1-conv5, weight 0.2 each, times 10^4) plus a content
loss (conv4's features). Each evaluation runs ``net.forward(end="conv5")``, then, from the top
representation layer down, writes that layer's own loss gradient into
``net.blobs[layer].diff`` and runs ``net.backward(start=layer, end=<the layer below>)``, so the
gradients of all layers reach the input blob.

Part of this project's benchmark suite, under the project's licence (Apache-2.0, LICENSE at
the root). ``setup`` writes the files it reads (``benchmarks/program_data.py``: BVLC's CaffeNet
deploy definition copied from ../shared/public-nets, seeded random weights in the 233 MB V1
layout, a mean image and the two test images, used as content and style at 227 x 227).
"""
import os
import sys
import tempfile

STYLE = {"conv1": 0.2, "conv2": 0.2, "conv3": 0.2, "conv4": 0.2, "conv5": 0.2}
CONTENT = {"conv4": 1.0}
STYLE_SCALE = 1e4            # style against content
ITERATIONS = 60


def setup(workdir):
    from _program_files import write     # this folder is the script's own here
    write(workdir)


def main():
    """Run in the folder ``setup`` wrote."""
    import numpy as np
    from google.protobuf import text_format
    from scipy.optimize import minimize
    import caffe

    caffe.set_mode_cpu()
    definition = caffe.io.caffe_pb2.NetParameter()
    with open("caffenet_deploy.prototxt") as f:
        text_format.Merge(f.read(), definition)
    definition.force_backward = True
    with_backward = os.path.join(tempfile.mkdtemp(), "caffenet_backward.prototxt")
    with open(with_backward, "w") as f:
        f.write(text_format.MessageToString(definition))
    net = caffe.Net(with_backward, "bvlc_reference_caffenet.caffemodel", caffe.TEST)
    net.blobs["data"].reshape(1, 3, 227, 227)
    image_shape = net.blobs["data"].data.shape[1:]

    prep = caffe.io.Transformer({"data": net.blobs["data"].data.shape})
    prep.set_transpose("data", (2, 0, 1))
    prep.set_channel_swap("data", (2, 1, 0))
    prep.set_raw_scale("data", 255)
    prep.set_mean("data", np.load("ilsvrc_2012_mean.npy").mean(axis=(1, 2)))

    # the representation layers, bottom to top in the net's order, each with the one below
    chain = [name for name in net.blobs if name in STYLE or name in CONTENT]
    below = dict(zip(chain, [None] + chain[:-1]))

    def features(picture):
        """{layer: its C x H x W response} to a picture."""
        net.blobs["data"].data[0] = prep.preprocess("data", picture)
        net.forward(end=chain[-1])
        return {name: net.blobs[name].data[0].copy() for name in chain}

    def gram(response):
        flat = response.reshape(len(response), -1)
        return flat @ flat.T

    style_targets = {name: gram(r) for name, r in features(caffe.io.load_image("sky.jpg")).items()
                     if name in STYLE}
    content_picture = caffe.io.load_image("cat.jpg")
    content_targets = {name: r for name, r in features(content_picture).items()
                       if name in CONTENT}

    def own_terms(name, response):
        """The loss of one layer and its gradient with respect to the layer's response."""
        loss, grad = 0.0, np.zeros_like(response)
        active = response > 0
        if name in STYLE:
            flat = response.reshape(len(response), -1)
            size = flat.size
            error = flat @ flat.T - style_targets[name]
            weight = STYLE[name] * STYLE_SCALE
            loss += weight * float((error ** 2).sum()) / (4.0 * size * size)
            grad += weight / (size * size) * (error @ flat).reshape(response.shape) * active
        if name in CONTENT:
            error = response - content_targets[name]
            loss += CONTENT[name] * 0.5 * float((error ** 2).sum())
            grad += CONTENT[name] * error * active
        return loss, grad

    def loss_and_gradient(x):
        net.blobs["data"].data[0] = x.reshape(image_shape)
        net.forward(end=chain[-1])
        net.blobs[chain[-1]].diff[...] = 0
        total = 0.0
        for name in reversed(chain):
            loss, grad = own_terms(name, net.blobs[name].data[0])
            total += loss
            net.blobs[name].diff[0] += grad
            net.backward(start=name, end=below[name])
        return total, net.blobs["data"].diff[0].ravel().astype(np.float64)

    start = prep.preprocess("data", content_picture).ravel().astype(np.float64)
    low = np.broadcast_to(-prep.mean["data"].reshape(3, 1, 1), image_shape).ravel()
    result = minimize(loss_and_gradient, start, method="L-BFGS-B", jac=True,
                      bounds=list(zip(low, low + 255)), options={"maxiter": ITERATIONS})
    print(f"{result.nit} iterations, {result.nfev} evaluations, loss {float(result.fun):.6g}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"]:
        setup(sys.argv[2])
    else:
        main()
