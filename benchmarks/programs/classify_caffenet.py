"""Classify a batch through CaffeNet: the program of BVLC Caffe's
``examples/00-classification.ipynb`` (BSD 2-Clause licence, nets/LICENSE.caffe), its code cells as a
script without the plots, under Python 3.

Reads the 233 MB ``bvlc_reference_caffenet.caffemodel`` (V1 layout) and the files written by
``benchmarks/program_data.py`` (seeded random weights, nothing downloaded), sets up
``caffe.io.Transformer``, reshapes the input to a batch of 50, classifies, prints the top five
and the blob and parameter shapes.
"""
import os
import sys


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

    caffe.set_mode_cpu()

    model_def = os.path.join(here, "nets", "caffenet_deploy.prototxt")
    model_weights = os.path.join(data, "bvlc_reference_caffenet.caffemodel")

    net = caffe.Net(model_def,      # defines the structure of the model
                    model_weights,  # contains the trained weights
                    caffe.TEST)     # use test mode (e.g., don't perform dropout)

    # load the mean ImageNet image (as distributed with Caffe) for subtraction
    mu = np.load(os.path.join(data, "ilsvrc_2012_mean.npy"))
    mu = mu.mean(1).mean(1)  # average over pixels to obtain the mean (BGR) pixel values
    print("mean-subtracted values:", list(zip("BGR", mu)))

    # create transformer for the input called 'data'
    transformer = caffe.io.Transformer({"data": net.blobs["data"].data.shape})
    transformer.set_transpose("data", (2, 0, 1))  # move image channels to outermost dimension
    transformer.set_mean("data", mu)              # subtract the dataset-mean value in each channel
    transformer.set_raw_scale("data", 255)        # rescale from [0, 1] to [0, 255]
    transformer.set_channel_swap("data", (2, 1, 0))  # swap channels from RGB to BGR

    net.blobs["data"].reshape(50,        # batch size
                              3,         # 3-channel (BGR) images
                              227, 227)  # image size is 227x227

    image = caffe.io.load_image(os.path.join(data, "cat.jpg"))
    transformed_image = transformer.preprocess("data", image)

    # copy the image data into the memory allocated for the net
    net.blobs["data"].data[...] = transformed_image

    ### perform classification
    output = net.forward()
    output_prob = output["prob"][0]  # the output probability vector for the first image in the batch
    print("predicted class is:", output_prob.argmax())

    labels = np.loadtxt(os.path.join(data, "synset_words.txt"), str, delimiter="\t")
    print("output label:", labels[output_prob.argmax()])

    # sort top five predictions from softmax output
    top_inds = output_prob.argsort()[::-1][:5]  # reverse sort and take five largest items
    print("probabilities and labels:", list(zip(output_prob[top_inds], labels[top_inds])))

    # for each layer, show the output shape
    for layer_name, blob in net.blobs.items():
        print(layer_name + "\t" + str(blob.data.shape))
    for layer_name, param in net.params.items():
        print(layer_name + "\t" + str(param[0].data.shape), str(param[1].data.shape))
    sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"]:
        setup(sys.argv[2])
    else:
        main()
