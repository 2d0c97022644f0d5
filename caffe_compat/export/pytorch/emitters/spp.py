"""SPP through the helper ``spp``: each pyramid level is Caffe's Pooling (``max_pool`` /
``ave_pool``, with their rounding and clipping) of the geometry Caffe's SPPLayer derives from
the input size at run time; the levels flattened and concatenated (one level: not
flattened)."""
from ....proto import caffe_pb2
from ....rules.fields import ENGINE_FIELD, declare
from ..registry import register_emitter

# STOCHASTIC pyramid pooling has no emitter (the export stops, naming the layer)
declare("pytorch-source", "SPP", "SPPParameter", {"pyramid_height"}, refuses={"pool"},
        no_effect=ENGINE_FIELD)

P = caffe_pb2.PoolingParameter


@register_emitter("SPP")
def spp(e):
    m = e.module
    if m.method == P.STOCHASTIC:
        e.fail("STOCHASTIC pyramid pooling has no PyTorch emitter (its TEST rule is Caffe's "
               "GPU kernel only); export the blobs before it")
    maximum = "" if m.method == P.MAX else ", maximum=False"
    return f"{e.helper('spp')}({e.bottoms[0]}, {m.height}{maximum})"
