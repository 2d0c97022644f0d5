"""Which layers, bottoms and parameters take part in a backward pass, as Caffe's Net::Init
decides it (shared by the torch engine's :class:`~caffe_compat.net.stepwise.Stepwise` and the
array engine):

- a layer needs backward when a bottom does or a parameter has ``lr_mult != 0``;
- layers whose tops feed no loss are skipped, and so are those all of whose tops skip
  propagation; ``propagate_down: false`` stops a bottom;
- ``force_backward`` runs every layer, every bottom its layer allows (AllowForceBackward) and
  every parameter."""
from __future__ import annotations


def backward_needs(nodes, param_counts, loss_weights, force_backward, allow_force_backward):
    """``(layer_need, bottom_need, param_need)`` lists, one entry per node of ``nodes``
    (:class:`~caffe_compat.net.graph.LayerNode`): ``param_counts[i]`` parameter blobs,
    ``loss_weights[i]`` one weight per top, ``allow_force_backward(i, j)`` for bottom ``j``."""
    blob_need = {}
    layer_need, bottom_need, param_need = [], [], []
    for i, node in enumerate(nodes):
        bottoms = [bool(blob_need.get(b, False)) for b in node.bottoms]
        prop = node.param.propagate_down
        if len(prop):
            bottoms = [bool(p) for p in prop]
        specs = node.param.param
        params = [(specs[k].lr_mult if k < len(specs) else 1.0) != 0
                  for k in range(param_counts[i])]
        need = any(blob_need.get(b, False) for b in node.bottoms) or any(params)
        for t in node.tops:
            if need:
                blob_need[t] = True
        layer_need.append(need)
        bottom_need.append(bottoms)
        param_need.append(params)
    under_loss, skip = set(), set()
    for i in range(len(nodes) - 1, -1, -1):
        node = nodes[i]
        contributes, skip_prop = False, True
        for t, w in zip(node.tops, loss_weights[i]):
            contributes |= bool(w) or t in under_loss
            skip_prop &= t in skip
            if contributes and not skip_prop:
                break
        if layer_need[i] and skip_prop and node.tops:
            layer_need[i] = False
            bottom_need[i] = [False] * len(node.bottoms)
        if not contributes:
            layer_need[i] = False
        for j, b in enumerate(node.bottoms):
            if contributes:
                under_loss.add(b)
            else:
                bottom_need[i][j] = False
            if not bottom_need[i][j]:
                skip.add(b)
    if force_backward:
        for i, node in enumerate(nodes):
            layer_need[i] = True
            bottom_need[i] = [need or allow_force_backward(i, j)
                              for j, need in enumerate(bottom_need[i])]
            param_need[i] = [True] * len(param_need[i])
    return layer_need, bottom_need, param_need
