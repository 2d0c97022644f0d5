"""Net surgery with hand-made filters, in the style of a teaching notebook, run from an
``examples`` folder: the one-convolution net ``net_surgery/conv.prototxt`` (three 5x5
filters drawn by its gaussian filler) filters a grey image read with
``caffe.io.load_image(..., color=False)``; the input blob is reshaped to the image, a view of
the first output map is kept, the first filter's bias is set to 1 through ``net.params``
and the net run again (the view sees the new outputs); then the weights are replaced by a
Gaussian blur and horizontal and vertical Sobel edge filters (3x3, centred in 5x5) and the
net run once more. Plots go to PNG files.

Its state after the run (``net``, ``first_map``, ``image``) is what the harness compares.
"""
import matplotlib.pyplot as plt
import numpy as np

import caffe

caffe.set_mode_cpu()
net = caffe.Net("net_surgery/conv.prototxt", caffe.TEST)
print("blobs:", list(net.blobs), "params:", list(net.params))
print("filter bank", net.params["conv"][0].data.shape, "biases", net.params["conv"][1].data.shape)

image = caffe.io.load_image("images/cat_gray.jpg", color=False)[:, :, 0]
data = net.blobs["data"]
data.reshape(1, 1, *image.shape)
data.data[0, 0] = image


def run_and_plot(file_name):
    """Forward the net; save its three output maps side by side on one colour scale."""
    net.forward()
    maps = net.blobs["conv"].data[0]
    low, high = maps.min(), maps.max()
    figure, axes = plt.subplots(1, len(maps), figsize=(9, 3))
    for axis, feature in zip(axes, maps):
        axis.imshow(feature, vmin=low, vmax=high, cmap="gray")
        axis.set_axis_off()
    figure.savefig(file_name)
    plt.close(figure)


run_and_plot("filters_random.png")
print("output blob", net.blobs["conv"].data.shape)

first_map = net.blobs["conv"].data[0, 0]       # a view into the output blob
print(f"first map mean before the bias: {first_map.mean():.2f}")
net.params["conv"][1].data[0] = 1.0
net.forward()
print(f"first map mean after the bias: {first_map.mean():.2f}")

weights = net.params["conv"][0].data
height, width = weights.shape[2:]
rows = np.arange(height) - (height - 1) / 2.0
cols = np.arange(width) - (width - 1) / 2.0
blur = np.exp(-0.5 * (rows[:, None] ** 2 + cols[None, :] ** 2))   # sigma 1
weights[0, 0] = (blur / blur.sum()).astype(np.float32)
weights[1:] = 0.0
edges = np.outer([-1.0, 0.0, 1.0], [1.0, 2.0, 1.0]).astype(np.float32)   # Sobel, vertical change
weights[1, 0, 1:4, 1:4] = edges
weights[2, 0, 1:4, 1:4] = edges.T
run_and_plot("filters_designed.png")
print("designed filter sums:", [round(float(w.sum()), 4) for w in weights])
