"""The torch-free converters that claim to write no lengths (``lengths_free`` of
:func:`caffe_compat.onnx_path.converters.register`), checked on the grid's cases of their types: at
other lengths of the same ranks and channels, a shape the layer's rule takes writes the same
graph (the same :meth:`~caffe_compat.onnx_path.graph.Plan.signature`), and a net that runs the
new shape on the plan of an earlier one (:meth:`caffe_compat.onnx_path.TorchFreeNet._plan`)
answers as a net read anew for that shape: the same outputs, or the same refusal."""

import importlib.util

import numpy as np
import pytest

from caffe_compat.errors import NetError

from .grid import CASES, FEEDS
from .test_grid import _reference, _scaled

# both nets run the same graph on the same runtime, one on the session of another shape's
# plan: the runtimes may pick other kernels for other sessions (float32 rounding only)
TOL = 1e-5
RUNTIMES = (None, "onnxruntime")


def _claimed(text):
    """Whether every layer of the case's net but its inputs makes a claim about lengths."""
    from caffe_compat.io.prototxt import parse_net
    from caffe_compat.onnx_path.converters import lengths_free
    body = [lp for lp in parse_net(text).layer if lp.type != "Input"]
    return bool(body) and all(lengths_free(lp) is not None for lp in body)


def _claimed_at(text, shape):
    """Whether every layer of the case's net claims to write no lengths for inputs of
    ``shape``."""
    from caffe_compat.io.prototxt import parse_net
    from caffe_compat.onnx_path.converters import lengths_free
    blobs = {}
    for lp in parse_net(text).layer:
        if lp.type == "Input":
            blobs.update((top, tuple(shape)) for top in lp.top)
            continue
        got = lengths_free(lp)(lp, [blobs[b] for b in lp.bottom])
        if got is None:
            return False
        blobs.update(zip(lp.top, (tuple(t) for t in got[0])))
    return True


FREE = sorted(case for case, (_, text) in CASES.items() if _claimed(text))


def _variants(shape):
    """Other lengths of ``shape``: its batch and every axis past the channels, longer and
    shorter (down to one, where the rules refuse some)."""
    shape = tuple(shape)
    out = [(shape[0] + 2,) + shape[1:], (shape[0] + 4,) + shape[1:]]
    for delta in (1, 2, 5, -1, -2, -3):
        other = shape[:2] + tuple(max(1, d + delta) for d in shape[2:])
        if other != shape:
            out.append(other)
    out.append(shape[:2] + (1,) * (len(shape) - 2))
    return list(dict.fromkeys(out))


def _read(text, model):
    from caffe_compat import dnn
    return dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model.read_bytes())


def _answer(net, inputs, shape, rng):
    """The net's outputs for ``inputs`` of ``shape``, or its refusal as (type, words)."""
    layers = [net._layers[k - 1]["name"] for k in net.getUnconnectedOutLayers()]
    for name in inputs:
        net.setInput(rng.normal(0, 1, shape).astype(np.float32), name)
    try:       # every output of each output layer (an in-place top's too), as the grid asks
        return [np.array(a) for tops in net.forwardAndRetrieve(layers) for a in tops]
    except (NetError, ValueError) as exc:
        return type(exc).__name__, str(exc)
    except Exception as exc:     # noqa: BLE001 - a runtime's own error: the test fails
        return "runtime error", str(exc)


def test_the_grid_holds_claimed_cases():
    assert len(FREE) >= 20, FREE


@pytest.mark.parametrize("runtime", RUNTIMES, ids=lambda r: r or "default")
@pytest.mark.parametrize("case", FREE)
def test_a_new_shape_on_an_earlier_plan_answers_as_a_net_read_for_it(case, runtime, tmp_path,
                                                                     monkeypatch):
    from caffe_compat.onnx_path import graph, runtime as runtimes
    from caffe_compat.onnx_path.converters import Unsupported
    from tests.caffe_compat.onnx_path.helpers import lite_mode
    if runtime is not None:
        if importlib.util.find_spec(runtime) is None:
            pytest.skip(f"{runtime} is not installed")
        monkeypatch.setenv(runtimes.ENV_RUNTIME, runtime)
    _, text = CASES[case]
    net, feed, _, model = _reference(text, tmp_path, feed=FEEDS.get(case))
    names = list(feed)
    base = tuple(feed[names[0]].shape)
    with lite_mode("on"):
        reused = _read(text, model)
        if reused._torch_free is None:       # the torch path runs it: its layer claims nothing
            assert not _claimed_at(text, base)
            return
        lite = reused._torch_free
        lite._weights = lite._weights or lite._weights_fn()
        # the engine's names of the net's outputs (an in-place top has one of its own)
        used = {b for lp in lite.layers for b in lp.bottom}
        wanted = tuple(t for lp in lite.layers for t in lp.top if t not in used)

        def written(shape):
            """(the template key, the graph's signature) of every input at ``shape``."""
            shapes = tuple(shape for _ in names)
            try:
                key = lite._template_key(shapes, wanted)
                plan = graph.build(lite.layers, [(n, shape) for n in names], lite._weights,
                                   list(wanted))
            except (NetError, Unsupported):
                return None, None
            return key, plan.signature()
        variants = _variants(base)
        keys = {shape: written(shape) for shape in [base] + variants}
        # the claim: one key, one graph
        by_key = {}
        for shape, (key, signature) in keys.items():
            if key is not None:
                assert by_key.setdefault(key, signature) == signature, \
                    f"{shape}: another graph for the key of {base}"
        # a first shape other than the one read: the plan later shapes of its key run on
        start = next((v for v in variants if keys[v][0] is not None), None)
        if start is None:      # every other shape writes lengths (or is refused): nothing
            return             # runs on another shape's plan
        _answer(reused, names, start, np.random.default_rng(3))
        ran_on_template = 0
        for shape in variants:
            got = _answer(reused, names, shape, np.random.default_rng(11))
            # the plan it ran on was written for another shape
            kept = lite._on_free.get((tuple(shape for _ in names), wanted))
            ran_on_template += kept is not None and \
                tuple(kept[0].whole.inputs[0][1]) != tuple(shape)
            want = _answer(_read(text, model), names, shape, np.random.default_rng(11))
            if isinstance(want, tuple):
                assert got == want, shape
                continue
            assert not isinstance(got, tuple), (shape, got)
            for a, b in zip(got, want):
                assert a.shape == b.shape, shape
                assert _scaled(a, b) <= TOL, shape
        assert ran_on_template, "no shape ran on the plan of another"


def _claim_answer(call):
    """``call()``'s answer, or its refusal as (type, words, field)."""
    try:
        return call()
    except (NetError, ValueError) as exc:
        return type(exc).__name__, str(exc), getattr(exc, "field", None)


@pytest.mark.parametrize("case", FREE)
def test_a_kept_rule_answers_as_the_rule_applied_anew(case):
    """:class:`~caffe_compat.onnx_path.converters.KeptClaim` (each layer's rule record kept from
    one shape to the next, as ``TorchFreeNet._template_key`` keeps it) against the claim applied
    anew for every shape: the same tops and facts, the same refusal (type, words, field), for
    the case's shape, other lengths, other channels, another rank, bottoms of two shapes, and
    the first shape again."""
    from caffe_compat.io.prototxt import parse_net
    from caffe_compat.onnx_path.converters import kept_claim, lengths_free
    _, text = CASES[case]
    layers = list(parse_net(text).layer)
    inputs = [lp for lp in layers if lp.type == "Input"]
    body = [lp for lp in layers if lp.type != "Input"]
    base = tuple(int(d) for d in inputs[0].input_param.shape[0].dim)
    kept = [kept_claim(lp) for lp in body]
    shapes = [base] + _variants(base) + [base[:1] + (base[1] + 1,) + base[2:],
                                         base[:1] + (max(1, base[1] - 1),) + base[2:],
                                         base + (3,), base[:-1], base]
    feeds = [[shape] * len(inputs) for shape in shapes]
    if len(inputs) > 1:      # the first bottom of another shape than the rest
        feeds[1:1] = [[shape] + [base] * (len(inputs) - 1) for shape in shapes[1:3]]
    for feed in feeds + feeds[::-1]:
        anew, again = {}, {}
        for lp, tops in zip(inputs, feed):
            anew.update((t, tops) for t in lp.top)
            again.update((t, tops) for t in lp.top)
        for lp, claim in zip(body, kept):
            want = _claim_answer(lambda: lengths_free(lp)(lp, [anew[b] for b in lp.bottom]))
            got = _claim_answer(lambda: claim([again[b] for b in claim.bottom]))
            assert got == want, (lp.name, feed)
            if want is None or isinstance(want[0], str):
                break
            anew.update(zip(lp.top, (tuple(t) for t in want[0])))
            again.update(zip(claim.top, (tuple(t) for t in got[0])))
