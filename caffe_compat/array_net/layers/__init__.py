"""One module per layer type the array engine runs (each registers itself by name)."""
from . import (accuracy, concat, convolution, data, dropout,  # noqa: F401
               euclidean_loss, flatten, hdf5_data, inner_product, input, lrn,
               pooling, relu, softmax, softmax_with_loss, split)
