"""BatchReindex: ``top[i] = bottom[bottom_1[i]]`` along axis 0, the indices truncated toward
zero (Caffe's ``static_cast<int>``); the gradient accumulates over repeated indices (autograd
of ``index_select``), the index bottom gets none."""
from ..registry import register_emitter


@register_emitter("BatchReindex")
def batch_reindex(e):
    x, index = e.bottoms
    return f"torch.index_select({x}, 0, {index}.detach().to(torch.int64))"
