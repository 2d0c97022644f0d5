"""One image classified by CaffeNet in a batch of 50, through pycaffe's documented calls:
``caffe.Net(definition, weights, caffe.TEST)`` on the 233 MB V1-format caffemodel,
``caffe.io.load_image``, a ``caffe.io.Transformer`` (transpose to channels first, the mean
pixel subtracted, raw scale 255, RGB to BGR), the input blob reshaped to 50 x 3 x 227 x 227 and
filled, ``net.forward()``; then the five best classes with their labels and the shapes of every
blob and parameter: the work of Caffe's classification example.

Part of this project's benchmark suite, under the project's licence (Apache-2.0, LICENSE at
the root). ``setup`` writes the files it reads (``benchmarks/program_data.py``: BVLC's CaffeNet
deploy definition copied from ../shared/public-nets, seeded random weights in the layout of
``bvlc_reference_caffenet.caffemodel``, a mean image, 1000 labels, a 360 x 480 test image).
"""
import sys

BATCH = 50


def setup(workdir):
    from _program_files import write     # this folder is the script's own here
    write(workdir)


def main():
    """Run in the folder ``setup`` wrote."""
    import numpy as np
    import caffe

    caffe.set_mode_cpu()
    net = caffe.Net("caffenet_deploy.prototxt", "bvlc_reference_caffenet.caffemodel",
                    caffe.TEST)
    mean_pixel = np.load("ilsvrc_2012_mean.npy").mean(axis=(1, 2))   # B, G, R
    print("mean pixel (BGR):", [round(float(v), 2) for v in mean_pixel])

    prep = caffe.io.Transformer({"data": net.blobs["data"].data.shape})
    prep.set_transpose("data", (2, 0, 1))          # H x W x C -> C x H x W
    prep.set_channel_swap("data", (2, 1, 0))       # RGB -> BGR, the weights' order
    prep.set_raw_scale("data", 255)                # load_image gives [0, 1]
    prep.set_mean("data", mean_pixel)

    height, width = net.blobs["data"].data.shape[2:]
    net.blobs["data"].reshape(BATCH, 3, height, width)
    picture = caffe.io.load_image("cat.jpg")
    net.blobs["data"].data[...] = prep.preprocess("data", picture)
    probabilities = net.forward()["prob"][0]

    names = np.loadtxt("synset_words.txt", str, delimiter="\t")
    best = np.argsort(probabilities)[-5:][::-1]
    print("best class:", int(best[0]), names[best[0]])
    for k in best:
        print(f"  {float(probabilities[k]):.5f}  {names[k]}")
    for name, blob in net.blobs.items():
        print(f"blob {name}: {blob.data.shape}")
    for name, blobs in net.params.items():
        print(f"params {name}: " + ", ".join(str(b.data.shape) for b in blobs))
    sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"]:
        setup(sys.argv[2])
    else:
        main()
