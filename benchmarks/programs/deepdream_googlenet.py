"""Input-gradient ascent through GoogLeNet at several image sizes: the program of Google's
deepdream notebook (github.com/google/deepdream ``dream.ipynb``, Apache licence 2.0), its
code cells as a script under Python 3, without the display and image saving.

GoogLeNet's deploy net is loaded with ``force_backward`` set through protobuf text, as the
notebook does, with the weights written by ``benchmarks/program_data.py`` (seeded random
values in the layout of ``bvlc_googlenet.caffemodel``). Each ``deepdream`` call climbs the
gradient of an L2 objective at a layer through 4 octaves (the image zoomed by 1/1.4 each,
``src.reshape`` between them), 10 steps an octave: ``net.forward(end=...)``, the objective
written into the top diff, ``net.backward(start=...)``, a jittered step on the input. The
notebook's sequence runs: a dream at ``inception_4c/output``, one at
``inception_3b/5x5_reduce``, and three frames of the zoom loop: 200 forward/backward passes.
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
    import PIL.Image
    import scipy.ndimage as nd
    from google.protobuf import text_format
    import caffe

    here = os.path.dirname(os.path.abspath(__file__))
    data = os.getcwd()   # the folder setup() wrote

    net_fn = os.path.join(here, "nets", "googlenet_deploy.prototxt")
    param_fn = os.path.join(data, "bvlc_googlenet.caffemodel")

    # Patching model to be able to compute gradients.
    # Note that you can also manually add "force_backward: true" line to "deploy.prototxt".
    model = caffe.io.caffe_pb2.NetParameter()
    text_format.Merge(open(net_fn).read(), model)
    model.force_backward = True
    tmp_dir = tempfile.mkdtemp()
    open(os.path.join(tmp_dir, "tmp.prototxt"), "w").write(str(model))

    net = caffe.Classifier(os.path.join(tmp_dir, "tmp.prototxt"), param_fn,
                           mean=np.float32([104.0, 116.0, 122.0]),  # ImageNet mean, training set dependent
                           channel_swap=(2, 1, 0))  # the reference model has channels in BGR order instead of RGB


    # a couple of utility functions for converting to and from Caffe's input image layout
    def preprocess(net, img):
        return np.float32(np.rollaxis(img, 2)[::-1]) - net.transformer.mean["data"]


    def deprocess(net, img):
        return np.dstack((img + net.transformer.mean["data"])[::-1])


    def objective_L2(dst):
        dst.diff[:] = dst.data


    def make_step(net, step_size=1.5, end="inception_4c/output",
                  jitter=32, clip=True, objective=objective_L2):
        """Basic gradient ascent step."""
        src = net.blobs["data"]  # input image is stored in Net's 'data' blob
        dst = net.blobs[end]

        ox, oy = np.random.randint(-jitter, jitter + 1, 2)
        src.data[0] = np.roll(np.roll(src.data[0], ox, -1), oy, -2)  # apply jitter shift

        net.forward(end=end)
        objective(dst)  # specify the optimization objective
        net.backward(start=end)
        g = src.diff[0]
        # apply normalized ascent step to the input image
        src.data[:] += step_size / np.abs(g).mean() * g

        src.data[0] = np.roll(np.roll(src.data[0], -ox, -1), -oy, -2)  # unshift image

        if clip:
            bias = net.transformer.mean["data"]
            src.data[:] = np.clip(src.data, -bias, 255 - bias)


    def deepdream(net, base_img, iter_n=10, octave_n=4, octave_scale=1.4,
                  end="inception_4c/output", clip=True, **step_params):
        # prepare base images for all octaves
        octaves = [preprocess(net, base_img)]
        for i in range(octave_n - 1):
            octaves.append(nd.zoom(octaves[-1], (1, 1.0 / octave_scale, 1.0 / octave_scale), order=1))

        src = net.blobs["data"]
        detail = np.zeros_like(octaves[-1])  # allocate image for network-produced details
        for octave, octave_base in enumerate(octaves[::-1]):
            h, w = octave_base.shape[-2:]
            if octave > 0:
                # upscale details from the previous octave
                h1, w1 = detail.shape[-2:]
                detail = nd.zoom(detail, (1, 1.0 * h / h1, 1.0 * w / w1), order=1)

            src.reshape(1, 3, h, w)  # resize the network's input image size
            src.data[0] = octave_base + detail
            for i in range(iter_n):
                make_step(net, end=end, clip=clip, **step_params)

                # visualization
                vis = deprocess(net, src.data[0])
                if not clip:  # adjust image contrast if clipping is disabled
                    vis = vis * (255.0 / np.percentile(vis, 99.98))
                print(octave, i, end, vis.shape)

            # extract details produced on the current octave
            detail = src.data[0] - octave_base
        # returning the resulting image
        return deprocess(net, src.data[0])


    np.random.seed(0)
    img = np.float32(PIL.Image.open(os.path.join(data, "sky.jpg")))
    _ = deepdream(net, img)
    _ = deepdream(net, img, end="inception_3b/5x5_reduce")

    frame = img
    h, w = frame.shape[:2]
    s = 0.05  # scale coefficient
    for i in range(3):
        frame = deepdream(net, frame)
        frame = nd.affine_transform(frame, [1 - s, 1 - s, 1], [h * s / 2, w * s / 2, 0], order=1)
    print("final mean", float(frame.mean()))


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"]:
        setup(sys.argv[2])
    else:
        main()
