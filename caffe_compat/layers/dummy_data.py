"""DummyData: tops filled by fillers (Caffe's DummyDataLayer).

Shapes: ``dummy_data_param.shape`` once (all tops) or once per top, or the legacy ``num``,
``channels``, ``height``, ``width`` (each once or once per top; not together with ``shape``).
Fillers (:mod:`caffe_compat.layers.fillers`): ``data_filler`` absent (constant 0), once (the same
filler for every top, each top filled separately) or once per top. As in Caffe, a top whose
filler has type "constant" is filled once, at set-up, and keeps its values; every other top is
refilled at each forward (and is all zeros between set-up and the first forward). The
uniform, xavier and positive_unitball fillers draw from the net's Caffe stream, as Caffe's
fillers do (``caffe.set_random_seed`` gives Caffe's values); gaussian and msra draw from
torch's global random stream (seed it with ``torch.manual_seed``), so their values differ from
Caffe's while their distribution is the same.
"""
import torch

from . import fillers
from ..proto import caffe_pb2
from .base import Layer
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "DummyData", "DummyDataParameter",
        {"data_filler", "shape", "num", "channels", "height", "width"})


@register_layer("DummyData")
class DummyData(Layer):
    exact_bottoms = 0
    min_tops = 1
    is_data = True
    uses_caffe_rng = True           # the net passes its Caffe stream (caffe_rng=)

    def __init__(self, param, bottom_shapes, phase="TEST", sources=None, caffe_rng=None):
        super().__init__(param, bottom_shapes, phase)
        self.caffe_rng = caffe_rng
        dp = param.dummy_data_param
        num_top = len(param.top)
        nf = len(dp.data_filler)
        if nf not in (0, 1, num_top):
            self.fail(f"the number of data fillers must be 0, 1 or the number of tops "
                      f"({num_top}); {nf} were given")
        self.shapes = self._shapes(dp, num_top)
        self.fills = (list(dp.data_filler)
                      or [caffe_pb2.FillerParameter(type="constant", value=0.0)])
        known = fillers.filler_types()
        for fp in self.fills:
            if fp.type not in known:
                self.fail(f"unknown filler type '{fp.type}' (known: {', '.join(known)})")
        self.refill = [fp.type != "constant" for fp in self.fills]
        self._tops = [torch.zeros(s) for s in self.shapes]
        for i in range(num_top):
            fid = self._filler_id(i)
            if not self.refill[fid]:
                self._fill(i, fid)

    def _shapes(self, dp, num_top):
        legacy = {f: list(getattr(dp, f)) for f in ("num", "channels", "height", "width")}
        if any(legacy.values()):
            if len(dp.shape):
                self.fail("give either shape or the legacy num/channels/height/width, not both")
            for field, values in legacy.items():
                if len(values) not in (1, num_top):
                    self.fail(f"'{field}' must be given once or once per top ({num_top}); it "
                              f"was given {len(values)} time(s)")
            return [tuple(int(v[0] if len(v) == 1 else v[i]) for v in legacy.values())
                    for i in range(num_top)]
        if len(dp.shape) not in (1, num_top):
            self.fail(f"'shape' must be given once or once per top ({num_top}); it was given "
                      f"{len(dp.shape)} time(s)")
        shapes = [tuple(int(d) for d in dp.shape[0 if len(dp.shape) == 1 else i].dim)
                  for i in range(num_top)]
        for s in shapes:
            if any(d < 0 for d in s):
                self.fail(f"negative dimension in shape {s}")
        return shapes

    def _filler_id(self, i):
        return i if len(self.fills) > 1 else 0

    def _fill(self, i, fid):
        t = torch.empty(self.shapes[i])
        fillers.fill(t, self.fills[fid], None, where=f"layer '{self.name}' top {i}",
                     caffe_rng=self.caffe_rng)
        self._tops[i] = t

    def top_shapes(self, bottom_shapes):
        return list(self.shapes)

    def fixed_tops(self):
        """``{top index: its set-up values}`` of the tops that forward never writes again
        (constant fillers): as in Caffe, the net's blob is those values from set-up on, and a
        value written into it by the user is what the next forward hands on."""
        return {i: self._tops[i] for i in range(len(self.shapes))
                if not self.refill[self._filler_id(i)]}

    def forward(self):
        for i in range(len(self.shapes)):
            fid = self._filler_id(i)
            if self.refill[fid]:
                self._fill(i, fid)
        tops = tuple(self._tops)
        return tops[0] if len(tops) == 1 else tops
