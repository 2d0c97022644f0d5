"""Vector-Jacobian products with given top diffs, without torch's first-call import of sympy.

Caffe's backward starts from the diffs written into the tops. ``torch.autograd.grad(outputs,
inputs, grad_outputs)`` checks each given diff's shape through
``torch.fx.experimental.symbolic_shapes``, whose first import loads sympy (about 0.45 s of
CPU, once per pycaffe program calling ``net.backward()`` or ``caffe time``). :func:`grad`
checks the shapes itself (plain ints: the same rule and refusal) and asks autograd for the
gradients of the scalar ``sum(output * diff)``: no diff is given, so nothing is imported, and
each output's gradient is ``diff * 1.0``, the diff itself."""
from __future__ import annotations

import torch


def grad(outputs, inputs, grad_outputs, retain_graph=False, allow_unused=False):
    """``torch.autograd.grad(outputs, inputs, grad_outputs, retain_graph=..., allow_unused=...)``:
    the gradients of ``sum(output * diff)`` with respect to ``inputs``, as a tuple (None for an
    input the outputs do not depend on, where ``allow_unused``)."""
    outputs, inputs, grad_outputs = tuple(outputs), tuple(inputs), tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad: {len(grad_outputs)} diffs given for {len(outputs)} "
                           "outputs (one diff per output)")
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
    total = sum((out * diff).sum() for out, diff in zip(outputs, grad_outputs))
    return torch.autograd.grad(total, inputs, retain_graph=retain_graph,
                               allow_unused=allow_unused)
