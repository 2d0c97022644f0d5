"""The conformance grid over every layer type an alternative engine claims: each example of
``caffe-compat verify`` (caffe_compat/verify/examples.py: the type's bottoms, their kinds and
fields) as a deploy net, run by every forward engine that claims the type in the one registry
(the array engine, the torch-free path, the PyTorch source), against the torch engine's
forward: equal within ``TOL`` or refused (another engine takes the net)."""
import numpy as np
import pytest

from caffe_compat import Net
from caffe_compat.rules import registry
from caffe_compat.verify.examples import examples_for

from .grid import EXTRA_EXAMPLES
from .test_grid import RUN, TOL, Refused, _scaled

ENGINES = ("array", "lite", "pytorch-source")
# types whose forward reads files, draws at random or is a loss / training-only layer: they
# are covered by their own suites (data layers against real Caffe's batches, losses and
# solvers against Caffe's training runs)
OUT_OF_GRID = {"Data", "ImageData", "WindowData", "HDF5Data", "MemoryData", "DummyData",
               "HDF5Output", "Python", "Input", "Parameter"}


class _Extra:
    """An example of :data:`grid.EXTRA_EXAMPLES` in the form of verify's examples."""

    def __init__(self, shapes, fields, tops, feed):
        self.shapes, self.fields, self.tops, self.feed = shapes, fields, tops, feed
        self.files, self.phase = None, "TEST"

    def top_list(self):
        return [f"t{k}" for k in range(self.tops)]

    def values(self, rng):
        if self.feed is not None:
            return [np.asarray(v, np.float32) for v in self.feed(rng)]
        return [rng.uniform(-1, 1, s).astype(np.float32) for s in self.shapes]


def _examples(type_name):
    if type_name in EXTRA_EXAMPLES:
        return [_Extra(*e) for e in EXTRA_EXAMPLES[type_name]]
    return examples_for(type_name)


def _shapes(example):
    return [tuple(b.shape) for b in example.bottoms] if hasattr(example, "bottoms") else \
        list(example.shapes)


def _deploy(type_name, example):
    """The example's layer in a deploy net: every bottom an Input, the layer's tops ``t0,
    t1, ...``."""
    head = 'name: "grid"\n'
    shapes = _shapes(example)
    for k, shape in enumerate(shapes):
        dims = " ".join(f"dim: {d}" for d in shape)
        head += (f'layer {{ name: "in{k}" type: "Input" top: "b{k}" '
                 f'input_param {{ shape {{ {dims} }} }} }}\n')
    body = "".join(f' bottom: "b{k}"' for k in range(len(shapes)))
    body += "".join(f' top: "{t}"' for t in example.top_list())
    return head + f'layer {{ name: "y" type: "{type_name}"{body} {example.fields} }}\n'


def _cases():
    claimed = {}
    for engine in ENGINES:
        for type_name in registry.types(engine):
            claimed.setdefault(type_name, []).append(engine)
    for type_name in sorted(claimed):
        if type_name in OUT_OF_GRID:
            continue
        for k, example in enumerate(_examples(type_name)):
            if example.files is not None or example.phase != "TEST":
                continue
            for engine in claimed[type_name]:
                yield pytest.param(type_name, k, engine, id=f"{engine}: {type_name} {k}")


def _reference(text, example, tmp_path, seed=11):
    from tests.caffe_compat.opencv_fixtures.nets import fill_weights
    net = Net(text, phase="test", seed=seed)
    fill_weights(net, seed)
    rng = np.random.RandomState(seed)
    if hasattr(example, "bottoms"):
        values = [np.asarray(b.values(rng), np.float32) for b in example.bottoms]
    else:
        values = example.values(rng)
    feed = {f"b{k}": v for k, v in enumerate(values)}
    tops = example.top_list()
    out = net.forward(blobs=tops, **feed)
    want = {t: out[t].detach().numpy().astype(np.float32) for t in tops}
    model = tmp_path / "grid.caffemodel"
    net.save(str(model))
    return feed, want, model


@pytest.mark.parametrize("type_name, k, engine", list(_cases()))
def test_every_claimed_type_equals_the_reference_or_is_refused(type_name, k, engine, tmp_path):
    example = _examples(type_name)[k]
    text = _deploy(type_name, example)
    feed, want, model = _reference(text, example, tmp_path)
    try:
        got = RUN[engine](text, feed, model, tmp_path)
    except Refused as exc:
        assert str(exc)
        return
    for top, value in want.items():
        assert top in got, (top, sorted(got))
        assert tuple(got[top].shape) == value.shape, top
        if value.size:
            assert _scaled(got[top], value) <= TOL, top
