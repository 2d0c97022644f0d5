"""The PyTorch source emitters, one module per concern; importing this package registers them."""
from . import (arithmetic, conv, detection, elementwise, neuron, normalization,  # noqa: F401
               pooling, recurrent, shape)
