"""pycaffe's ``solve()`` / ``step(n)`` on small nets: runs of iterations in one C call.

Caffe's loop (``Solver::Step``) does, per iteration, nothing Python needs to see except at
some iterations: a test pass, a display line, a snapshot, a multistep lr message, the end of
an HDF5 file, the last iteration of the call. Between those, for a net made only of layer
types registered here and Caffe's SGD rule, :func:`run_iterations` hands whole runs of
iterations to :mod:`caffe_compat.kernels.tiny_solve`: each iteration clears the parameter
diffs, runs the straight-line forward and backward of
:mod:`caffe_compat.net.fast_step` (the same routines in the same order, so the same bits)
and Caffe's SGD update, then the per-iteration losses come back for the smoothed loss. The
iterations Python must see run through the solver's own loop, and so does the last one of
every ``step`` / ``solve`` call: the blobs, the saved state of each layer, the display
outputs and the log are the per-layer loop's own, and the parameters, their diffs and
history, the iteration counter, the smoothed loss and the HDF5 cursor are where it would have
left them (tests/pycaffe/test_tiny_solve.py runs both and compares every blob bit for bit).

The path applies (else the per-layer loop runs, unchanged) when:

- the solver is Caffe's SGD itself (momentum and L2 or no weight decay allowed; no
  subclass update, ``iter_size`` 1, no gradient clipping, every ``lr_mult`` nonzero), its
  one-call C update available (:mod:`caffe_compat.kernels.sgd_update`), on float32 CPU blobs;
- no callbacks, no action function (SIGINT / SIGHUP handling), no progress bar, no
  ``debug_info``, no ``force_backward``, autograd on (as pycaffe's passes need it);
- the training net runs pycaffe's straight-line passes (:mod:`caffe_compat.net.fast_step`) or
  its per-layer loop with explicit calls (``train_plan.ENABLED``), and every layer has an
  emitter here that accepts it: ``HDF5Data`` (in file order, no
  shuffle, one process), ``Input`` (blobs no layer writes in place), ``InnerProduct`` (2-D
  bottoms, axis 1), ``ReLU`` (no negative slope), ``Sigmoid``, ``TanH``, ``Split`` (two
  tops at most), ``Accuracy`` (no loss weight; in training skipped, as nothing reads it
  there), ``SoftmaxWithLoss`` (axis 1, fewer than eight classes, no ignore_label, one top)
  and ``EuclideanLoss``; where a layer has no explicit calls (Sigmoid, TanH, EuclideanLoss),
  the per-layer loop back-propagates it by autograd and its emitter follows that chain;
- each computation the loop makes gives torch's bits on this machine for the net's shapes
  (:func:`caffe_compat.kernels.tiny_solve.check`).

``ENABLED = False`` turns the path off (the tests compare the two).
"""
from __future__ import annotations

import weakref

import numpy as np
import torch

from ..kernels import blas_order, sgd_update
from ..kernels import tiny_solve as kernel
from ..layers._neuron import normalizer
from ..net import fast_step, train_plan
from . import lr_policy

ENABLED = True

_f32 = np.float32
_OPS = dict(ZERO=1, DATA=2, IP_FWD=3, RELU_FWD=4, SMLOSS_FWD=5, LOSS=6, SMLOSS_BWD=7, ADD=8,
            COPY=9, RELU_BWD=10, IP_BWD=11, UPDATE=12, ADVANCE=13, LINEAR=14, ACCURACY=15,
            OUTPUT=16, LOSS_VALUE=17, SIGMOID_FWD=18, SIGMOID_BWD=19, TANH_FWD=20,
            TANH_BWD=21, EUCLID_FWD=22, EUCLID_BWD=23)

EMITTERS = {}


class Refused(Exception):
    """A layer or condition the compiled loop cannot honour exactly."""


def emitter(layer_type):
    """Register a class with ``forward(program, i, node, module)`` and ``backward(program, i,
    node, module, wanted, want_params)`` emitting a layer's operations in a training pass,
    and optionally ``infer(program, i, node, module)`` for a test pass (default: forward)."""
    def register(cls):
        EMITTERS[layer_type] = cls()
        return cls
    return register


def _infer(emit, prog, i, node, module):
    fn = getattr(emit, "infer", None)
    (fn or emit.forward)(prog, i, node, module)


class Program:
    """The operations of one training iteration over a net's blobs, and the buffers they
    name: scratch tensors of the program's own, and live addresses (parameters, their diffs
    and history, blobs read as they are) resolved again at each call."""

    # nothing here refers back to the solver or to the program itself (a getter holds what
    # it reads, the solver weakly): the solver keeps its programs, and a cycle would keep
    # the nets and their open data files until the collector runs, where Caffe releases them
    # with their last reference
    def __init__(self, solver, store):
        self.solver_ref, self.store = weakref.ref(solver), store
        self.ops = []
        self.ptrs = []
        self.live = []             # (index, getter of the tensor or array)
        self.consts = []
        self.scratch_tensors = []
        self.data = {}             # blob -> buffer index of its value in the forward
        self.shape = {}            # blob -> shape
        self.diff = {}             # blob -> buffer index of its diff written in the backward
        self.saved = {}            # layer index -> what its backward needs
        self.losses = []           # (buffer index, loss weight) in forward order
        self.sources = []          # (HDF5 source, batch)
        self.advance = []          # (cursor slot, batch) moved on at the iteration's end
        self.checks = []           # (primitive, shape) to compare with torch
        self.outputs = []          # test passes: (output blob, value count) in output order

    def op(self, name, *args):
        self.ops.append(_OPS[name])
        self.ops.extend(int(a) for a in args)

    def scratch(self, count):
        t = torch.empty(max(1, int(count)), dtype=torch.float32)
        self.scratch_tensors.append(t)
        self.ptrs.append(t.data_ptr())
        return len(self.ptrs) - 1

    def live_ptr(self, getter, count=None):
        """A buffer read as it is at each call: ``getter()`` gives its tensor or array, of
        at least ``count`` values (None: the size it has now)."""
        if count is None:
            t = getter()
            count = 0 if t is None else (t.size if isinstance(t, np.ndarray) else t.numel())
        self.ptrs.append(0)
        self.live.append((len(self.ptrs) - 1, getter, int(count)))
        return len(self.ptrs) - 1

    def const(self, value):
        self.consts.append(float(value))
        return len(self.consts) - 1

    def check(self, kind, shape):
        self.checks.append((kind, tuple(shape)))

    def top_diff(self, name):
        """The diff of ``name`` as the backward reads it: the one written earlier in this
        backward, else the blob's own diff tensor (zeros, or the loss weight)."""
        if name in self.diff:
            return self.diff[name]
        store = self.store
        return self.live_ptr(lambda: store.diff_of(name))


def _address(t):
    """The address of a float32 C-contiguous CPU tensor or array, or None."""
    if isinstance(t, np.ndarray):
        if t.dtype != np.float32 or not t.flags.c_contiguous:
            return None
        return t.ctypes.data
    if t is None or not t.is_cpu or t.dtype != torch.float32 or not t.is_contiguous():
        return None
    return t.data_ptr()


def _param(module, j):
    return module.blobs[j]


# ---------------------------------------------------------------------------- layer emitters
@emitter("HDF5Data")
class _HDF5Data:
    """Caffe's HDF5DataLayer serving rows from a file held in memory, in file order (the fast
    branch of ``HDF5Source.next_batch``); the loop stops before a batch that would reach the
    end of the file, which Python serves (it opens the next file)."""

    def forward(self, prog, i, node, module):
        src = module.source
        if src.shuffle or src.count != 1:
            raise Refused("shuffled or sharded HDF5 data")
        batch = src.batch_size
        slot = 2 * len(prog.sources)
        prog.sources.append((src, batch))
        for k, top in enumerate(node.tops):
            row = int(np.prod(src.row_shapes[k], dtype=np.int64))
            def memory(src=src, k=k):
                held = src._in_memory
                return None if held is None else held[k]
            base = prog.live_ptr(memory, 0)     # read within src.rows (the limit)
            out = prog.scratch(batch * row)
            prog.op("DATA", base, slot, row, out, batch)
            prog.data[top] = out
            prog.shape[top] = (batch,) + tuple(src.row_shapes[k])
        prog.advance.append((slot, batch))

    def backward(self, prog, i, node, module, wanted, want_params):
        pass


@emitter("Input")
class _Input:
    """Input blobs as they are (pycaffe's programs fill them); refused where a layer writes
    one in place, as the loop keeps each value in its own buffer."""

    def forward(self, prog, i, node, module):
        store = prog.store
        for name in node.tops:
            if any(name in n.tops for n, _, _, _ in store.nodes[i + 1:]):
                raise Refused(f"a layer writes input blob '{name}' in place")
            prog.data[name] = prog.live_ptr(lambda name=name: store.data[name])
            prog.shape[name] = tuple(store.data[name].shape)

    def backward(self, prog, i, node, module, wanted, want_params):
        pass


@emitter("InnerProduct")
class _InnerProduct:
    """InnerProduct's explicit calls: the Caffe-order product (``blas_order``'s choice of
    kernel) plus the bias; backward by ``torch.mm`` and the bias's sum over the batch."""

    def forward(self, prog, i, node, module):
        x_name, = node.bottoms
        shape = prog.shape[x_name]
        if module.axis != 1 or len(shape) != 2 or shape[1] != module.K or shape[0] == 0:
            raise Refused("InnerProduct on a bottom that is not (M, K)")
        m, n, k = shape[0], module.N, module.K
        x = prog.data[x_name]
        w = prog.live_ptr(lambda: _param(module, 0), n * k)
        b = prog.live_ptr(lambda: _param(module, 1), n) if module.bias_term else -1
        y = prog.scratch(m * n)
        prog.op("IP_FWD", x, w, b, y, m, n, k,
                blas_order.inner_product_kind(m, n, k, module.transpose),
                int(module.transpose))
        top, = node.tops
        prog.data[top] = y
        prog.shape[top] = (m, n)
        prog.saved[i] = (x, w, m, n, k)

    def infer(self, prog, i, node, module):
        """InnerProduct.forward with autograd off: the Caffe-order product where
        ``blas_order.usable`` (CAFFE_COMPAT_CAFFE_ORDER_INFERENCE), else torch's F.linear,
        in blocks of ROW_BLOCK rows beyond that many."""
        from ..layers.inner_product import ROW_BLOCK
        x_name, = node.bottoms
        shape = prog.shape[x_name]
        if module.transpose or blas_order.usable(torch.empty(0)):
            # the exact product (and, with transpose, the plain one on W's transpose view)
            if module.transpose and not blas_order.usable(torch.empty(0)):
                raise Refused("InnerProduct transpose: inference product")
            return self.forward(prog, i, node, module)
        if module.axis != 1 or len(shape) != 2 or shape[1] != module.K or shape[0] == 0:
            raise Refused("InnerProduct on a bottom that is not (M, K)")
        m, n, k = shape[0], module.N, module.K
        w = prog.live_ptr(lambda: _param(module, 0), n * k)
        b = prog.live_ptr(lambda: _param(module, 1), n) if module.bias_term else -1
        y = prog.scratch(m * n)
        block = ROW_BLOCK if m > ROW_BLOCK else 0
        prog.op("LINEAR", prog.data[x_name], w, b, y, m, n, k, block)
        for rows in {min(m, block or m), m % block if block and m % block else 0} - {0}:
            prog.check("linear", (rows, k, n, int(module.bias_term)))
        top, = node.tops
        prog.data[top] = y
        prog.shape[top] = (m, n)

    def backward(self, prog, i, node, module, wanted, want_params):
        x, w, m, n, k = prog.saved[i]
        top, = node.tops
        transpose = bool(module.transpose)
        need_w = want_params[0]
        need_b = module.bias_term and len(want_params) > 1 and want_params[1]
        if not (wanted[0] or need_w or need_b):
            return
        dy = prog.top_diff(top)
        gx = -1
        if wanted[0]:
            gx = prog.scratch(m * k)
            prog.check("mm", (m, n, k, 2) if transpose else (m, n, k, 0))
            prog.diff[node.bottoms[0]] = gx
        gw = tw = gb = tb = -1
        if need_w:
            gw = prog.live_ptr(lambda: _param(module, 0).grad, n * k)
            tw = prog.scratch(m * n * k // max(m, 1))
            prog.check("mm", (k, m, n, 1) if transpose else (n, m, k, 1))
        if need_b:
            gb = prog.live_ptr(lambda: _param(module, 1).grad, n)
            tb = prog.scratch(n)
            prog.check("colsum", (m, n))
        prog.op("IP_BWD", dy, x, w, gx, gw, gb, tw, tb, m, n, k, int(transpose))


@emitter("ReLU")
class _ReLU:
    """ReLU without a negative slope: ``max(0, x)``; backward zero where the top is <= 0."""

    def forward(self, prog, i, node, module):
        if module.slope != 0.0:
            raise Refused("ReLU with a negative slope")
        x_name, = node.bottoms
        top, = node.tops
        shape = prog.shape[x_name]
        count = int(np.prod(shape, dtype=np.int64))
        y = prog.scratch(count)
        prog.op("RELU_FWD", prog.data[x_name], y, count)
        prog.check("relu", (count,))
        prog.data[top] = y
        prog.shape[top] = shape
        prog.saved[i] = (y, count)

    def backward(self, prog, i, node, module, wanted, want_params):
        if not wanted[0]:
            return
        y, count = prog.saved[i]
        dy = prog.top_diff(node.tops[0])
        dx = prog.scratch(count)
        prog.op("RELU_BWD", dy, y, dx, count)
        prog.diff[node.bottoms[0]] = dx


class _Elementwise:
    """A neuron layer without explicit calls, back-propagated by autograd per layer in the
    per-layer loop: ``forward_op`` / ``backward_op`` the C loop's form of its forward and of
    the backward autograd runs for it (checked against torch as ``check``)."""

    forward_op = backward_op = check = None
    scratch_factor = 0

    def forward(self, prog, i, node, module):
        x_name, = node.bottoms
        top, = node.tops
        shape = prog.shape[x_name]
        count = int(np.prod(shape, dtype=np.int64))
        y = prog.scratch(count)
        extra = (prog.scratch(self.scratch_factor * count),) if self.scratch_factor else ()
        prog.op(self.forward_op, prog.data[x_name], y, count, *extra)
        prog.check(self.check, (count,))
        prog.data[top] = y
        prog.shape[top] = shape
        prog.saved[i] = (y, count)

    def backward(self, prog, i, node, module, wanted, want_params):
        if not wanted[0]:
            return
        y, count = prog.saved[i]
        dy = prog.top_diff(node.tops[0])
        dx = prog.scratch(count)
        prog.op(self.backward_op, dy, y, dx, count)
        if self.backward_op == "TANH_BWD":
            prog.check("tanh_backward", (count,))
        prog.diff[node.bottoms[0]] = dx


@emitter("Sigmoid")
class _Sigmoid(_Elementwise):
    """Sigmoid: Caffe's ``0.5 * tanh(0.5 x) + 0.5`` in double (torch's float64 tanh: MKL's
    vdTanh); backward ``dy * y * (1 - y)`` (its _CaffeBackward formula)."""

    forward_op, backward_op, check, scratch_factor = "SIGMOID_FWD", "SIGMOID_BWD", "sigmoid", 2


@emitter("TanH")
class _TanH(_Elementwise):
    """TanH: torch.tanh (MKL's vsTanh); backward ATen's tanh_backward."""

    forward_op, backward_op, check = "TANH_FWD", "TANH_BWD", "tanh"


@emitter("EuclideanLoss")
class _EuclideanLoss:
    """EuclideanLoss: ``sum((a - b)^2) / N / 2``; backward the chain autograd runs for that
    expression: ``g / 2 / N`` times the difference, twice (``d * d``), negated for ``b``."""

    def forward(self, prog, i, node, module):
        a_name, b_name = node.bottoms
        sa, sb = prog.shape[a_name], prog.shape[b_name]
        n = sa[0] if len(sa) else 0
        count = int(np.prod(sa, dtype=np.int64))
        if not n or count != int(np.prod(sb, dtype=np.int64)) or len(node.tops) != 1:
            raise Refused("EuclideanLoss shapes")
        d, sq, loss = prog.scratch(count), prog.scratch(count), prog.scratch(1)
        prog.op("EUCLID_FWD", prog.data[a_name], prog.data[b_name], d, sq, loss, n,
                count // n)
        prog.check("sum", (count,))
        top, = node.tops
        prog.data[top] = loss
        prog.shape[top] = ()
        prog.saved[i] = (d, n, count, sa, sb)

    def backward(self, prog, i, node, module, wanted, want_params):
        if not any(wanted):
            return
        d, n, count, sa, sb = prog.saved[i]
        dloss = prog.top_diff(node.tops[0])
        da = prog.scratch(count) if wanted[0] else -1
        db = prog.scratch(count) if wanted[1] else -1
        prog.op("EUCLID_BWD", d, dloss, da, db, n, count // n)
        for name, buf in zip(node.bottoms, (da, db)):
            if buf >= 0:
                prog.diff[name] = buf


@emitter("Split")
class _Split:
    """Split's tops share the bottom's value; backward the first diff, or the sum of two."""

    def forward(self, prog, i, node, module):
        if len(node.tops) > 2:
            raise Refused("Split with more than two tops")
        x_name, = node.bottoms
        for top in node.tops:
            prog.data[top] = prog.data[x_name]
            prog.shape[top] = prog.shape[x_name]

    def backward(self, prog, i, node, module, wanted, want_params):
        if not wanted[0]:
            return
        count = int(np.prod(prog.shape[node.bottoms[0]], dtype=np.int64))
        diffs = [prog.top_diff(t) for t in node.tops]
        out = prog.scratch(count)
        if len(diffs) == 1:
            prog.op("COPY", diffs[0], out, count)
        else:
            prog.op("ADD", diffs[0], diffs[1], out, count)
        prog.diff[node.bottoms[0]] = out


@emitter("Accuracy")
class _Accuracy:
    """Accuracy changes nothing the next iteration reads: skipped, unless its top is a loss
    or feeds a layer (then refused)."""

    def forward(self, prog, i, node, module):
        weights = prog.store.nodes[i][2]
        if any(weights):
            raise Refused("Accuracy with a loss weight")

    def infer(self, prog, i, node, module):
        """Accuracy._numpy_accuracy on (M, C) scores, one top, no ignore_label."""
        x_name, label_name = node.bottoms
        shape = prog.shape[x_name]
        if module.ignore_label is not None or module.axis != 1 or len(shape) != 2 or \
                len(node.tops) != 1 or \
                int(np.prod(prog.shape[label_name], dtype=np.int64)) != shape[0]:
            raise Refused("Accuracy other than (M, C) with one top")
        out = prog.scratch(1)
        prog.op("ACCURACY", prog.data[x_name], prog.data[label_name], out, shape[0],
                shape[1], module.top_k)
        top, = node.tops
        prog.data[top] = out
        prog.shape[top] = ()

    def backward(self, prog, i, node, module, wanted, want_params):
        raise Refused("Accuracy in the backward pass")


@emitter("SoftmaxWithLoss")
class _SoftmaxWithLoss:
    """SoftmaxWithLoss's explicit calls where every position counts: softmax over the
    classes, ``-sum log(max(p[label], FLT_MIN)) / normalizer``; backward ``(p - onehot) *
    (dloss / normalizer)``. Labels out of range stop the loop before the iteration."""

    def forward(self, prog, i, node, module):
        x_name, label_name = node.bottoms
        shape = prog.shape[x_name]
        if module.ignore_label is not None or module.axis != 1 or len(shape) != 2 or \
                len(node.tops) != 1 or not 1 <= shape[1] < 8:
            raise Refused("SoftmaxWithLoss other than (M, C < 8) without ignore_label")
        m, c = shape
        if int(np.prod(prog.shape[label_name], dtype=np.int64)) != m:
            raise Refused("SoftmaxWithLoss label count")
        norm = normalizer(module.mode, m, 1, m)
        if float(_f32(norm)) != norm:
            raise Refused("normalizer not a float32 value")
        prob, logs, loss = prog.scratch(m * c), prog.scratch(m), prog.scratch(1)
        prog.op("SMLOSS_FWD", prog.data[x_name], prog.data[label_name], prob, loss, logs, m,
                c, prog.const(-norm))
        prog.check("softmax", (m, c))
        prog.check("log", (m,))
        prog.check("sum", (m,))
        top, = node.tops
        prog.data[top] = loss
        prog.shape[top] = ()
        prog.saved[i] = (prob, prog.data[label_name], m, c, norm)

    def backward(self, prog, i, node, module, wanted, want_params):
        if not wanted[0]:
            return
        prob, label, m, c, norm = prog.saved[i]
        dloss = prog.top_diff(node.tops[0])
        dx = prog.scratch(m * c)
        prog.op("SMLOSS_BWD", prob, label, dloss, dx, m, c, prog.const(norm))
        prog.diff[node.bottoms[0]] = dx


# ---------------------------------------------------------------------------- building
def _solver_ok(solver):
    """The conditions on the solver that cannot change while it lives (see the module doc)."""
    from .sgd import SGDSolver
    base = type(solver).__mro__[1] if len(type(solver).__mro__) > 1 else None
    p = solver.param
    return (base is SGDSolver and solver.fused_update and p.iter_size == 1
            and p.clip_gradients < 0 and not p.debug_info and solver.device.type == "cpu"
            and not solver.net.graph.force_backward and sgd_update.available()
            and all(m != 0 for m in solver._lr_mults)
            and (p.regularization_type == "L2"
                 or not any(_f32(p.weight_decay) * m for m in solver._decay_mults)))


def _emit_forward(prog, store, test):
    for t in store.data.values():
        if t.dtype != torch.float32 or not t.is_cpu:
            raise Refused("blobs other than float32 CPU")
    for i, (node, key, weights, _) in enumerate(store.nodes):
        emit = EMITTERS.get(node.type)
        if emit is None:
            raise Refused(f"layer type {node.type}")
        if test:
            _infer(emit, prog, i, node, store.steps[i][0])
        else:
            emit.forward(prog, i, node, store.steps[i][0])
        for j, w in enumerate(weights):
            if w:
                top = node.tops[j]
                if prog.shape.get(top) != ():
                    raise Refused("a loss top that is not a scalar")
                prog.losses.append((prog.data[top], float(w)))
    prog.ops.append(_OPS["LOSS_VALUE" if test else "LOSS"])
    prog.ops.append(len(prog.losses))
    for buf, w in prog.losses:
        prog.ops.extend((buf, prog.const(w)))


def _finish(prog):
    for slot, batch in prog.advance:
        prog.op("ADVANCE", slot, batch)
    if not all(kernel.check(kind, shape) for kind, shape in prog.checks):
        return None
    prog.ops_array = np.asarray(prog.ops, dtype=np.int64)
    prog.ptrs_array = np.asarray(prog.ptrs, dtype=np.int64)
    prog.consts_array = np.asarray(prog.consts, dtype=np.float64)
    return prog


def build(solver, store):
    """The training :class:`Program` of ``store``'s net under ``solver``, or None where the
    compiled loop cannot run it exactly (see the module doc)."""
    if not _solver_ok(solver) or not kernel.available():
        return None
    plan = fast_step.plan_for(store)
    if plan is None or not train_plan.ENABLED:
        return None
    if plan.records is not None and not plan.ready():
        return None
    if plan.records is None:
        # the per-layer loop: explicit calls where a layer offers them and they apply now,
        # autograd per layer for the others (which need an emitter of that form)
        for i, (node, key, _, _) in enumerate(store.nodes):
            module = store.steps[i][0]
            if store.layer_need[i] and module.explicit_forward is not None and \
                    not module.explicit_ready():
                return None
    prog = Program(solver, store)
    try:
        _emit_forward(prog, store, False)
        for i in range(len(store.nodes) - 1, -1, -1):
            node = store.nodes[i][0]
            if not store.layer_need[i] or (not node.bottoms and not any(store.param_need[i])):
                continue
            module = store.steps[i][0]
            wanted = tuple(need and store.data[b].is_floating_point()
                           for b, need in zip(node.bottoms, store.bottom_need[i]))
            want_params = tuple(need and p.requires_grad
                                for p, need in zip(module.blobs, store.param_need[i]))
            EMITTERS[node.type].backward(prog, i, node, module, wanted, want_params)
        _emit_update(prog, solver)
    except (Refused, KeyError):
        return None
    return _finish(prog)


def build_test(solver, store):
    """The test-pass :class:`Program` of a test net (its forward with autograd off, each
    pass's output values and loss written out), or None (see the module doc)."""
    if solver.device.type != "cpu" or not kernel.available():
        return None
    plan = fast_step.plan_for(store)
    net = store.net
    if plan is None or plan.inference_records is None or \
            (net.inference_chunk and net._per_item):
        return None
    prog = Program(solver, store)
    try:
        with torch.no_grad():
            _emit_forward(prog, store, True)
        holder = prog.out_holder = [None]
        offset = 0
        out = prog.live_ptr(lambda: holder[0], 0)
        for name in net.graph.outputs:
            count = int(np.prod(prog.shape[name], dtype=np.int64))
            prog.outputs.append((name, count))
            offset += count
        prog.out_total = offset
        offset = 0
        for name, count in prog.outputs:
            prog.op("OUTPUT", prog.data[name], out, count, offset, prog.out_total)
            offset += count
    except (Refused, KeyError):
        return None
    return _finish(prog)


def _history(owner, j):
    solver = owner()
    return None if solver is None else solver.history[j]


def _emit_update(prog, solver):
    """Caffe's SGD update of every learnable blob, in the solver's order."""
    decay = _f32(solver.param.weight_decay)
    params = solver._params
    owner = prog.solver_ref
    args = []
    for j, p in enumerate(params):
        w = prog.live_ptr(lambda p=p: p.detach(), p.numel())
        d = prog.live_ptr(lambda p=p: p.grad, p.numel())
        h = prog.live_ptr(lambda j=j: _history(owner, j), p.numel())
        args.extend((w, d, h, p.numel(), prog.const(float(decay * solver._decay_mults[j]))))
    # the diffs cleared first, as _clear_param_diffs does at the top of each iteration
    zero_ops = []
    for j, p in enumerate(params):
        zero_ops.extend((_OPS["ZERO"], args[5 * j + 1], p.numel()))
    prog.ops[:0] = zero_ops
    prog.op("UPDATE", len(params), prog.const(float(_f32(solver.param.momentum))),
            1 if sgd_update.mode() else 0, *args)


# ---------------------------------------------------------------------------- running
def _program(solver):
    """The solver's training program, built once per training net and kernel settings (None:
    the per-layer loop)."""
    store = solver._owner.net._store
    p = solver.param
    # the solver fields the program holds as constants or was built under
    fields = (p.momentum, p.weight_decay, p.regularization_type, p.iter_size,
              p.clip_gradients, p.debug_info, tuple(solver._lr_mults),
              tuple(solver._decay_mults))
    key = (store, train_plan.kernel_state(), _shapes(store), fields)
    cached = solver.__dict__.get("_tiny_program")
    if cached is not None and cached[0] == key:
        return cached[1]
    prog = build(solver, store)
    solver._tiny_program = (key, prog)
    return prog


def _shapes(store):
    """The blobs' shapes (a program holds buffers of these sizes)."""
    return tuple(tuple(t.shape) for t in store.data.values())


def _test_program(solver, test_net_id):
    store = solver._owner._test_nets[test_net_id]._store
    key = (store, train_plan.kernel_state(), _shapes(store))
    programs = solver.__dict__.setdefault("_tiny_test_programs", {})
    cached = programs.get(test_net_id)
    if cached is not None and cached[0] == key:
        return cached[1]
    prog = build_test(solver, store)
    programs[test_net_id] = (key, prog)
    return prog


def _resolve(prog):
    """The live addresses filled in: ``{index: tensor or array}``, or None where one is not
    a float32 C-contiguous CPU buffer now."""
    live = {}
    ptrs = prog.ptrs_array
    for index, getter, count in prog.live:
        t = getter()
        address = _address(t)
        if address is None or (t.size if isinstance(t, np.ndarray) else t.numel()) < count:
            return None
        ptrs[index] = address
        live[index] = t
    return live


def _cursors(prog):
    cursors = np.empty(2 * len(prog.sources), dtype=np.int64)
    limits = np.empty(len(prog.sources), dtype=np.int64)
    for s, (src, batch) in enumerate(prog.sources):
        cursors[2 * s], cursors[2 * s + 1], limits[s] = src.current_row, batch, src.rows
    return cursors, limits


def _store_cursors(prog, cursors):
    for s, (src, _) in enumerate(prog.sources):
        src.current_row = int(cursors[2 * s])


def run_test_batches(solver, test_net_id, count):
    """Up to ``count`` forward passes of test net ``test_net_id`` in one call, as the test
    pass makes them: ``(outputs, losses)`` (one row of output values, in output order, and
    the float32 loss per pass), or None where the per-layer loop must run the next pass."""
    if not ENABLED or count <= 0 or solver.action_function is not None:
        return None
    prog = _test_program(solver, test_net_id)
    if prog is None:
        return None
    outputs = np.empty((count, max(1, prog.out_total)), dtype=np.float32)
    prog.out_holder[0] = outputs
    try:
        if _resolve(prog) is None:
            return None
    finally:
        prog.out_holder[0] = None
    cursors, limits = _cursors(prog)
    losses = np.empty(count, dtype=np.float32)
    done = kernel.run(prog.ops_array, prog.ptrs_array, prog.consts_array, count, losses,
                      np.zeros(1, np.float32), cursors, limits)
    if not done:
        return None
    _store_cursors(prog, cursors)
    return outputs[:done, :prog.out_total], losses[:done]


def _plain_run(solver, stop_iter):
    """How many iterations from ``solver.iter`` on Python need not see: before the last of
    the call, a test pass, a display, a snapshot or a multistep message."""
    p = solver.param
    it = solver.iter
    end = stop_iter - 1
    if p.test_interval:
        nxt = -(-it // p.test_interval) * p.test_interval
        if nxt == 0 and not p.test_initialization:
            nxt = p.test_interval
        end = min(end, nxt)
    if p.display:
        end = min(end, -(-it // p.display) * p.display)
    if p.snapshot:
        end = min(end, -(-(it + 1) // p.snapshot) * p.snapshot - 1)
    return max(0, end - it)


def run_iterations(solver, stop_iter, start_iter, average_loss):
    """Run the iterations from ``solver.iter`` on that Python need not see in the compiled
    loop (see the module doc); returns how many ran (0: the per-layer loop runs the next)."""
    if not ENABLED or solver.callbacks or solver.action_function is not None or \
            solver.log.bar is not None or not torch.is_grad_enabled():
        return 0
    count = _plain_run(solver, stop_iter)
    if count <= 0:
        return 0
    prog = _program(solver)
    if prog is None:
        return 0
    live = _resolve(prog)
    if live is None:
        return 0
    # the rates, as get_learning_rate gives them iteration after iteration
    count, rates, last_rate, last_step = _rates(solver.param, solver.iter, count,
                                                solver.current_step)
    if count == 0:
        return 0
    mults = np.asarray(solver._lr_mults, dtype=np.float32)
    local = (rates[:count, None] * mults[None, :]).astype(np.float32)
    cursors, limits = _cursors(prog)
    losses = np.empty(count, dtype=np.float32)
    done = kernel.run(prog.ops_array, prog.ptrs_array, prog.consts_array, count, losses, local,
                      cursors, limits)
    if not done:
        return 0
    _store_cursors(prog, cursors)
    # the state the per-layer loop leaves after these iterations
    if done < count:
        last_rate, last_step = _rates(solver.param, solver.iter, done, solver.current_step)[2:]
    losses = losses[:done]
    solver.smoothed_loss = kernel.smooth(losses, solver._losses, solver.smoothed_loss,
                                         solver.iter - start_iter, average_loss)
    solver.last_loss = losses[-1]
    solver.iter += done
    solver.learning_rate = last_rate
    solver.current_step = last_step
    _move_versions([t for t in live.values() if isinstance(t, torch.Tensor)], done)
    return done


def _rates(p, first, count, step):
    """``(count, rates, last rate, last step)``: the float32 rates of the updates at
    iterations ``first`` to ``first + count - 1`` as get_learning_rate gives them one after
    the other, ``count`` cut before the first that logs a message (multistep). The rate is
    evaluated once per run where the policy holds it constant (fixed; step within a step;
    multistep between its step values), at every iteration otherwise."""
    rates = np.empty(count, dtype=np.float32)
    policy = p.lr_policy
    n = 0
    while n < count:
        it = first + n
        rate, next_step, message = lr_policy.rate(p, it, step)
        if message:
            break
        step = next_step
        if policy == "fixed":
            end = count
        elif policy == "step":
            end = min(count, (it // p.stepsize + 1) * p.stepsize - first)
        elif policy == "multistep":
            end = count if step >= len(p.stepvalue) else \
                min(count, max(n + 1, p.stepvalue[step] - first))
        else:
            end = n + 1
        rates[n:end] = rate
        n = end
    return n, rates[:n], rates[n - 1] if n else None, step


def _move_versions(tensors, by):
    """The version counters moved on as the per-layer loop's in-place calls move them
    (caches of derived weights compare them)."""
    setter = getattr(torch._C._autograd, "_unsafe_set_version_counter", None)
    if setter is None:
        return
    seen = {}
    for t in tensors:          # a parameter and its detached alias share one counter
        seen.setdefault(t.data_ptr(), t)
    tensors = list(seen.values())
    setter(tuple(tensors), tuple(t._version + by for t in tensors))
