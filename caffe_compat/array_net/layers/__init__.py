"""One module per layer type the array engine runs (each registers itself by name)."""
from . import (concat, convolution, data, dropout, flatten, inner_product,  # noqa: F401
               input, lrn, pooling, relu, softmax, softmax_with_loss, split)
