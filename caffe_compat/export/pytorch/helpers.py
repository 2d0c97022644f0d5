"""The functions a generated ``model.py`` carries where Caffe differs from torch's defaults.

The generator copies the source of each function a net uses (and of the functions it calls)
into ``model.py``; so this module imports torch and math only (and the plain-integer rules of
:mod:`caffe_compat.rules` that are copied the same way: Caffe's pooled size), and every function
is short and states the Caffe rule it keeps. Each is checked through the generated models against
:class:`caffe_compat.Net` (tests/caffe_compat/export/pytorch/).
"""
import math

import torch
import torch.nn.functional as F

# the rules' sources go into model.py
from ...rules.boxes import box_size, decode, greedy, ranked  # noqa: F401
from ...rules.detection_output import output_rows  # noqa: F401
from ...rules.lrn import within_channel  # noqa: F401
from ...rules.pooling import pooled_size, torch_agrees, window_sizes  # noqa: F401


def pool_geometry(x, kernel, stride, pad, ceil):
    """(kernel, output size, torch_agrees, explicit pads) of Caffe's pooling of ``x``:
    ``kernel`` None is global pooling; ``torch_agrees`` when torch's pooling of the same
    arguments has Caffe's windows (:func:`torch_agrees` along both axes); the pads make every
    window a whole block of the padded input."""
    h, w = int(x.shape[-2]), int(x.shape[-1])
    kh, kw = (h, w) if kernel is None else kernel
    oh = pooled_size(h, kh, stride[0], pad[0], ceil)
    ow = pooled_size(w, kw, stride[1], pad[1], ceil)
    agrees = torch_agrees(h, kh, stride[0], pad[0], ceil) and \
        torch_agrees(w, kw, stride[1], pad[1], ceil)
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
    rows = torch.tensor(window_sizes(int(x.shape[-2]), k[0], stride[0], pad[0], oh))
    cols = torch.tensor(window_sizes(int(x.shape[-1]), k[1], stride[1], pad[1], ow))
    return total / (rows[:, None] * cols[None, :]).to(total)


def lrn_within_channel(x, size, alpha, beta):
    """Caffe's WITHIN_CHANNEL LRN: ``x / (1 + alpha * avg)^beta``, ``avg`` the sum of x^2 over
    the size x size window (zero-padded by (size - 1) / 2) divided by size^2 everywhere; Caffe's
    ``k`` is not used."""
    avg = F.avg_pool2d(x * x, size, stride=1, padding=(size - 1) // 2, count_include_pad=True)
    return within_channel(x, avg, alpha, beta, torch.pow)[0]


def relu_in_place(x, slope=0.0):
    """Caffe's in-place ReLU (leaky with ``slope``): overwrites ``x`` when autograd is off (no
    copy; ``x`` is a blob the layer before made and nothing else reads), a new tensor
    otherwise."""
    if torch.is_grad_enabled():
        return F.leaky_relu(x, slope) if slope else torch.relu(x)
    return F.leaky_relu_(x, slope) if slope else torch.relu_(x)


def batch_norm(x, bn):
    """Caffe's BatchNorm: with the running (global) statistics ``(x - mean) / sqrt(var + eps)``,
    a division as Caffe's ``caffe_div`` (torch's module multiplies by the reciprocal instead,
    which rounds otherwise); in training mode, or without running statistics, torch's module
    (the batch's own statistics, its moving average)."""
    if bn.training or bn.running_mean is None:
        return bn(x)
    view = (1, -1) + (1,) * (x.dim() - 2)
    y = (x - bn.running_mean.view(view)) / torch.sqrt(bn.running_var + bn.eps).view(view)
    if bn.affine:
        y = y * bn.weight.view(view) + bn.bias.view(view)
    return y


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


def arg_max(x, top_k, out_max_val=False, axis=None, trailing=0):
    """Caffe's ArgMax: the ``top_k`` largest entries, ties to the larger index (its
    ``partial_sort`` with ``greater<pair<value, index>>``), indices as floats, no gradient.
    With ``axis``: that axis cut to ``top_k``, indices or (``out_max_val``) values. Without:
    each item flattened, (N, 1, top_k) indices or (N, 2, top_k) indices then values, with
    ``trailing`` axes of size 1 after them."""
    x = x.detach()
    moved = x.movedim(axis, -1) if axis is not None else x.reshape(x.shape[0], -1)
    n = moved.shape[-1]
    # descending, and among equal values the larger index first: a stable sort of the
    # reversed axis
    values, flipped = torch.sort(moved.flip(-1), dim=-1, descending=True, stable=True)
    values, index = values[..., :top_k], ((n - 1) - flipped[..., :top_k]).to(x.dtype)
    if axis is not None:
        return (values if out_max_val else index).movedim(-1, axis).contiguous()
    parts = [index, values] if out_max_val else [index]
    return torch.stack(parts, 1).reshape((x.shape[0], len(parts), top_k) + (1,) * trailing)


def im2col(x, kernel, stride, pad, dilation, far, out, axis=1):
    """Caffe's Im2col: the axes from ``axis`` on (channels, then the spatial ones) as
    Caffe's column buffer. The input is zero-padded by ``pad`` (and ``far`` more zeros after
    the end: what Caffe's im2col reads past an axis shorter than the window); for each kernel
    offset, in row-major order, the strided slice of ``out`` positions starting at ``offset *
    dilation``; rows channel-major ``(c, k_1, ..., k_n)``, each the positions in row-major
    order."""
    lead = tuple(x.shape[:axis])
    x = x.reshape((-1,) + tuple(x.shape[axis:]))
    pads = []
    for p, e in zip(reversed(pad), reversed(far)):
        pads += [p, p + e]
    x = F.pad(x, pads)
    offsets = [()]
    for k in kernel:
        offsets = [o + (i,) for o in offsets for i in range(k)]
    pieces = []
    for offset in offsets:
        index = [slice(None), slice(None)]
        for o, d, n, s in zip(offset, dilation, out, stride):
            index.append(slice(o * d, o * d + (n - 1) * s + 1, s))
        pieces.append(x[tuple(index)])
    columns = torch.stack(pieces, 2)          # (items, C, kernel offsets, positions...)
    return columns.reshape(lead + (-1,) + tuple(out))


def spp(x, levels, maximum=True):
    """Caffe's SPP: level ``l`` of ``levels`` is Caffe's pooling (:func:`max_pool` /
    :func:`ave_pool`) with ``kernel = stride = ceil(size / 2^l)`` and ``pad = (kernel 2^l -
    size + 1) // 2`` per axis, flattened per item; the levels concatenated on axis 1. One
    level: that pooling's output, not flattened."""
    h, w = int(x.shape[2]), int(x.shape[3])
    outs = []
    for level in range(levels):
        bins = 2 ** level
        kernel = (-(-h // bins), -(-w // bins))
        pad = ((kernel[0] * bins - h + 1) // 2, (kernel[1] * bins - w + 1) // 2)
        y = max_pool(x, kernel, kernel, pad) if maximum else ave_pool(x, kernel, kernel, pad)
        if levels == 1:
            return y
        outs.append(y.reshape(x.shape[0], -1))
    return torch.cat(outs, 1)


def roi_bins(start, end, pooled, size):
    """ROIPooling's bins along one axis of ``size`` cells for an ROI from cell ``start`` to
    ``end``: span ``max(end - start + 1, 1)``, ``r = span / pooled`` in float32, bin ``i``
    from ``start + trunc(i r)`` to ``start + ceil((i + 1) r)``, clipped to the axis."""
    ratio = torch.tensor(float(max(end - start + 1, 1)), dtype=torch.float32) / pooled
    steps = torch.arange(pooled + 1, dtype=torch.float32) * ratio
    lo = (steps[:-1] + start).trunc().clamp_min(0).long().tolist()
    hi = (torch.ceil(steps[1:]) + start).clamp_max(size).long().tolist()
    return list(zip(lo, hi))


def round_half_away(v):
    """C's ``(int)(v + (v >= 0 ? 0.5f : -0.5f))`` on float32 values, as integers."""
    return torch.where(v >= 0, v + 0.5, v - 0.5).trunc().long()


def check_roi_batch(index, batch):
    if not 0 <= index < batch:
        raise ValueError(f"ROI batch index {index} is outside the batch of {batch}")
    return index


def roi_pool(feat, rois, pooled, spatial_scale):
    """Caffe's (Fast R-CNN's) ROIPooling as OpenCV 4 computes it: per ROI row ``[batch, x1,
    y1, x2, y2]`` the corners times ``spatial_scale`` (float32) rounded half away from zero,
    bins by :func:`roi_bins`, each bin the maximum of its cells (0 for an empty bin). No
    gradient reaches the ROIs."""
    n, c, h, w = feat.shape
    boxes = rois.detach().float()
    corners = round_half_away(boxes[:, 1:] * spatial_scale).tolist()
    outs = []
    for b, (x0, y0, x1, y1) in zip(boxes[:, 0].long().tolist(), corners):
        b = check_roi_batch(b, n)
        cells = [feat[b, :, ylo:yhi, xlo:xhi].amax(dim=(1, 2))
                 if ylo < yhi and xlo < xhi else feat.new_zeros(c)
                 for ylo, yhi in roi_bins(y0, y1, pooled[0], h)
                 for xlo, xhi in roi_bins(x0, x1, pooled[1], w)]
        outs.append(torch.stack(cells, 1).reshape((c,) + tuple(pooled)))
    return torch.stack(outs) if outs else feat.new_zeros((0, c) + tuple(pooled))


def psroi_bins(start, end, k, size):
    """PSROIPooling's bins along one axis: span ``max(end - start, 0.1)``, ``r = span / k``,
    bin ``i`` from ``floor(start + i r)`` to ``ceil(start + (i + 1) r)`` (float32), clipped."""
    ratio = torch.clamp(end - start, min=0.1) / k
    steps = torch.arange(k + 1, dtype=torch.float32) * ratio + start
    lo = torch.floor(steps[:-1]).clamp_min(0).long().tolist()
    hi = torch.ceil(steps[1:]).clamp_max(size).long().tolist()
    return list(zip(lo, hi))


def psroi_pool(maps, rois, output_dim, k, spatial_scale):
    """R-FCN's PSROIPooling as OpenCV 4 computes it: the ROI from ``round(x1)`` to
    ``round(x2 + 1)`` (half away from zero) times ``spatial_scale`` in float32, bins by
    :func:`psroi_bins`; bin ``(i, j)`` of output channel ``c`` averages channel ``(c k + i) k +
    j`` of the maps over its cells (0 for an empty bin). No gradient reaches the ROIs."""
    n, _, h, w = maps.shape
    grouped = maps.reshape(n, output_dim, k, k, h, w)
    boxes = rois.detach().float()
    starts = round_half_away(boxes[:, 1:3]).float() * spatial_scale
    ends = round_half_away(boxes[:, 3:5] + 1.0).float() * spatial_scale
    outs = []
    for r in range(boxes.shape[0]):
        b = check_roi_batch(int(boxes[r, 0].long()), n)
        rows = psroi_bins(starts[r, 1], ends[r, 1], k, h)
        cols = psroi_bins(starts[r, 0], ends[r, 0], k, w)
        cells = [grouped[b, :, i, j, ylo:yhi, xlo:xhi].mean(dim=(1, 2))
                 if ylo < yhi and xlo < xhi else maps.new_zeros(output_dim)
                 for i, (ylo, yhi) in enumerate(rows) for j, (xlo, xhi) in enumerate(cols)]
        outs.append(torch.stack(cells, 1).reshape(output_dim, k, k))
    return torch.stack(outs) if outs else maps.new_zeros((0, output_dim, k, k))


def nms(boxes, sizes, scores, threshold, nms_threshold, top_k, normalized, limit=-1):
    """OpenCV's NMSFast_ (eta 1): the candidates :func:`ranked`, then :func:`greedy`'s scan;
    the kept indices in order."""
    order = ranked(scores, threshold, top_k, torch)
    return order[greedy(boxes[order], sizes[order], nms_threshold, normalized, limit, torch)]


def detect(loc, conf, priors, num_classes, share_location, background, code_type,
           variance_encoded, keep_top_k, threshold, nms_threshold, top_k, normalized,
           clip=None):
    """SSD's DetectionOutput as OpenCV 4 computes it, inference only (no gradient): per image,
    the location offsets decoded against the priors (:func:`decode`), per class but the
    background :func:`nms` of the confidences (stopping at ``keep_top_k`` when there is one
    class), the ``keep_top_k`` best across classes; rows ``[image, label, confidence, xmin,
    ymin, xmax, ymax]`` image by image, by confidence descending, in a (1, 1, keep_top_k N, 7)
    top whose unused rows are 0 (one row per detection when ``keep_top_k`` is -1)."""
    n, dtype = loc.shape[0], loc.dtype
    p = priors.shape[-1] // 4
    loc = loc.detach().float().reshape(n, p, -1, 4)
    conf = conf.detach().float().reshape(n, p, num_classes)
    priors = priors.detach().float().reshape(-1, p, 4)
    variances = None if variance_encoded else priors[1]
    targets = num_classes - (1 if 0 <= background < num_classes else 0)
    limit = keep_top_k if targets == 1 else -1
    images = []
    for i in range(n):
        decoded = {}
        for c in range(loc.shape[2]):
            label = -1 if share_location else c
            if label != background:
                boxes = decode(priors[0], variances, loc[i, :, c], code_type, normalized,
                               clip, torch)
                decoded[label] = (boxes, box_size(*boxes.unbind(1), normalized, torch))
        found = []          # (class, prior index), class by class
        for c in range(num_classes):
            if c != background:
                boxes, sizes = decoded[-1 if share_location else c]
                kept = nms(boxes, sizes, conf[i, :, c], threshold, nms_threshold, top_k,
                           normalized, limit)
                found += [(c, j) for j in kept.tolist()]
        if 0 <= keep_top_k < len(found):
            scores = torch.stack([conf[i, j, c] for c, j in found])
            best = torch.sort(scores, descending=True, stable=True).indices[:keep_top_k]
            chosen = [found[k] for k in best.tolist()]
            found = [(c, j) for label in sorted({c for c, _ in chosen})
                     for c, j in chosen if c == label]
        if not found:
            continue
        labels = torch.tensor([c for c, _ in found])
        index = torch.tensor([j for _, j in found])
        scores = conf[i, index, labels]
        order = torch.sort(scores, descending=True, stable=True).indices
        labels, index = labels[order], index[order]
        boxes = torch.stack([decoded[-1 if share_location else c][0][j]
                             for c, j in zip(labels.tolist(), index.tolist())])
        images.append(torch.cat([torch.full((len(order), 1), float(i)),
                                 labels[:, None].float(), scores[order, None], boxes], 1))
    rows = torch.cat(images) if images else torch.zeros(0, 7)
    out = torch.zeros(1, 1, output_rows(keep_top_k, n, rows.shape[0]), 7)
    out[0, 0, :rows.shape[0]] = rows
    return out.to(device=loc.device, dtype=dtype)


def proposals(scores, deltas, im_info, anchor_w, anchor_h, offset, stride, pre_nms,
              post_nms, nms_threshold):
    """Faster R-CNN's Proposal as OpenCV 4 computes it (batch 1, inference only, float32): one
    anchor of ``anchor_w[a] x anchor_h[a]`` per ratio and scale centred at ``(x + offset)
    stride, (y + offset) stride`` of each cell, corners ``centre - size / 2`` and ``centre +
    size / 2 - 1``, ordered cell (row-major), anchor; the deltas (4 per anchor) decoded as
    CENTER_SIZE boxes in pixels, clipped to ``[0, width - 1] x [0, height - 1]`` of
    ``im_info``; :func:`nms` of the object scores (the second half of the channels; above 0,
    ``pre_nms`` candidates, ``nms_threshold``, stopping at ``post_nms``). Returns the ROIs
    (post_nms, 5) ``[0, x1, y1, x2, y2]`` by score descending, unused rows 0, and their
    scores (post_nms, 1)."""
    a = len(anchor_w)
    h, w = scores.shape[2:]
    objectness = scores.detach().float()[0, a:].permute(1, 2, 0).reshape(-1)
    offsets = deltas.detach().float()[0].permute(1, 2, 0).reshape(-1, 4)
    info = im_info.detach().float().reshape(-1)
    rows, cols = int(info[0]), int(info[1])
    xs = ((torch.arange(w, dtype=torch.float32) + offset) * stride)[None, :, None]
    ys = ((torch.arange(h, dtype=torch.float32) + offset) * stride)[:, None, None]
    half_w = torch.tensor(anchor_w, dtype=torch.float32) * 0.5
    half_h = torch.tensor(anchor_h, dtype=torch.float32) * 0.5
    shape = (h, w, a)
    anchors = torch.stack([(xs - half_w).expand(shape), (ys - half_h).expand(shape),
                           (xs + half_w - 1.0).expand(shape), (ys + half_h - 1.0).expand(shape)],
                          -1).reshape(-1, 4)
    boxes = decode(anchors, None, offsets, 2, False, (float(cols - 1), float(rows - 1)), torch)
    kept = nms(boxes, box_size(*boxes.unbind(1), False, torch), objectness, 0.0, nms_threshold,
               pre_nms, False, post_nms)
    kept = kept[torch.sort(objectness[kept], descending=True, stable=True).indices]
    rois = torch.zeros(post_nms, 5)
    roi_scores = torch.zeros(post_nms, 1)
    rois[:len(kept), 1:] = boxes[kept]
    roi_scores[:len(kept), 0] = objectness[kept]
    return rois.to(scores), roi_scores.to(scores)
