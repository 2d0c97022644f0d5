"""pycaffe's solvers (``caffe.SGDSolver`` ... ``caffe.AdamSolver``, ``caffe.get_solver``).

On the CPU, an SGD solver whose nets the array engine runs trains there
(:mod:`caffe_compat.array_solver`: Caffe's Step, Test, Solve and snapshots on numpy arrays),
without importing torch. Every other solver is the torch engine's
(:mod:`caffe._torch_solver`), with Caffe's ForwardBackward on the pycaffe net's blobs: values
written into ``solver.net.blobs`` feed the next iteration, Python layers train, and arrays
taken from ``solver.net`` stay views of the training net's memory. Either way the test passes
and ``solve()``'s final display forward leave in ``test_nets[i].blobs`` and ``net.blobs``
what Caffe's hold after them. ``CAFFE_COMPAT_ARRAY_NET=0`` puts every solver on torch.

As in Caffe, a solver runs in the mode current when it runs (GPU mode: the torch engine's,
:mod:`caffe_compat.net.synced_memory`): after a change of mode, its next ``step``,
``solve``, ``snapshot``, ``restore`` or ``apply_update`` moves its nets and history first."""
from __future__ import annotations

import os
import sys
import types

from . import _mode, _placement
from ._net import Net, _array_engine_allowed

__all__ = ["SGDSolver", "NesterovSolver", "AdaGradSolver", "RMSPropSolver", "AdaDeltaSolver",
           "AdamSolver", "get_solver", "NCCL"]


class Solver:
    """A Caffe solver with pycaffe's interface: ``net``, ``test_nets``, ``iter``, ``step``,
    ``solve``, ``restore``, ``snapshot``, ``apply_update``, ``add_callback``, ``param``."""

    _engine_type = None          # None: the type named in the solver file

    def __init__(self, filename):
        if isinstance(filename, (str, os.PathLike)):
            from caffe_compat.io import prototxt
            path = os.fspath(filename)
            param = prototxt.read_solver(path)
        else:
            path, param = None, filename
        if param.HasField("solver_type") and not param.HasField("type"):
            from caffe_compat.solvers import LEGACY_SOLVER_TYPES
            param.type = LEGACY_SOLVER_TYPES[param.solver_type]
        self._net = None
        array_solver = self._array_solver(param, path, self._engine_type or param.type or "SGD")
        if array_solver is not None:
            self._solver = array_solver
            self._net = Net(None, _arrays=array_solver.net)
            self._test_nets = [Net(None, _arrays=n) for n in array_solver.test_nets]
            return
        from caffe_compat import solvers as _engine
        from ._torch_solver import _pycaffe_engine_class
        cls = _engine.solver_class(self._engine_type or param.type or "SGD")
        engine_cls = _pycaffe_engine_class(cls)
        device = _mode.device()
        # the nets are built (and so the pycaffe view needed) inside the engine constructor
        self._solver = engine_cls.__new__(engine_cls)
        self._solver._owner = self
        engine_cls.__init__(self._solver, param, device=device, solver_file=path, log=True)
        self._net = Net(None, _net=self._solver.net)
        self._test_nets = [Net(None, _net=n) for n in self._solver.test_nets]
        self._solver._on_device = _mode.gpu_mode()
        self._run_mode = _mode._state["mode"]

    @staticmethod
    def _array_solver(param, path, solver_type):
        """The array engine's solver of ``param`` where it runs it (CPU mode, one process),
        else None."""
        if not _array_engine_allowed() or _mode._state["solver_count"] > 1 or \
                os.environ.get("CAFFE_COMPAT_ARRAY_SOLVER", "1").strip() == "0":
            return None
        from caffe_compat.array_solver import build_array_solver
        from caffe_compat.diagnostics.glog import SolverLog
        log = SolverLog(keep=True)        # on stderr once this engine has taken the solver
        solver = build_array_solver(param, path, log=log, solver_type=solver_type)
        if solver is not None:
            log.redirect(sys.stderr)
        return solver

    @property
    def net(self):
        if self._net is None:       # during the engine's construction
            self._net = Net(None, _net=self._solver.net)
        return self._net

    @property
    def test_nets(self):
        return list(self._test_nets)

    iter = property(lambda self: self._solver.iter)
    param = property(lambda self: self._solver.param)
    lr = property(lambda self: self._solver.lr)

    _run_mode = "cpu"           # the mode the solver's nets and history are placed for

    def _check_mode(self, what):
        """Caffe's rule: the solver runs in the mode current when it runs. After a change of
        mode its nets (parameters shared), its history and its device follow
        (:func:`caffe_compat.net.synced_memory.attach` / ``detach``); a solver on the array
        engine (created in CPU mode) trains on the CPU only."""
        mode = _mode._state["mode"]
        if mode == self._run_mode:
            return
        if self._net is not None and self._net._pinned:
            from caffe_compat.errors import SolverError
            raise SolverError(f"solver.{what}(): this solver was created in CPU mode on the "
                              "array engine, which trains on the CPU only; create the solver "
                              "after caffe.set_mode_gpu(), or set CAFFE_COMPAT_ARRAY_NET=0 "
                              "before creating it")
        import torch
        device = _mode.device()                  # no usable device: an error here
        for net in [self.net] + self._test_nets:
            _placement.follow_mode(net, by_solver=True)
        engine = self._solver
        engine.device = torch.device(device)
        engine.history = [h.to(device) for h in engine.history]
        engine._on_device = mode == "gpu"
        self._run_mode = mode

    def step(self, iters):
        """Run ``iters`` iterations (Caffe's Solver::Step)."""
        self._check_mode("step")
        self._solver.step(int(iters))

    def solve(self, resume_file=None):
        """Train to ``max_iter`` (after restoring ``resume_file``), as Caffe's Solve."""
        self._check_mode("solve")
        self._solver.solve(resume_file)

    def restore(self, filename):
        """Restore the iteration, history and weights from a .solverstate (or .h5)."""
        self._check_mode("restore")
        self._solver.restore(os.fspath(filename))

    def snapshot(self):
        """Write ``<prefix>_iter_<iter>.caffemodel`` and ``.solverstate``."""
        self._check_mode("snapshot")
        self._solver.snapshot()

    def apply_update(self):
        """Update the weights from their current diffs at the current learning rate, then
        count the update: ``iter`` goes up by one (Caffe 1.0's SGDSolver::ApplyUpdate ends
        with ``++iter_``, so hand-written forward / backward / apply_update loops move the
        learning-rate schedule, as ``step`` does)."""
        self._check_mode("apply_update")
        self._solver.apply_update()
        self._solver.iter += 1

    def add_callback(self, on_start, on_gradients_ready=None):
        """Call ``on_start()`` before each iteration's forward and ``on_gradients_ready()``
        before its update; or, with one argument, add a ``caffe.NCCL`` (Caffe's
        ``add_callback(nccl)``)."""
        if on_gradients_ready is None and isinstance(on_start, NCCL):
            on_start, on_gradients_ready = on_start.on_start, on_start.on_gradients_ready
        self._solver.add_callback(types.SimpleNamespace(
            on_start=lambda solver: on_start(),
            on_gradients_ready=lambda solver: on_gradients_ready()))

    def share_weights(self, net):
        """Make ``net`` use the training net's parameters (layers of the same name)."""
        net.share_with(self.net)


def _solver_type(name, engine_type):
    return type(name, (Solver,), {"_engine_type": engine_type,
                                  "__doc__": f"Caffe's {engine_type} solver (pycaffe's {name})."})


SGDSolver = _solver_type("SGDSolver", "SGD")
NesterovSolver = _solver_type("NesterovSolver", "Nesterov")
AdaGradSolver = _solver_type("AdaGradSolver", "AdaGrad")
RMSPropSolver = _solver_type("RMSPropSolver", "RMSProp")
AdaDeltaSolver = _solver_type("AdaDeltaSolver", "AdaDelta")
AdamSolver = _solver_type("AdamSolver", "Adam")


def get_solver(filename):
    """The solver of the type the file names (``type: "Adam"``, or the legacy enum), as an
    instance of its pycaffe class (``SGDSolver``, ``AdamSolver``, ...): Caffe's get_solver
    returns the C++ solver, which Boost.Python wraps in the most derived registered class."""
    solver = Solver(filename)
    solver.__class__ = _TYPED_CLASSES.get(solver._solver.type_name, Solver)
    return solver


class NCCL:
    """Caffe's data-parallel gradient exchange, as pycaffe's ``python/train.py`` uses it::

        uid = caffe.NCCL.new_uid()                # in the parent, passed to every process
        # in process `rank` of N:
        caffe.set_solver_count(N); caffe.set_solver_rank(rank); caffe.set_multiprocess(True)
        solver = caffe.SGDSolver("solver.prototxt")
        nccl = caffe.NCCL(solver, uid)             # joins the N processes
        nccl.bcast()                               # rank 0's weights everywhere
        solver.add_callback(nccl)                  # gradients summed, scaled by 1/N
        solver.step(solver.param.max_iter)

    The exchange is :mod:`caffe_compat.parallel.data_parallel`'s: NCCL between GPUs
    (``set_mode_gpu``), gloo between CPU processes. ``uid`` is a torch.distributed
    init method, as bytes or text (``new_uid()`` gives a TCP address on this machine as
    ``bytes``, the type pycaffe's ``new_uid`` returns under Python 3; ``"env://"`` reads
    torchrun's variables). Create the solver after ``set_solver_count`` / ``set_solver_rank``:
    its data layers skip the other ranks' records and only rank 0 builds test nets."""

    # as a net hook (``solver.net.after_backward(nccl)``, Caffe's layer-wise reduction) it
    # does nothing: the exchange sums every gradient once an iteration, the same sums
    sums_gradients_per_iteration = True

    def __init__(self, solver, uid):
        from caffe_compat.parallel import data_parallel as parallel
        engine = solver._solver if isinstance(solver, Solver) else solver
        if isinstance(uid, (bytes, bytearray)):
            uid = bytes(uid).decode("ascii")
        parallel.init_process_group(engine.device, init_method=uid,
                                    world_size=parallel.solver_count(),
                                    rank=parallel.solver_rank())
        self._exchange = parallel.GradientExchange(engine)
        self._solver = engine

    @staticmethod
    def new_uid():
        """A rendezvous for the processes of one machine, ``b"tcp://127.0.0.1:<free port>"``:
        ``bytes``, as pycaffe's ``new_uid`` returns its NCCL id under Python 3 (programs and
        pycaffe's own test check the type)."""
        from caffe_compat.parallel import data_parallel as parallel
        return f"tcp://127.0.0.1:{parallel.free_port()}".encode("ascii")

    def bcast(self):
        """Rank 0's weights (and solver history and iteration) to every rank."""
        if not getattr(self._solver, "_on_device", False):
            self._exchange.broadcast()
            return
        from caffe_compat.net import param_memory      # GPU mode: the device copies move
        with param_memory.engine_on_params(self._solver._all_params(), writes=True):
            self._exchange.broadcast()

    def on_start(self):
        if not self._exchange.synced:    # the first iteration: rank 0's weights everywhere
            self.bcast()

    def on_gradients_ready(self):
        """The diffs summed over the ranks and scaled by 1/N. In GPU mode on the device
        copies: the diffs Python holds arrays of count as written before, and are copied down
        after (:mod:`caffe_compat.net.synced_memory`)."""
        engine = self._solver
        if not getattr(engine, "_on_device", False):
            self._exchange.on_gradients_ready(engine)
            return
        from caffe_compat.net import param_memory
        params = list(engine._params)
        param_memory.params_from_python(params)
        param_memory.params_current(params, diffs=True)
        self._exchange.on_gradients_ready(engine)
        param_memory.diffs_written(params)
        param_memory.params_to_python(params)


# get_solver's class for each solver type
_TYPED_CLASSES = {cls._engine_type: cls for cls in (SGDSolver, NesterovSolver, AdaGradSolver,
                                                     RMSPropSolver, AdaDeltaSolver, AdamSolver)}
