"""Neural style transfer through CaffeNet: a script of the kind of fzliu/style-transfer
(``style.py``, BSD 2-Clause; Gatys et al. 2015), written for this suite under this project's
licence. It follows that program's use of pycaffe: Gram-matrix style and feature content
representations read from ``net.blobs``, then L-BFGS (scipy's ``minimize``, method
L-BFGS-B) over the input image, whose objective runs ``net.forward(end=...)`` and then the
backward pass layer by layer from Python: for each representation layer, from the top, the
style and content gradients are added into ``net.blobs[layer].diff`` and
``net.backward(start=layer, end=next_layer)`` carries them down to the next one.

The net is CaffeNet's deploy net with ``force_backward`` set, and the weights written by
``benchmarks/program_data.py`` (seeded random values in the 233 MB V1 layout). The content
and style images are the two test images of the same script, at 227 x 227.
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
    from google.protobuf import text_format
    from scipy.optimize import minimize
    import caffe

    here = os.path.dirname(os.path.abspath(__file__))
    data = os.getcwd()   # the folder setup() wrote

    STYLE_LAYERS = {"conv1": 0.2, "conv2": 0.2, "conv3": 0.2, "conv4": 0.2, "conv5": 0.2}
    CONTENT_LAYERS = {"conv4": 1.0}
    RATIO = 1e4          # style to content weight
    MAX_ITER = 60

    caffe.set_mode_cpu()
    model = caffe.io.caffe_pb2.NetParameter()
    text_format.Merge(open(os.path.join(here, "nets", "caffenet_deploy.prototxt")).read(), model)
    model.force_backward = True
    tmp = os.path.join(tempfile.mkdtemp(), "style.prototxt")
    open(tmp, "w").write(str(model))
    net = caffe.Net(tmp, os.path.join(data, "bvlc_reference_caffenet.caffemodel"), caffe.TEST)
    net.blobs["data"].reshape(1, 3, 227, 227)

    transformer = caffe.io.Transformer({"data": net.blobs["data"].data.shape})
    transformer.set_mean("data", np.load(os.path.join(data, "ilsvrc_2012_mean.npy")).mean(1).mean(1))
    transformer.set_channel_swap("data", (2, 1, 0))
    transformer.set_transpose("data", (2, 0, 1))
    transformer.set_raw_scale("data", 255)

    layers = [l for l in net.blobs if l in STYLE_LAYERS or l in CONTENT_LAYERS]


    def gram(feats):
        f = feats.reshape(feats.shape[0], -1)
        return f.dot(f.T)


    def representations(img):
        """Gram matrices (style) and features (content) of the representation layers."""
        net.blobs["data"].data[0] = transformer.preprocess("data", img)
        net.forward(end=layers[-1])
        grams = {l: gram(net.blobs[l].data[0]) for l in STYLE_LAYERS}
        feats = {l: net.blobs[l].data[0].copy() for l in CONTENT_LAYERS}
        return grams, feats


    def style_grad(feats, target_gram):
        f = feats.reshape(feats.shape[0], -1)
        count = f.size
        diff = f.dot(f.T) - target_gram
        loss = (diff ** 2).sum() / (4.0 * count ** 2)
        grad = diff.dot(f) * (f > 0) / count ** 2
        return loss, grad


    def content_grad(feats, target):
        diff = feats - target
        return 0.5 * (diff ** 2).sum(), diff * (feats > 0)


    def objective(x, style_grams, content_feats):
        """Loss and gradient for input ``x``: forward to the top layer, then backward layer by
        layer with the style and content gradients added into the top diffs."""
        net.blobs["data"].data[0] = x.reshape(net.blobs["data"].data.shape[1:])
        net.forward(end=layers[-1])
        loss = 0.0
        net.blobs[layers[-1]].diff[:] = 0
        for i, layer in enumerate(reversed(layers)):
            next_layer = None if i == len(layers) - 1 else layers[-i - 2]
            grad = net.blobs[layer].diff[0]
            feats = net.blobs[layer].data[0]
            if layer in STYLE_LAYERS:
                l, g = style_grad(feats, style_grams[layer])
                loss += STYLE_LAYERS[layer] * l * RATIO
                grad += STYLE_LAYERS[layer] * g.reshape(grad.shape) * RATIO
            if layer in CONTENT_LAYERS:
                l, g = content_grad(feats, content_feats[layer])
                loss += CONTENT_LAYERS[layer] * l
                grad += CONTENT_LAYERS[layer] * g
            net.backward(start=layer, end=next_layer)
            if next_layer is None:
                grad = net.blobs["data"].diff[0]
            else:
                grad = net.blobs[next_layer].diff[0]
        return loss, grad.flatten().astype(np.float64)


    content = caffe.io.load_image(os.path.join(data, "cat.jpg"))
    style = caffe.io.load_image(os.path.join(data, "sky.jpg"))
    style_grams, _ = representations(style)
    _, content_feats = representations(content)

    x0 = transformer.preprocess("data", content).flatten().astype(np.float64)
    mean = transformer.mean["data"].reshape(3, 1, 1)
    lo = np.broadcast_to(-mean, net.blobs["data"].data.shape[1:]).flatten()
    bounds = list(zip(lo, lo + 255))
    result = minimize(objective, x0, args=(style_grams, content_feats), method="L-BFGS-B",
                      jac=True, bounds=bounds, options={"maxiter": MAX_ITER})
    print("iterations", result.nit, "evaluations", result.nfev, "loss", float(result.fun))


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"]:
        setup(sys.argv[2])
    else:
        main()
