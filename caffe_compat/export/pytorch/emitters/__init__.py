"""The PyTorch source emitters, one module per concern or type; importing this package
registers them."""
from . import (arg_max, arithmetic, batch_reindex, conv, detection, detection_output,  # noqa: F401
               elementwise, filter, im2col, misc, neuron, normalization, pooling, proposal,
               recurrent, roi_pooling, shape, spp)
