"""One module per layer type the array engine runs (each registers itself by name)."""
from . import (accuracy, batch_norm, bias, concat, convolution, data, dropout,  # noqa: F401
               eltwise, euclidean_loss, flatten, hdf5_data, inner_product, input, lrn,
               pooling, prelu, relu, scale, slice, softmax, softmax_with_loss, split)
from . import (clip, crop, deconvolution, elu, exp, log, mvn, neuron,  # noqa: F401
               permute, power, reduction, reshape, shuffle_channel, threshold, tile)
from . import detection  # noqa: F401
from . import arg_max, axpy, interp, mish, swish  # noqa: F401
