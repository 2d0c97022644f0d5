"""pycaffe's ``caffe.pycaffe`` module: the net and solver classes (``from caffe.pycaffe import
Net`` works as with pycaffe)."""
from ._mode import Timer  # noqa: F401
from ._net import Net  # noqa: F401
from ._solver import (NCCL, AdaDeltaSolver, AdaGradSolver, AdamSolver,  # noqa: F401
                      NesterovSolver, RMSPropSolver, SGDSolver)
