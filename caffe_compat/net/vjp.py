"""Vector-Jacobian products with given top diffs, without torch's first-call import of sympy.

Caffe's backward starts from the diffs a program or the next layer wrote into the tops. The
autograd call for that, ``torch.autograd.grad(outputs, inputs, grad_outputs)``, checks each
given diff's shape through ``torch.fx.experimental.symbolic_shapes`` (for symbolic sizes,
which these tensors never have), and importing that module the first time loads sympy: about
0.45 s of CPU in a process that otherwise never needs it. Every pycaffe program that calls
``net.backward()`` or ``caffe time`` paid it once.

:func:`grad` checks the shapes itself (plain ints: the same rule, the same refusal) and hands
the diffs to the autograd engine as ``torch.autograd.grad`` does after its checks. Where this
torch does not have that engine entry (``torch.autograd.graph._engine_run_backward``, present
since torch 2.3), it calls ``torch.autograd.grad`` itself: the same results, the import paid.
"""
from __future__ import annotations

import torch

try:
    from torch.autograd.graph import _engine_run_backward as _run_backward
except ImportError:             # an older torch: the public call, with its import
    _run_backward = None


def grad(outputs, inputs, grad_outputs, retain_graph=False, allow_unused=False):
    """``torch.autograd.grad(outputs, inputs, grad_outputs, retain_graph=..., allow_unused=...)``:
    the gradients of ``sum(output * diff)`` with respect to ``inputs``, as a tuple (None for an
    input the outputs do not depend on, where ``allow_unused``)."""
    outputs, inputs, grad_outputs = tuple(outputs), tuple(inputs), tuple(grad_outputs)
    if _run_backward is None or torch.overrides.has_torch_function(outputs + inputs):
        return torch.autograd.grad(outputs, inputs, grad_outputs, retain_graph=retain_graph,
                                   allow_unused=allow_unused)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad: {len(grad_outputs)} diffs given for {len(outputs)} "
                           "outputs (one diff per output)")
    if not inputs:
        raise RuntimeError("grad: no inputs to take the gradient with respect to")
    for k, (out, diff) in enumerate(zip(outputs, grad_outputs)):
        if tuple(out.shape) != tuple(diff.shape):
            raise RuntimeError(f"Mismatch in shape: grad_output[{k}] has a shape of "
                               f"{tuple(diff.shape)} and output[{k}] has a shape of "
                               f"{tuple(out.shape)}.")
        if out.is_complex() != diff.is_complex():
            raise RuntimeError(f"grad: grad_output[{k}] is {diff.dtype} and output[{k}] is "
                               f"{out.dtype}: both real or both complex")
        if out.device != diff.device:
            raise RuntimeError(f"grad: grad_output[{k}] is on {diff.device} and output[{k}] "
                               f"on {out.device}: move the diff to the output's device")
    return _run_backward(outputs, grad_outputs, retain_graph, False, inputs, allow_unused,
                         accumulate_grad=False)
