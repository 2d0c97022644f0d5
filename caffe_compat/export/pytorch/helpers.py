"""The functions a generated ``model.py`` carries where Caffe differs from torch's defaults.

The generator copies the source of each function a net uses (and of the functions it calls)
into ``model.py``; so this module imports torch and math only, and every function is short and
states the Caffe rule it keeps. Each is checked through the generated models against
:class:`caffe_compat.Net` (tests/caffe_compat/export/pytorch/).
"""
import math

import torch
import torch.nn.functional as F


def pooled_size(length, kernel, stride, pad, ceil):
    """Caffe's PoolingLayer output length: ``ceil((length + 2 pad - kernel) / stride) + 1``
    (floor with ``round_mode: FLOOR``), one less when the last window would start at or beyond
    ``length + pad`` (in the padding only)."""
    span = length + 2 * pad - kernel
    out = (-(-span // stride) if ceil else span // stride) + 1
    if pad > 0 and (out - 1) * stride >= length + pad:
        out -= 1
    return out


def pool_geometry(x, kernel, stride, pad, ceil):
    """(kernel, output size, torch_agrees, explicit pads) of Caffe's pooling of ``x``:
    ``kernel`` None is global pooling; ``torch_agrees`` when torch's pooling of the same
    arguments has Caffe's windows (its padding at most half the kernel and its output size
    equal to Caffe's); the pads make every window a whole block of the padded input."""
    h, w = int(x.shape[-2]), int(x.shape[-1])
    kh, kw = (h, w) if kernel is None else kernel
    oh = pooled_size(h, kh, stride[0], pad[0], ceil)
    ow = pooled_size(w, kw, stride[1], pad[1], ceil)
    torch_h = (h + 2 * pad[0] - kh + (stride[0] - 1 if ceil else 0)) // stride[0] + 1
    torch_w = (w + 2 * pad[1] - kw + (stride[1] - 1 if ceil else 0)) // stride[1] + 1
    if ceil and (torch_h - 1) * stride[0] >= h + pad[0]:
        torch_h -= 1
    if ceil and (torch_w - 1) * stride[1] >= w + pad[1]:
        torch_w -= 1
    agrees = pad[0] <= kh // 2 and pad[1] <= kw // 2 and (torch_h, torch_w) == (oh, ow)
    pads = (pad[1], (ow - 1) * stride[1] + kw - w - pad[1],
            pad[0], (oh - 1) * stride[0] + kh - h - pad[0])
    return (kh, kw), (oh, ow), agrees, pads


def max_pool(x, kernel, stride=(1, 1), pad=(0, 0), ceil=True):
    """Caffe's MAX pooling: output size by :func:`pooled_size`, windows clipped to the input
    (padding never wins), a window holding no input position gives -FLT_MAX (Caffe's initial
    value). ``kernel`` None: global pooling."""
    k, _, agrees, pads = pool_geometry(x, kernel, stride, pad, ceil)
    if agrees:
        return F.max_pool2d(x, k, stride, pad, ceil_mode=ceil)
    y = F.max_pool2d(F.pad(x, pads, value=-math.inf), k, stride)
    return y.clamp_min(-torch.finfo(torch.float32).max)


def ave_pool(x, kernel, stride=(1, 1), pad=(0, 0), ceil=True):
    """Caffe's AVE pooling: each window's sum divided by the window clipped to
    ``[-pad, length + pad)`` (padded zeros count, the part beyond the padded border does not).
    ``kernel`` None: global pooling."""
    k, (oh, ow), agrees, pads = pool_geometry(x, kernel, stride, pad, ceil)
    if agrees:
        return F.avg_pool2d(x, k, stride, pad, ceil_mode=ceil, count_include_pad=True)
    total = F.avg_pool2d(F.pad(x, pads), k, stride, divisor_override=1)
    h, w = int(x.shape[-2]), int(x.shape[-1])
    rows = torch.arange(oh) * stride[0] - pad[0]
    cols = torch.arange(ow) * stride[1] - pad[1]
    rows = torch.clamp(rows + k[0], max=h + pad[0]) - rows
    cols = torch.clamp(cols + k[1], max=w + pad[1]) - cols
    return total / (rows[:, None] * cols[None, :]).to(total)


def lrn_within_channel(x, size, alpha, beta):
    """Caffe's WITHIN_CHANNEL LRN: ``x / (1 + alpha * avg)^beta``, ``avg`` the sum of x^2 over
    the size x size window (zero-padded by (size - 1) / 2) divided by size^2 everywhere; Caffe's
    ``k`` is not used."""
    avg = F.avg_pool2d(x * x, size, stride=1, padding=(size - 1) // 2, count_include_pad=True)
    return x * (1.0 + alpha * avg).pow(-beta)


def eltwise_max(*xs):
    """Caffe's Eltwise MAX: between the first two bottoms a tie goes to the second, every later
    bottom must be strictly greater than the running maximum; the gradient of an element goes
    to the winner only."""
    top = torch.where(xs[0] > xs[1], xs[0], xs[1])
    for x in xs[2:]:
        top = torch.where(x > top, x, top)
    return top


def lstm(x, cont, w_xc, b_c, w_hc, h=None, c=None, x_static=None, w_xc_static=None):
    """Caffe's LSTM layer over ``x`` (T, N, ...) and ``cont`` (T, N), returning (outputs
    (T, N, H), h_T, c_T). Per step: ``gates = W_hc (cont_t h) + W_xc x_t + b_c [+ W_xc_static
    x_static]`` laid out i, f, o, g; ``f`` is multiplied by ``cont_t`` (0 starts a sequence);
    ``c = f c + i g``, ``h = o tanh(c)``. The initial h and c are zero unless given."""
    steps, n = x.shape[0], x.shape[1]
    hidden = w_hc.shape[1]
    h = x.new_zeros(n, hidden) if h is None else h.reshape(n, hidden)
    c = x.new_zeros(n, hidden) if c is None else c.reshape(n, hidden)
    gates_x = F.linear(x.reshape(steps, n, -1), w_xc, b_c)
    if x_static is not None:
        gates_x = gates_x + F.linear(x_static.reshape(n, -1), w_xc_static)
    outputs = []
    for t in range(steps):
        cont_t = cont[t].to(x.dtype).unsqueeze(1)
        gates = F.linear(h * cont_t, w_hc) + gates_x[t]
        i, f, o, g = gates.split(hidden, 1)
        c = cont_t * torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs), h, c


def rnn(x, cont, w_xh, b_h, w_hh, w_ho, b_o, h=None, x_static=None, w_xh_static=None):
    """Caffe's RNN layer over ``x`` (T, N, ...) and ``cont`` (T, N), returning (outputs
    (T, N, H), h_T): ``h = tanh(W_hh (cont_t h) + W_xh x_t + b_h [+ W_xh_static x_static])``,
    output ``tanh(W_ho h + b_o)``. The initial h is zero unless given."""
    steps, n = x.shape[0], x.shape[1]
    hidden = w_hh.shape[1]
    h = x.new_zeros(n, hidden) if h is None else h.reshape(n, hidden)
    pre_x = F.linear(x.reshape(steps, n, -1), w_xh, b_h)
    if x_static is not None:
        pre_x = pre_x + F.linear(x_static.reshape(n, -1), w_xh_static)
    outputs = []
    for t in range(steps):
        h = torch.tanh(F.linear(h * cont[t].to(x.dtype).unsqueeze(1), w_hh) + pre_x[t])
        outputs.append(torch.tanh(F.linear(h, w_ho, b_o)))
    return torch.stack(outputs), h


def l2_normalize(x, scale, across_spatial=True, eps=1e-10):
    """SSD's Normalize: ``x / sqrt(sum(x^2) + eps)`` over each item (``across_spatial``) or
    over the channels at each position, times ``scale`` (one value, or one per channel)."""
    squares = x * x
    if across_spatial:
        total = squares.reshape(x.shape[0], -1).sum(1)
        norm = torch.sqrt(total + eps).reshape((-1,) + (1,) * (x.dim() - 1))
    else:
        norm = torch.sqrt(squares.sum(1, keepdim=True) + eps)
    y = x / norm
    if scale.numel() == 1:
        return y * scale[0]
    return y * scale.reshape((1, -1) + (1,) * (x.dim() - 2))


def mvn(x, across_channels=False, normalize_variance=True, eps=1e-9):
    """Caffe's MVN: each (item, channel), or each item with ``across_channels``, minus its
    mean, divided by ``sqrt(mean squared deviation) + eps`` (eps outside the root)."""
    rows = x.reshape(x.shape[0], -1) if across_channels else \
        x.reshape(x.shape[0] * x.shape[1], -1)
    centered = rows - rows.mean(dim=1, keepdim=True)
    if normalize_variance:
        centered = centered / (torch.sqrt((centered * centered).mean(dim=1, keepdim=True)) + eps)
    return centered.reshape(x.shape)


def lstm_unit(c_prev, x, cont):
    """Caffe's LSTMUnit: gate inputs ``x`` laid out i, f, o, g (H values each);
    ``c = cont sigmoid(f) c_prev + sigmoid(i) tanh(g)``, ``h = sigmoid(o) tanh(c)``;
    returns (c, h)."""
    i, f, o, g = x.split(c_prev.shape[-1], -1)
    c = cont.unsqueeze(-1).to(x.dtype) * torch.sigmoid(f) * c_prev + \
        torch.sigmoid(i) * torch.tanh(g)
    return c, torch.sigmoid(o) * torch.tanh(c)
