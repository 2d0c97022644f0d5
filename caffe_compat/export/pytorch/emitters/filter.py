"""Filter: the items (axis 0) of every bottom but the last whose selector (the last bottom) is
non-zero, in their order (NaN keeps its item, as C++'s truth test); the number of items kept
varies with the data, as in Caffe. The kept items get their top's gradient, the others 0, the
selector none."""
from ..registry import register_emitter


@register_emitter("Filter")
def filter_(e):
    *data, selector = e.bottoms
    keep = e.temp(f"torch.nonzero({selector}.detach().reshape(-1) != 0).reshape(-1)",
                  f"{e.name}_keep")
    return [f"{b}.index_select(0, {keep})" for b in data]
