"""The PyTorch source emitters, one module per concern; importing this package registers them."""
from . import (arithmetic, conv, detection, elementwise, misc, neuron,  # noqa: F401
               normalization, pooling, recurrent, shape)
