"""The inference engines (caffe_compat.inference.engines): every engine gives our forward's outputs on the
public nets of the export table, falls back with a warning where it cannot, the cached export
is reused, rebuilt when damaged and written once by processes that load a net at once."""
import functools
import multiprocessing
import os
import time
import warnings

import numpy as np
import pytest
import torch

from caffe_compat import Net
from caffe_compat.kernels import blas_order
from caffe_compat.inference.engines import (EngineRunner, EngineWarning, TRUST_TOL, cache,
                                            engines_report, installed_engines)
from caffe_compat.onnx_path.trust import output_error
from caffe_compat.onnx_path import runtime
from tests.caffe_compat.public_nets import NETS, build, net_input

pytest.importorskip("onnx")
ENGINES = [n for n in ("onnxruntime", "openvino") if n in installed_engines()]
if not ENGINES:
    pytest.skip("neither onnxruntime nor openvino is installed", allow_module_level=True)


def _run(net, outputs, engine, feed):
    """(engine outputs, our outputs, engine that ran) for ``feed``."""
    runner = EngineRunner(net, outputs, engine)
    got = runner({k: np.ascontiguousarray(v, np.float32) for k, v in feed.items()})
    with torch.no_grad():
        ours = net.forward(blobs=outputs, **{k: torch.from_numpy(v) for k, v in feed.items()})
    return dict(zip(outputs, got)), {k: ours[k].numpy() for k in outputs}, runner.last_engine


# the largest nets of the table (25, 19 and 16 s on onnxruntime on 2 cores, about 80 s with
# OpenVINO's), and those of 4-9 s each (ResNet-101 / 152, the R-CNN, CaffeNet V1, AlexNet,
# Inception-BN 21k: 38 s together, which kept the default suite above 10 minutes) run in the
# slow pass, which CI runs too; every other net on every engine runs in the default suite
LARGEST = ("FCN-8s", "VGG16", "VGG19", "ResNet-101", "ResNet-152", "R-CNN ILSVRC13",
           "CaffeNet (V1)", "AlexNet", "Inception-BN 21k")


def _params():
    return [pytest.param(n, e, marks=pytest.mark.slow if n in LARGEST else ())
            for n in NETS for e in ENGINES]


@functools.lru_cache(maxsize=1)
def _built(name):
    """``build(name)``'s net, kept for the next test, which is the same net on the next
    engine (``_params`` runs each net's engines in a row): the net is built, its weights
    filled and folded, and its export written once instead of once per engine. Only the last
    net is kept (VGG19's weights are half a gigabyte)."""
    return build(name)[0]


@pytest.fixture(scope="module", autouse=True)
def _forget_built_nets():
    yield
    _built.cache_clear()


@pytest.mark.parametrize("name,engine", _params())
def test_public_net_on_engine(name, engine):
    """Each engine runs the export of the public net (batch 2: the batch axis is free) and
    gives our outputs; it was trusted, not replaced by torch."""
    net = _built(name)
    outputs = NETS[name]["outputs"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", EngineWarning)
        theirs, ours, ran = _run(net, outputs, engine, net_input(net, name, 2))
    assert ran == engine
    for k in outputs:
        # another float32 summation order: a few 1e-6 of the scale; 1e-4 is the trust bound
        assert output_error(theirs[k], ours[k]) <= TRUST_TOL, k


# ------------------------------------------------------------------------------ fallback
LENET = NETS["LeNet"]


def _lenet():
    net, _ = build("LeNet")
    return net, LENET["outputs"], net_input(net, "LeNet", 2)


# (each with an empty engine cache: a verdict stored by another test would answer instead of
# the check, and the failing verdicts these store must not reach the other tests)
def test_engine_that_cannot_load_the_export_falls_back(engine_cache, monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("Unsupported operator 'Softmax' in node 'prob'")
    monkeypatch.setattr(runtime, "tuned_session", refuse)
    net, outputs, feed = _lenet()
    with pytest.warns(EngineWarning, match=rf"engine '{ENGINES[0]}' not used for net .*cannot "
                                           r"run the export: RuntimeError: Unsupported "
                                           r"operator 'Softmax' in node 'prob'"):
        theirs, ours, ran = _run(net, outputs, ENGINES[0], feed)
    assert ran == "torch"
    for k in outputs:
        assert np.array_equal(theirs[k], ours[k])          # the torch forward itself


def test_engine_with_wrong_outputs_is_not_trusted(engine_cache, monkeypatch):
    made = runtime.tuned_session

    def off(name, model, inputs, outputs, *args, **kwargs):
        real = made(name, model, inputs, outputs, *args, **kwargs)
        # only ip2 off (prob, its softmax, right): the message must name the output that is
        # wrong, not the one of two equally wrong outputs that rounding makes worse
        return lambda feed: [a * np.float32(1.001) if blob == "ip2" else a
                             for blob, a in zip(outputs, real(feed))]
    monkeypatch.setattr(runtime, "tuned_session", off)
    net, outputs, feed = _lenet()
    with pytest.warns(EngineWarning, match=rf"engine '{ENGINES[0]}' .*output 'ip2' differs "
                                           r"from our forward by 0.001 of its scale"):
        _, _, ran = _run(net, outputs, ENGINES[0], feed)
    assert ran == "torch"


def test_net_the_exporter_cannot_write_falls_back():
    """A layer type without an ONNX converter: every engine falls back, the warning names the
    layer and its type."""
    from caffe_compat.layers.base import Layer
    from caffe_compat.layers.registry import _REGISTRY, register_layer

    @register_layer("TestOnlyDouble")
    class Double(Layer):
        def forward(self, x):
            return x * 2

    try:
        net = Net(LENET["build"]().replace('type: "ReLU"', 'type: "TestOnlyDouble"'),
                  phase="test")
        feed = net_input(net, "LeNet", 1)
        with pytest.warns(EngineWarning, match=r"does not export to ONNX .*layer 'relu1' "
                                               r"\(type TestOnlyDouble\): no ONNX converter"):
            _, _, ran = _run(net, LENET["outputs"], ENGINES[0], feed)
        assert ran == "torch"
    finally:
        _REGISTRY.pop("TestOnlyDouble", None)


def test_engine_not_installed_is_no_candidate(monkeypatch):
    absent, installed = ENGINES[0], runtime.installed
    monkeypatch.setattr(runtime, "installed", lambda name: name != absent and installed(name))
    net, outputs, feed = _lenet()
    runner = EngineRunner(net, outputs, "auto")
    with warnings.catch_warnings():
        warnings.simplefilter("error", EngineWarning)    # auto: no warning for it
        runner({k: v for k, v in feed.items()})
    assert runner.last_engine != absent
    with pytest.warns(EngineWarning, match=f"engine '{absent}' .*not installed"):
        EngineRunner(net, outputs, absent)(feed)


def test_environment_variable_overrides(monkeypatch):
    net, outputs, feed = _lenet()
    monkeypatch.setenv("CAFFE_COMPAT_ENGINE", "torch")
    runner = EngineRunner(net, outputs, ENGINES[0])
    runner(feed)
    assert runner.last_engine == "torch"
    monkeypatch.setenv("CAFFE_COMPAT_ENGINE", ENGINES[0])
    runner = EngineRunner(net, outputs, "torch")
    runner(feed)
    assert runner.last_engine == ENGINES[0]
    monkeypatch.setenv("CAFFE_COMPAT_ENGINE", "onnxruntim")
    with pytest.raises(Exception, match="did you mean 'onnxruntime'"):
        EngineRunner(net, outputs)


def test_sessions_follow_the_thread_count(monkeypatch):
    # the cores as an idle machine gives them: the monitor may see another process's work
    # (a test's subprocess during collection) as a held core and give one thread
    from caffe_compat.parallel import threads as policy
    monkeypatch.setattr(policy, "usable_threads", lambda: 2)
    net, outputs, feed = _lenet()
    runner = EngineRunner(net, outputs, ENGINES[0])
    threads = torch.get_num_threads()
    try:
        runner(feed)
        torch.set_num_threads(1)
        runner(feed)
    finally:
        torch.set_num_threads(threads)
    counts = {key[1] for key in runner._sessions if key[0] == ENGINES[0]}
    assert counts == {threads, 1} or threads == 1


def test_net_engine_forward_and_exact_order(monkeypatch):
    """Net(engine=...): output-only forwards run on the engine (within 1e-4), blobs asked for
    and autograd stay on torch, and Caffe's exact order is our forward bit for bit."""
    net, _, feed = _lenet()
    outputs = net.outputs
    x = torch.from_numpy(feed["data"])
    with torch.no_grad():
        ref = net.forward(data=x)
    net.engine = ENGINES[0]
    with torch.no_grad():
        got = net.forward(data=x, keep_blobs=False)
    runner = next(iter(net._engine_runners.values()))
    assert runner.last_engine == ENGINES[0]
    for k in outputs:
        assert output_error(got[k].numpy(), ref[k].numpy()) <= TRUST_TOL
    with torch.no_grad():
        with_blobs = net.forward(data=x, blobs=["conv1"], keep_blobs=False)   # torch
        assert np.array_equal(with_blobs["prob"].numpy(), ref["prob"].numpy())
    if blas_order.available():
        monkeypatch.setattr(blas_order, "INFERENCE", True)
        with torch.no_grad():
            exact = net._forward_layers(data=x)
            on_engine_net = net.forward(data=x, keep_blobs=False)
        for k in outputs:
            assert np.array_equal(on_engine_net[k].numpy(), exact[k].numpy())


# ------------------------------------------------------------------------------ the cache
def test_second_load_uses_the_cache(engine_cache):
    net, _ = build("SqueezeNet 1.1")
    outputs = NETS["SqueezeNet 1.1"]["outputs"]
    t0 = time.perf_counter()
    first = cache.cached_export(net, outputs)
    t1 = time.perf_counter()
    second = cache.cached_export(net, outputs)
    t2 = time.perf_counter()
    assert first.exported and not second.exported and first.path == second.path
    assert str(engine_cache) in first.path
    print(f"export {t1 - t0:.3f} s, cached load {t2 - t1:.3f} s")
    assert t2 - t1 < t1 - t0


def test_truncated_export_is_rebuilt(engine_cache):
    net, outputs, feed = _lenet()
    first = cache.cached_export(net, outputs)
    size = os.path.getsize(first.path)
    with open(first.path, "r+b") as f:
        f.truncate(size // 2)
    again = cache.cached_export(net, outputs)
    assert again.exported and os.path.getsize(again.path) == size
    with open(again.path, "r+b") as f:          # same size, one byte changed
        f.seek(size // 3)
        b = f.read(1)
        f.seek(size // 3)
        f.write(bytes([b[0] ^ 0xFF]))
    assert cache.cached_export(net, outputs).exported
    theirs, ours, ran = _run(net, outputs, ENGINES[0], feed)
    assert ran == ENGINES[0]


def test_key_follows_weights_and_outputs():
    net, outputs, _ = _lenet()
    a = cache.export_key(net, outputs)
    assert cache.export_key(net, outputs[:1]) != a
    with torch.no_grad():
        net.layer("ip2").blobs[1].add_(1)
    assert cache.export_key(net, outputs) != a


def _load_in_process(folder, queue):
    os.environ["CAFFE_COMPAT_ENGINE_CACHE"] = folder
    net, _ = build("LeNet")
    got = cache.cached_export(net, LENET["outputs"])
    queue.put((got.exported, got.path))


def test_two_processes_export_once(engine_cache):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_load_in_process, args=(str(engine_cache), queue))
             for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert sorted(r[0] for r in results) == [False, True]     # one export, one reuse
    assert results[0][1] == results[1][1]


def test_inspect_engines_report():
    net, _, _ = _lenet()
    text = engines_report(net)
    for name in ["torch"] + ENGINES:
        assert name in text


def test_cli_inspect_and_time_engines(tmp_path, capsys):
    from caffe_compat.cli.main import main
    from caffe_compat.io.prototxt import to_text
    net, _, _ = _lenet()
    path = tmp_path / "lenet.prototxt"
    path.write_text(to_text(net.inference_proto()))
    assert main(["inspect", str(path), "--engines"]) == 0
    out = capsys.readouterr().out
    assert "engines (" in out and all(name in out for name in ["torch"] + ENGINES)
    assert main(["time", "-model", str(path), "--engine", ENGINES[0], "-iterations", "2"]) == 0
    out = capsys.readouterr().out
    assert ENGINES[0] in out and "trusted" in out
    # the header says how many forwards were timed (-iterations), and "1 thread" in the singular
    assert "median of 2 forwards each)" in out.splitlines()[0]
    assert "1 threads" not in out
    assert main(["time", "-model", str(path), "--engine", ENGINES[0], "-iterations", "3"]) == 0
    assert "median of 3 forwards each)" in capsys.readouterr().out
