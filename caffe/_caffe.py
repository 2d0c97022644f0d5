"""pycaffe's compiled ``caffe._caffe`` module, as names over this package (for programs that
import from it directly)."""
from ._mode import (TEST, TRAIN, Timer, __version__, has_nccl, init_log, log,  # noqa: F401
                    set_device, set_mode_cpu, set_mode_gpu, set_multiprocess,
                    set_random_seed, set_solver_count, set_solver_rank, solver_count,
                    solver_rank)
from ._net import Blob, BlobVec, Layer, Net, layer_type_list  # noqa: F401
from ._solver import (NCCL, AdaDeltaSolver, AdaGradSolver, AdamSolver,  # noqa: F401
                      NesterovSolver, RMSPropSolver, SGDSolver, Solver, get_solver)
