"""Classify images with a trained Caffe net from the shell, the way pycaffe's users do:
``caffe.Classifier`` (its ``caffe.io.Transformer`` does the pre-processing) on an image file,
a folder of images or a ``.npy`` batch of H x W x K images in [0, 1], averaging the ten crops
of ``caffe.io.oversample`` unless ``--center`` asks for the central crop alone; the class
probabilities go to a ``.npy`` file.

    python classify_cli.py INPUT OUT.npy --deploy NET.prototxt --weights NET.caffemodel
        [--resize H,W] [--mean MEAN.npy] [--order 2,1,0] [--raw-scale 255] [--center]
"""
import argparse
import os
import sys

import numpy as np

import caffe


def _int_list(text):
    """'2,1,0' -> [2, 1, 0]; an empty string means: not given."""
    return [int(part) for part in text.split(",")] if text else None


def build_cli():
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("inputs", help="an image file, a folder of images, or a .npy batch")
    cli.add_argument("output", help="where the probabilities go (.npy)")
    cli.add_argument("--deploy", required=True, help="the deploy net definition (prototxt)")
    cli.add_argument("--weights", required=True, help="its trained weights (caffemodel)")
    cli.add_argument("--resize", default="256,256", type=_int_list,
                     help="height,width every image is resized to before cropping")
    cli.add_argument("--mean", default="", help="a .npy mean (per channel, or K x H x W)")
    cli.add_argument("--order", default="2,1,0", type=_int_list,
                     help="channel order fed to the net ('' keeps the image's RGB order)")
    cli.add_argument("--raw-scale", type=float, default=255.0,
                     help="factor from the [0, 1] images to the net's raw range")
    cli.add_argument("--input-scale", type=float, default=None,
                     help="factor applied after the mean is subtracted")
    cli.add_argument("--center", action="store_true",
                     help="the central crop alone instead of the mean over ten crops")
    cli.add_argument("--suffix", default=".jpg", help="image files taken from a folder")
    return cli


def read_inputs(where, suffix):
    """A list (or array) of H x W x K float images in [0, 1]."""
    where = os.path.expanduser(where)
    if where.endswith(".npy"):
        batch = np.load(where)
        print(f"read a batch of {len(batch)} from {where}")
        return batch
    if os.path.isdir(where):
        names = sorted(n for n in os.listdir(where) if n.endswith(suffix))
        print(f"read {len(names)} image(s) from the folder {where}")
        return [caffe.io.load_image(os.path.join(where, n)) for n in names]
    print(f"read 1 image from {where}")
    return [caffe.io.load_image(where)]


def main(argv=None):
    options = build_cli().parse_args(argv)
    caffe.set_mode_cpu()
    mean = np.load(options.mean) if options.mean else None
    model = caffe.Classifier(options.deploy, options.weights, image_dims=options.resize,
                             mean=mean, raw_scale=options.raw_scale,
                             input_scale=options.input_scale, channel_swap=options.order)
    blob = model.inputs[0]
    crop = "x".join(str(int(d)) for d in model.crop_dims)
    print(f"net input {blob!r}, {crop} crops, "
          f"{'the center one' if options.center else 'ten averaged'} per image")
    images = read_inputs(options.inputs, options.suffix)
    probabilities = model.predict(images, oversample=not options.center)
    print(f"probabilities {probabilities.shape}; the input blob stays "
          f"{model.blobs[blob].data.shape}")
    print("best class per input:", " ".join(str(int(k)) for k in probabilities.argmax(1)))
    np.save(options.output, probabilities)
    print(f"wrote {options.output}")
    return probabilities


if __name__ == "__main__":
    main(sys.argv[1:])
