"""Weight gradients computed when they are looked at: a backward whose weight diff nobody
outside the net holds records what the gradient is made of and computes it when the diff is
next asked for, so that a program that only wants input gradients never pays for them.

Caffe's Backward_cpu of a convolution computes both gradients every time: the bottom diff
(``W^T dY``, then col2im) and the weight gradient (``dY col(X)^T``, added into the weight
diff). Programs that optimise the input through a trained net (neural style transfer,
DeepDream, adversarial examples) read only the input's diff and never the weights': the second
product, done for nothing, is about a quarter of the convolutions' backward time (1.2 of 4.5 s
on one core in the style-transfer program through CaffeNet).

The rule keeps Caffe's results at every point a program can look. The weight gradient depends
only on the layer's bottom data and top diff at that backward (not on the weights), so those
are copied and kept, in order, per layer; the diff is settled (each kept gradient computed with
the same kernel and added in the same order as Caffe adds them: the same bits) whenever it is
asked for through :meth:`caffe_compat.array_net.net.ArrayNet.param_diff` (pycaffe's
``params[...][k].diff``, the solvers, a hand-over to the torch engine). A backward defers only
while the diff array has no reference outside the net (``sys.getrefcount``: an array or a view
of it that a program kept would show what a deferred gradient has not added yet), and
``ClearParamDiffs`` drops what was kept (Caffe zeroes those sums).

Deferring stops for the net the first time kept gradients are read (a training loop reads its
diffs after every backward: deferring would only add the copies). Past :data:`MAX_BYTES` of
copies the oldest kept gradient is computed (into its diff, in its layer's order) to make room,
and once a net has kept :data:`MAX_TOTAL_BYTES` in all it defers no more (a long loop over
large blobs: at most the last :data:`MAX_BYTES` would ever be saved)."""
from __future__ import annotations

import collections
import sys

# at most this much of copied bottom data and top diffs kept for a net at a time (the
# style-transfer program through CaffeNet keeps 264 MB in its 63 passes; its peak memory 778
# MB with them, 555 MB without, real Caffe's 1,125 MB)
MAX_BYTES = 256 << 20
# a net that has kept this much in all defers no more
MAX_TOTAL_BYTES = 2 * MAX_BYTES


class DeferredWeightGrads:
    """The weight gradients a net's backwards left to be computed, per layer index."""

    def __init__(self):
        self.kept = {}            # layer index -> [(bottom data copy, top diff copy)]
        self._order = collections.deque()    # layer indices in the order kept
        self.nbytes = self.total = 0
        self.active = True        # off for good once kept gradients were read, or past the total

    def may_defer(self, diffs, key):
        """Whether a backward may leave the weight gradient of ``key`` (layer name, 0) out:
        deferring is on and no array or view outside ``diffs`` (the net's dict of parameter
        diffs) refers to that diff."""
        if not self.active:
            return False
        if key not in diffs:
            return True
        # the dict's reference and getrefcount's argument (a count read otherwise, as by an
        # interpreter that borrows the argument, defers nothing: the check fails safe)
        return sys.getrefcount(diffs[key]) == 2

    def keep(self, index, x, dy):
        """Keep copies of a backward's bottom data ``x`` and top diff ``dy`` for layer
        ``index`` (deferring stops once :data:`MAX_TOTAL_BYTES` were kept)."""
        size = x.nbytes + dy.nbytes
        self.kept.setdefault(index, []).append((x.copy(), dy.copy()))
        self._order.append(index)
        self.nbytes += size
        self.total += size
        if self.total >= MAX_TOTAL_BYTES:
            self.active = False

    def over(self):
        """Whether more than :data:`MAX_BYTES` is kept."""
        return self.nbytes > MAX_BYTES

    def oldest(self):
        """``(index, x, dy)``: the oldest kept gradient of the layer kept from longest ago,
        forgotten here (its layer's later ones stay, in order)."""
        while self._order:
            index = self._order.popleft()
            entries = self.kept.get(index)
            if entries:
                x, dy = entries.pop(0)
                if not entries:
                    del self.kept[index]
                self.nbytes -= x.nbytes + dy.nbytes
                return index, x, dy
        raise LookupError("no weight gradient kept")

    def take(self, index):
        """The kept ``(x, dy)`` of layer ``index``, in backward order, forgotten here."""
        got = self.kept.pop(index, None)
        if got:
            self.nbytes -= sum(x.nbytes + dy.nbytes for x, dy in got)
        return got or []

    def drop(self):
        """Forget everything kept (the diffs were cleared)."""
        self.kept.clear()
        self._order.clear()
        self.nbytes = 0
