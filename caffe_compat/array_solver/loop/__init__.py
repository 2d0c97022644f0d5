"""The array engine's compiled training loop: runs of SGD iterations and test passes of a
small net in one C call (``kernels/_tiny_solve.c``'s array operations), without torch.

One emitter per layer type (:mod:`.emitters`) writes a layer's operations as ArrayNet's
per-layer loop runs it; :mod:`.run` builds the programs, decides which iterations they run
(those Python need not see: :mod:`caffe_compat.solvers.runs`) and keeps the solver's state."""
from . import emitters  # noqa: F401
from .program import EMITTERS, Program, Refused  # noqa: F401
from .run import can_compile, run_iterations, run_test_batches  # noqa: F401
