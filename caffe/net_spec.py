"""pycaffe's ``caffe.net_spec``: write nets in Python; ``to_proto`` gives the NetParameter.

    n = caffe.NetSpec()
    n.data, n.label = L.DummyData(shape=[dict(dim=[64, 1, 28, 28]), dict(dim=[64, 1])], ntop=2)
    n.conv1 = L.Convolution(n.data, kernel_size=5, num_output=20)
    n.relu1 = L.ReLU(n.conv1, in_place=True)
    open("net.prototxt", "w").write(str(n.to_proto()))

The rules are pycaffe's, so a script writes the same text as with pycaffe:

- a layer's keyword arguments go into its type's ``<type>_param`` message when that message
  has the field (``L.Convolution(kernel_size=3)`` -> ``convolution_param``), else into the
  LayerParameter itself (``param``, ``include``, ``loss_weight``, ...); names ending in
  ``param`` always go to the LayerParameter; dicts become messages, lists repeated fields, and
  a single value given for a repeated field becomes a one-element list;
- ``ntop`` (default 1) is the number of tops (0: the function itself is returned), and
  ``in_place=True`` makes the tops the bottoms;
- a NetSpec names each top (and the layer producing it: the name of its first top) after the
  attribute it was assigned to; unnamed tops and layers are named ``<Type><k>``, counting per
  type in the order the depth-first walk from the assigned tops first reaches them; layers
  come out in that walk's order."""
from __future__ import annotations

from collections import Counter, OrderedDict

from .proto import caffe_pb2


def param_name_dict():
    """{parameter message type stem: LayerParameter field stem}, e.g. ``"InnerProduct":
    "inner_product"``, from every ``*_param`` field of LayerParameter."""
    out = {}
    for field in caffe_pb2.LayerParameter.DESCRIPTOR.fields:
        if field.name.endswith("_param") and field.message_type is not None:
            type_name = field.message_type.name
            if type_name.endswith("Parameter"):
                out[type_name[:-len("Parameter")]] = field.name[:-len("_param")]
    return out


def assign_proto(proto, name, val):
    """Set field ``name`` of message ``proto`` from a Python value: dicts fill sub-messages,
    lists fill repeated fields (a list of dicts adds one message per dict), a non-list
    value for a repeated field is taken as a one-element list, anything else is assigned."""
    field = getattr(proto, name)
    repeated = hasattr(field, "extend")
    if repeated and not isinstance(val, list):
        val = [val]
    if isinstance(val, list):
        if val and isinstance(val[0], dict):
            for item in val:
                message = field.add()
                for k, v in item.items():
                    assign_proto(message, k, v)
        else:
            field.extend(val)
    elif isinstance(val, dict):
        for k, v in val.items():
            assign_proto(field, k, v)
    else:
        setattr(proto, name, val)


def to_proto(*tops):
    """A NetParameter with every layer needed to compute ``tops`` (auto-named)."""
    return _Writer({}).net(tops)


class _Writer:
    """Walks the layer functions a net needs, depth first from its output tops, and writes one
    LayerParameter per function in the order the walk first reaches it; ``chosen`` holds the
    names a NetSpec assigned ({top: name}), the others get ``<Type><k>``, counted per type."""

    def __init__(self, chosen):
        self.chosen = dict(chosen)
        self.counts = Counter()
        self.written = OrderedDict()        # Function -> its LayerParameter

    def net(self, tops):
        for top in tops:                    # a Top, or a function of no tops (ntop=0)
            self.write(top.fn if isinstance(top, Top) else top)
        net = caffe_pb2.NetParameter()
        net.layer.extend(self.written.values())
        return net

    def _auto(self, key, type_name):
        if key not in self.chosen:
            self.counts[type_name] += 1
            self.chosen[key] = f"{type_name}{self.counts[type_name]}"
        return self.chosen[key]

    def top_name(self, top):
        return self._auto(top, top.fn.type_name)

    def layer_name(self, fn):
        """A layer is named after its first top; a function without tops after itself."""
        return self.top_name(fn.tops[0]) if fn.ntop > 0 else self._auto(fn, fn.type_name)

    def write(self, fn):
        if fn in self.written:
            return
        for top in fn.inputs:                # every producer first, in the bottoms' order
            self.write(top.fn)
        layer = caffe_pb2.LayerParameter(type=fn.type_name)
        layer.bottom.extend(self.written[top.fn].top[top.n] for top in fn.inputs)
        tops = list(layer.bottom) if fn.in_place else [self.top_name(t) for t in fn.tops]
        layer.top.extend(tops)
        layer.name = self.layer_name(fn)
        fn.fill(layer)
        self.written[fn] = layer


class Top:
    """One output blob of a layer function (its ``n``-th top)."""

    def __init__(self, fn, n):
        self.fn = fn
        self.n = n

    def to_proto(self):
        """A NetParameter with every layer needed to compute this top."""
        return to_proto(self)


class Function:
    """One layer: its type, its input Tops and its parameters."""

    def __init__(self, type_name, inputs, params):
        self.type_name = type_name
        for i, top in enumerate(inputs):
            if not isinstance(top, Top):
                raise TypeError(f"{type_name} input {i} is not a Top (type is {type(top)})")
        self.inputs = inputs
        self.params = params
        self.ntop = self.params.pop("ntop", 1)
        self.in_place = self.params.pop("in_place", False)
        self.tops = tuple(Top(self, n) for n in range(self.ntop))

    def fill(self, layer):
        """The function's keyword arguments into ``layer``: a ``*param`` name into the
        LayerParameter; another name into the type's own parameter message where that message
        has such a field, else into the LayerParameter."""
        own = _param_names.get(self.type_name)
        for key, value in self.params.items():
            target = layer
            if not key.endswith("param") and own is not None:
                message = getattr(layer, own + "_param")
                if key in message.DESCRIPTOR.fields_by_name:
                    target = message
            assign_proto(target, key, value)


class NetSpec:
    """Named tops: assign ``n.name = L.Type(...)``; :meth:`to_proto` writes every layer
    needed for the assigned tops, with the assigned names."""

    def __init__(self):
        super().__setattr__("tops", OrderedDict())

    def __setattr__(self, name, value):
        self.tops[name] = value

    def __getattr__(self, name):
        try:
            return self.tops[name]
        except KeyError:
            raise AttributeError(f"NetSpec has no top '{name}'") from None

    def __setitem__(self, key, value):
        self.__setattr__(key, value)

    def __getitem__(self, item):
        return self.tops[item]

    def to_proto(self):
        return _Writer({top: name for name, top in self.tops.items()}).net(
            list(self.tops.values()))


class Layers:
    """``L.<Type>(*bottoms, **params)``: a Top (one top), a tuple of Tops (``ntop`` > 1) or
    the Function (``ntop=0``)."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)

        def layer_fn(*args, **kwargs):
            fn = Function(name, args, kwargs)
            if fn.ntop == 0:
                return fn
            return fn.tops[0] if fn.ntop == 1 else fn.tops
        return layer_fn


class Parameters:
    """``P.<Type>.<CONSTANT>``: enum values of ``<Type>Parameter``, e.g. ``P.Pooling.MAX``."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        message = getattr(caffe_pb2, name + "Parameter")

        class Param:
            def __getattr__(self, param_name):
                return getattr(message, param_name)
        return Param()


_param_names = param_name_dict()
layers = Layers()
params = Parameters()
