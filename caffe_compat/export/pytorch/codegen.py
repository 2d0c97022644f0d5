"""Generate ``model.py``: a Caffe net as one plain ``nn.Module`` that imports torch only.

:func:`generate` walks the layers the requested outputs depend on (our net's run order: splits,
in-place chains and phase rules resolved, as the ONNX export walks them) and asks each layer's
emitter (:mod:`.registry`) for its source. A layer with parameters becomes one attribute named
after it (a standard torch module where it computes what Caffe computes: ``nn.Conv2d``,
``nn.Linear``, ``nn.BatchNorm2d``, ...; an ``nn.ParameterDict`` of its blobs otherwise); every
layer is one commented step of ``forward``, whose local variables are the Caffe blob names
(sanitised), so that the source reads against the prototxt line by line; where Caffe differs
from torch's functions a short helper of :mod:`.helpers` is copied in. ``forward`` takes the
Input blobs as arguments (any batch size; the deploy file's other dimensions) and returns the
output blobs in a dict keyed by their Caffe names.
"""
from __future__ import annotations

import collections
import inspect
import keyword
import re
import textwrap

import numpy as np
import torch
from torch import nn

from ...errors import NetError
from ..onnx_export import default_outputs, needed_layers
from . import helpers as helper_module
from .registry import emitter_for

# a parameter of the generated module: its value in the module's layout and, for the gradient
# check, the Caffe blob it comes from (layer name, blob index, "transpose" where the layouts
# differ by a transpose)
Weight = collections.namedtuple("Weight", "value layer blob transform")

_MODULE_NAMES = {"self", "torch", "nn", "F", "math", "os", "load", "outputs"}


def identifier(name, taken, fallback="blob"):
    """A Python identifier derived from Caffe name ``name``, not in ``taken`` (added to it)."""
    base = re.sub(r"\W", "_", name).strip("_") or fallback
    if base[0].isdigit():
        base = f"{fallback}_{base}"
    if keyword.iskeyword(base) or keyword.issoftkeyword(base):
        base += "_"
    out, k = base, 1
    while out in taken:
        k += 1
        out = f"{base}_{k}"
    taken.add(out)
    return out


def class_name(net_name):
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", net_name or "") if p]
    name = "".join(p[:1].upper() + p[1:] for p in parts) or "CaffeNet"
    return name if name[0].isalpha() else "Net" + name


def literal(value):
    """Python source of a number, tuple or list as short as exact (floats by repr)."""
    if isinstance(value, (tuple, list)):
        inner = ", ".join(literal(v) for v in value)
        if isinstance(value, tuple):
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        return f"[{inner}]"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{value:.1f}"
    if isinstance(value, float) and float(np.float32(value)) == value:
        # a float32 from the prototxt: its shortest spelling (1e-05, not 9.999999747378752e-06),
        # which rounds to the same float32 in the module's float32 arithmetic
        return repr(float(str(np.float32(value))))
    return repr(value)


class EmitContext:
    """One Caffe layer as its emitter sees it: ``bottoms`` are the Python variables holding its
    bottom blobs, ``bottom_shapes``/``top_shapes`` the static shapes of the built net (batch
    as in the deploy file), ``module`` the built layer (parsed settings and blobs), ``param``
    its LayerParameter."""

    def __init__(self, gen, node, module, bottoms, bottom_shapes, top_shapes):
        self.gen = gen
        self.node = node
        self.name, self.type, self.param = node.name, node.type, node.param
        self.module = module
        self.bottoms = list(bottoms)
        self.bottom_shapes = [tuple(s) for s in bottom_shapes]
        self.top_shapes = [tuple(s) for s in top_shapes]

    def fail(self, message):
        raise NetError(f"layer '{self.name}' (type {self.type}): {message}")

    def weight(self, tensor, blob=None, transform=None):
        """A parameter value from Caffe blob ``blob`` of this layer (``transform``: how the
        module's layout maps back to Caffe's, for the gradient check)."""
        value = tensor.detach().to(torch.float32).cpu()
        if transform == "transpose":
            value = value.t()
        return Weight(value.contiguous().clone(), self.name, blob, transform)

    def attribute(self, init, weights=None, buffers=None):
        """Declare ``self.<layer name> = init`` in ``__init__``; ``weights``/``buffers``:
        ``{name: Weight or tensor}`` that the weights file holds under ``<attribute>.<name>``.
        Returns ``self.<attribute>``."""
        attr = identifier(self.name, self.gen.attributes, "layer")
        while hasattr(nn.Module, attr):
            self.gen.attributes.discard(attr)
            attr = identifier(attr + "_", self.gen.attributes, "layer")
        self.gen.init_lines.append(f"self.{attr} = {init}  # {self.name} ({self.type})")
        for group in (weights, buffers):
            for key, w in (group or {}).items():
                if not isinstance(w, Weight):
                    w = Weight(torch.as_tensor(w).detach().cpu().contiguous().clone(),
                               self.name, None, None)
                self.gen.state[f"{attr}.{key}"] = w
        return f"self.{attr}"

    def parameters(self, **weights):
        """An ``nn.ParameterDict`` attribute holding ``weights`` (name -> Weight) in their
        Caffe shapes; returns ``self.<attribute>``."""
        shapes = ", ".join(f'"{k}": nn.Parameter(torch.zeros({literal(tuple(w.value.shape))}))'
                           for k, w in weights.items())
        return self.attribute(f"nn.ParameterDict({{{shapes}}})", weights)

    def buffer(self, value):
        """A constant the weights file holds (``self.<layer>``, a registered buffer: it moves
        with the module's device and dtype); returns its expression."""
        attr = identifier(self.name, self.gen.attributes, "layer")
        shape = literal(tuple(value.shape))
        self.gen.init_lines.append(f'self.register_buffer("{attr}", torch.zeros({shape}))'
                                   f"  # {self.name} ({self.type})")
        self.gen.state[attr] = Weight(value.detach().cpu().contiguous().clone(), self.name,
                                      None, None)
        return f"self.{attr}"

    def inference_only(self, rows=False):
        """This layer's tops carry no gradient (Caffe's layer has no backward): the check
        leaves them out of its gradient comparison. ``rows``: the top holds detections, rows
        whose order among equal scores is not part of the result, compared as a set."""
        self.gen.no_gradient.update(self.node.tops)
        if rows:
            self.gen.row_sets.update(self.node.tops)

    def helper(self, name):
        """Use helper function ``name`` of :mod:`.helpers` (copied into model.py)."""
        self.gen.use_helper(name)
        return name

    def temp(self, expr, hint):
        """Assign ``expr`` to a fresh local variable before the layer's own line; its name."""
        var = identifier(hint, self.gen.locals)
        self.gen.forward_lines.append(f"{var} = {expr}")
        return var


class Generator:
    """The source and weights of one net's generated module (see the module doc)."""

    def __init__(self, net, outputs=None, class_name_=None):
        self.net = net
        self.outputs = list(outputs) if outputs else default_outputs(net)
        self.class_name = class_name_ or class_name(net.name)
        self.attributes = set(_MODULE_NAMES)
        self.locals = set(_MODULE_NAMES) | set(_helper_names())
        self.helpers = []
        self.init_lines, self.forward_lines = [], []
        self.state = collections.OrderedDict()       # state_dict key -> Weight
        self.variables = {}                          # Caffe blob -> Python variable
        self.input_args = collections.OrderedDict()  # Caffe input blob -> argument name
        self.types = collections.Counter()
        self.no_gradient, self.row_sets = set(), set()   # see EmitContext.inference_only

    def use_helper(self, name):
        if name in self.helpers:
            return
        fn = getattr(helper_module, name, None)
        if fn is None or not inspect.isfunction(fn):
            raise NetError(f"no helper '{name}' in {helper_module.__name__}")
        for other in _helper_names():
            if other != name and re.search(rf"\b{other}\(", inspect.getsource(fn)):
                self.use_helper(other)
        self.helpers.append(name)

    def variable(self, blob):
        """The variable that holds ``blob`` from now on (one per blob: an in-place layer
        rebinds it, as Caffe overwrites the blob)."""
        var = self.variables.get(blob)
        if var is None:
            var = self.variables[blob] = identifier(blob, self.locals)
        return var

    def run(self):
        steps, inputs = needed_layers(self.net, self.outputs)
        for b in inputs:
            self.input_args[b] = self.variable(b)
        for node in steps:
            self._emit(node)
        return self

    def _emit(self, node):
        module = self.net.layer(node.name)
        missing = [b for b in node.bottoms if b not in self.variables]
        if missing:
            raise NetError(f"layer '{node.name}' (type {node.type}): bottom(s) {missing} are "
                           "not computed by the exported part of the net")
        emit = emitter_for(node.type, node.name)
        ctx = EmitContext(self, node, module, [self.variables[b] for b in node.bottoms],
                          [self.net.blob_shape(b) for b in node.bottoms],
                          [self.net.blob_shape(t) for t in node.tops])
        self.forward_lines.append(f"# {node.name} ({node.type})")
        start = len(self.forward_lines)
        self._assign(node, emit(ctx))
        if len(self.forward_lines) == start:     # an alias only (Split): no step to name
            self.forward_lines.pop()

    def _assign(self, node, exprs):
        self.types[node.type] += 1
        if isinstance(exprs, str):
            exprs = [exprs]
        if len(exprs) == 1 and len(node.tops) > 1:
            targets = [self.variable(t) for t in node.tops]
            self.forward_lines.append(f"{', '.join(targets)} = {exprs[0]}")
            return
        if len(exprs) != len(node.tops):
            raise NetError(f"layer '{node.name}' (type {node.type}): its emitter gave "
                           f"{len(exprs)} expression(s) for {len(node.tops)} top(s)")
        for top, expr in zip(node.tops, exprs):
            if expr in self.locals and top not in self.variables:
                self.variables[top] = expr       # an alias (Split, a one-part Slice)
                continue
            var = self.variable(top)
            if any(v == var and b != top for b, v in self.variables.items()):
                # the variable also holds another blob (an alias): this top gets its own
                var = self.variables[top] = identifier(top, self.locals)
            if expr != var:
                self.forward_lines.append(f"{var} = {expr}")

    # ------------------------------------------------------------------ the source
    def source(self, header=""):
        pieces = [f'"""{header.strip()}\n"""' if header else None,
                  "import math\nimport os\n\nimport torch\nimport torch.nn.functional as F\n"
                  "from torch import nn"]
        pieces = [p for p in pieces if p]
        for name in self.helpers:
            pieces.append(inspect.getsource(getattr(helper_module, name)).rstrip())
        pieces.append(self._class_source())
        pieces.append(_LOAD.format(cls=self.class_name).strip())
        return "\n\n\n".join(pieces) + "\n"

    def _class_source(self):
        args = ", ".join(self.input_args.values())
        shapes = {b: tuple(self.net.blob_shape(b)) for b in self.input_args}
        ret = ", ".join(f"{b!r}: {self.variables[b]}" for b in self.outputs)
        body = [f"class {self.class_name}(nn.Module):",
                f'    """Caffe net {self.net.name!r}: forward({args}) returns a dict of',
                "    " + ", ".join(repr(o) for o in self.outputs) + " (Caffe's blob names).",
                "    The batch axis is free; the other axes are the deploy file's:",
                f"    {', '.join(f'{k} {v}' for k, v in shapes.items())}.\"\"\"",
                "",
                f"    input_names = {literal(tuple(self.input_args))}",
                f"    input_shapes = {shapes!r}",
                f"    output_names = {literal(tuple(self.outputs))}",
                "",
                "    def __init__(self):",
                "        super().__init__()"]
        body += [f"        {line}" for line in self.init_lines]
        if any(".Conv2d(" in line for line in self.init_lines):
            body += ["        # the convolutions' weights in channels-last layout, as caffe_compat keeps",
                     "        # them (oneDNN then reorders nothing at each call)",
                     "        for conv in self.modules():",
                     "            if isinstance(conv, nn.Conv2d):",
                     "                conv.weight = nn.Parameter(",
                     "                    conv.weight.detach().contiguous(memory_format=torch.channels_last))"]
        body += ["", f"    def forward(self, {args}):"]
        spatial = [v for b, v in self.input_args.items() if len(shapes[b]) == 4]
        if spatial:
            # the layout of caffe_compat's inference convolutions (oneDNN's channels-last):
            # the same sums in the same order, and torch's faster CPU path
            body.append("        # channels-last layout: oneDNN's fast CPU convolutions")
            body += [f"        {v} = {v}.contiguous(memory_format=torch.channels_last)"
                     for v in spatial]
        body += [f"        {line}" for line in self.forward_lines]
        body.append(f"        return {{{ret}}}")
        return "\n".join(body)

    def state_dict(self):
        return collections.OrderedDict((k, w.value) for k, w in self.state.items())

    def gradient_map(self):
        """``{state key: (layer, blob index, transform)}`` of the trainable parameters."""
        return {k: (w.layer, w.blob, w.transform) for k, w in self.state.items()
                if w.blob is not None}


def _helper_names():
    """The functions a generated model may carry: the helpers' own and the plain-integer rules
    they take from :mod:`caffe_compat.rules` (one rule, copied as written)."""
    return [n for n, f in vars(helper_module).items()
            if inspect.isfunction(f) and (f.__module__ == helper_module.__name__
                                          or f.__module__.startswith(_RULES))]


_RULES = __package__.rsplit(".", 2)[0] + ".rules."


_LOAD = textwrap.dedent('''
    def load(directory=None, map_location="cpu"):
        """{cls} with the weights stored beside this file (or in ``directory``):
        weights.safetensors (needs the safetensors package), else weights.pth (read with
        torch.load(weights_only=True)); returned in eval mode."""
        directory = directory or os.path.dirname(os.path.abspath(__file__))
        model = {cls}()
        path = os.path.join(directory, "weights.safetensors")
        if os.path.exists(path):
            from safetensors.torch import load_file
            state = load_file(path, device=str(map_location))
        else:
            state = torch.load(os.path.join(directory, "weights.pth"),
                               map_location=map_location, weights_only=True)
        model.load_state_dict(state)
        return model.eval()
''')


def generate(net, outputs=None, header="", class_name_=None):
    """(model.py source, state dict, gradient map, Generator) of ``net`` computing
    ``outputs`` (default: the net's output blobs, losses and Accuracy left out)."""
    gen = Generator(net, outputs, class_name_).run()
    return gen.source(header), gen.state_dict(), gen.gradient_map(), gen
