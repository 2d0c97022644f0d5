"""One module per layer type the array engine runs, the element-wise types together in
:mod:`.neuron` (each registers itself by name)."""
from . import (accuracy, arg_max, axpy, batch_norm, bias, concat, convolution,  # noqa: F401
               crop, data, deconvolution, detection, dropout, eltwise, euclidean_loss,
               flatten, hdf5_data, inner_product, input, interp, lrn, mvn, neuron, permute,
               pooling, prelu, reduction, relu, reshape, scale, shuffle_channel, slice,
               softmax, softmax_with_loss, split, tile)
