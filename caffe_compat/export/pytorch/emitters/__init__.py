"""The PyTorch source emitters, one module per concern; importing this package registers them."""
from . import arithmetic, conv, detection, neuron, normalization, pooling, recurrent, shape  # noqa: F401
