"""The ONNX export's converters: the torch-free path's (:mod:`caffe_compat.onnx_path.converters`,
their graph marked ``batch_free``), under the engine ``"onnx"`` of the one registry
(:mod:`caffe_compat.rules.registry`), with that path's field declarations, fillers aside (the
export writes the built net's blobs).

:func:`register_converter` adds a converter for a user's own type, ``convert(g, lp, bottoms,
blobs) -> [Value, ...]`` (the torch-free path then runs it too); ``batch_axes``, a function of
the built layer giving ``{bottom index: axis}``, names the axis a bottom keeps its items on
where it is not 0 (recurrent layers: streams on axis 1): a graph input read there gets its
free axis there.
"""
from ..errors import NetError
from ..onnx_path import converters
from ..rules import registry
from ..rules.fields import declare, declared
from .fields import PRIOR_BOX_NO_EFFECT, fillers

_BATCH_AXES = {}
# layers that produce nothing an inference graph needs (the torch-free path runs Silence)
NOT_EXPORTED = frozenset({"Silence", "Accuracy"})
# fields some values of which the torch-free path refuses and the export takes (the converter
# takes them where its graph is ``batch_free``), with what the export does with the field (None:
# honoured, else why it has no effect): STOCHASTIC pooling (whose ratio of sums the runtime's
# order of addition moves by more than that path's bound where the sum nearly cancels), and
# the fields the layer does not read, which that path leaves to the torch path's warning (the
# export's net warned when it was built: DetectionOutput's nms_param.eta, PriorBox's img_size)
EXPORT_TAKES = {"Pooling": {"pool": None}, "DetectionOutput": {"nms_param": None},
                **dict.fromkeys(("PriorBox", "PriorBoxClustered"), PRIOR_BOX_NO_EFFECT)}


def register_converter(*type_names, replace=False, batch_axes=None):
    """Function decorator registering an ONNX converter for one or more Caffe type names
    (``batch_axes``: see the module doc)."""

    def wrap(fn):
        for type_name in type_names:
            registry.add("lite", type_name, fn, replace, "an ONNX converter")
            registry.add("onnx", type_name, fn, replace, "an ONNX converter")
            if batch_axes is not None:
                _BATCH_AXES[type_name] = batch_axes
            else:
                _BATCH_AXES.pop(type_name, None)
        return fn

    return wrap


def converter_for(type_name, layer_name=""):
    """The converter of ``type_name``; a NetError naming the layer when there is none."""
    fn = converters.converter(type_name)
    if fn is None:
        raise NetError(f"layer '{layer_name}' (type {type_name}): no ONNX converter for this "
                       "type; export the blobs before it (outputs=[...], --output BLOB) or "
                       "register one with caffe_compat.export.register_converter")
    return fn


def converter_types():
    """Sorted list of the Caffe types that have a converter."""
    return registry.types("onnx")


def batch_axes(type_name, module):
    """``{bottom index: axis}`` where a layer of ``type_name`` keeps its items off axis 0."""
    fn = _BATCH_AXES.get(type_name) or getattr(converters.converter(type_name), "batch_axes", None)
    return dict(fn(module)) if fn is not None else {}


def _register_all():
    """Every type with an ONNX converter, under the engine ``"onnx"``, with the torch-free
    converter's field declaration but for the fillers (the converter refuses a missing blob;
    the export always passes the built net's blobs) and :data:`EXPORT_TAKES`."""
    converters.load_all()
    table = declared()
    for type_name in converters.registered_types():
        fn = converters.converter(type_name)
        if fn is None or type_name in NOT_EXPORTED:
            continue
        registry.add("onnx", type_name, fn, False, "an ONNX converter")
        spec = table.get(("lite", type_name))
        if spec is not None:
            given = {f: r for f, r in fillers(spec.message).items() if f in spec.refuses}
            taken = EXPORT_TAKES.get(type_name, {})
            given.update((f, r) for f, r in taken.items() if r is not None)
            declare("onnx", type_name, spec.message,
                    spec.honours | {f for f, r in taken.items() if r is None},
                    spec.refuses - set(given) - set(taken),
                    no_effect={**(spec.no_effect or {}), **given})


_register_all()
