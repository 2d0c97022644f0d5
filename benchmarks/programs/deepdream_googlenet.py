"""Gradient ascent on the input image through GoogLeNet at several scales, with pycaffe: the
deploy definition is read into a ``NetParameter`` with protobuf's text format,
``force_backward`` is set and the result written back out; ``caffe.Classifier`` loads it (mean
pixel 104 / 116 / 122, channels swapped to BGR). Each ascent step shifts the input by a random
jitter, runs ``net.forward(end=layer)``, sets the layer's diff to its data (the gradient of half
its squared L2 norm), runs ``net.backward(start=layer)`` and moves the input along the
normalised gradient, clipped to the pixel range. A dream climbs 4 scales of the image (each
1/1.4 of the next, ``scipy.ndimage.zoom``), 10 steps per scale, reshaping the input blob at
each; the program dreams at ``inception_4c/output``, at ``inception_3b/5x5_reduce``, and three
times more on an image zoomed in a little after each (``scipy.ndimage.affine_transform``):
200 forward and backward passes in all, the work of Google's deepdream example.

Part of this project's benchmark suite, under the project's licence (Apache-2.0, LICENSE at
the root). ``setup`` writes the files it reads (``benchmarks/program_data.py``: BVLC's
GoogLeNet deploy definition copied from ../shared/public-nets, seeded random weights in the
layout of ``bvlc_googlenet.caffemodel``, a 240 x 320 image).
"""
import os
import sys
import tempfile

SCALES, STEPS, RATIO = 4, 10, 1.4
STEP_SIZE, JITTER = 1.5, 32


def setup(workdir):
    from _program_files import write     # this folder is the script's own here
    write(workdir)


def main():
    """Run in the folder ``setup`` wrote."""
    import numpy as np
    import PIL.Image
    from google.protobuf import text_format
    from scipy import ndimage
    import caffe

    definition = caffe.io.caffe_pb2.NetParameter()
    with open("googlenet_deploy.prototxt") as f:
        text_format.Merge(f.read(), definition)
    definition.force_backward = True          # diffs down to the input blob
    with_backward = os.path.join(tempfile.mkdtemp(), "googlenet_backward.prototxt")
    with open(with_backward, "w") as f:
        f.write(text_format.MessageToString(definition))
    net = caffe.Classifier(with_backward, "bvlc_googlenet.caffemodel",
                           mean=np.float32([104.0, 116.0, 122.0]), channel_swap=(2, 1, 0))
    mean = net.transformer.mean["data"]       # per channel, BGR

    def to_net(rgb):
        """H x W x RGB floats -> BGR planes with the mean removed."""
        return np.float32(rgb.transpose(2, 0, 1)[::-1]) - mean

    def from_net(planes):
        return (planes + mean)[::-1].transpose(1, 2, 0)

    def ascend(layer):
        """One jittered, normalised gradient step on the input blob, towards a larger L2
        norm of ``layer``."""
        image = net.blobs["data"]
        dy, dx = np.random.randint(-JITTER, JITTER + 1, 2)
        image.data[0] = np.roll(image.data[0], (dy, dx), axis=(1, 2))
        net.forward(end=layer)
        net.blobs[layer].diff[...] = net.blobs[layer].data
        net.backward(start=layer)
        grad = image.diff[0]
        image.data[0] += STEP_SIZE / np.abs(grad).mean() * grad
        image.data[0] = np.roll(image.data[0], (-dy, -dx), axis=(1, 2))
        image.data[0] = np.clip(image.data[0], -mean, 255 - mean)

    def dream(rgb, layer="inception_4c/output"):
        pyramid = [to_net(rgb)]
        for _ in range(SCALES - 1):
            pyramid.append(ndimage.zoom(pyramid[-1], (1, 1 / RATIO, 1 / RATIO), order=1))
        added = np.zeros_like(pyramid[-1])
        for level, base in enumerate(reversed(pyramid)):
            height, width = base.shape[1:]
            if level:
                added = ndimage.zoom(added, (1, height / added.shape[1], width / added.shape[2]),
                                     order=1)
            net.blobs["data"].reshape(1, 3, height, width)
            net.blobs["data"].data[0] = base + added
            for step in range(STEPS):
                ascend(layer)
                print(level, step, layer, from_net(net.blobs["data"].data[0]).shape)
            added = net.blobs["data"].data[0] - base
        return from_net(net.blobs["data"].data[0])

    np.random.seed(0)
    picture = np.float32(PIL.Image.open("sky.jpg"))
    dream(picture)
    dream(picture, layer="inception_3b/5x5_reduce")
    frame, shrink = picture, 0.05
    height, width = frame.shape[:2]
    for _ in range(3):
        frame = dream(frame)
        frame = ndimage.affine_transform(frame, [1 - shrink, 1 - shrink, 1],
                                         [height * shrink / 2, width * shrink / 2, 0], order=1)
    print("mean of the last frame:", float(frame.mean()))


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"]:
        setup(sys.argv[2])
    else:
        main()
