"""The PyTorch source emitters, one module per concern or type; importing this package
registers them."""
from . import (arithmetic, conv, detection, misc, neuron, normalization,  # noqa: F401
               pooling, recurrent, shape)
