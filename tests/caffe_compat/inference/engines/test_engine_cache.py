"""The engine cache's upkeep (caffe_compat.onnx_path.cache_store): a size bound with
least-recently-used eviction, exports of drawn weights kept out of it, a writable fallback for
a folder that is not writable, and ``caffe-compat engine-cache`` to list and clear it."""
import os
import warnings

import numpy as np
import pytest

from caffe_compat import Net, NetError
from caffe_compat.inference.engines import EngineRunner, EngineWarning, cache, installed_engines
from caffe_compat.onnx_path import cache_store as store

pytest.importorskip("onnx")
ENGINES = [n for n in ("onnxruntime", "openvino") if n in installed_engines()]
if not ENGINES:
    pytest.skip("neither onnxruntime nor openvino is installed", allow_module_level=True)

TINY = """name: "tiny"
input: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "fc" type: "InnerProduct" bottom: "conv" top: "fc"
  inner_product_param { num_output: 10 weight_filler { type: "xavier" } } }
"""


def _tiny(seed=None):
    return Net(TINY, phase="test", seed=seed)


def _feed():
    return {"data": np.random.RandomState(0).uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32)}


def _entries_bytes(root):
    return sum(e["bytes"] for e in store.entries(str(root)))


def test_cache_stays_under_its_bound_across_50_nets(engine_cache, monkeypatch):
    """50 distinct nets (seeded weights: each export could be met again) into a cache bounded
    at four exports: after every export the entries fit the bound, the newest is kept, and
    the one used most recently survives the ones used before it."""
    one = cache.cached_export(_tiny(seed=1000), ["fc"])
    size = _entries_bytes(engine_cache)
    bound = 4 * size + size // 2
    monkeypatch.setenv(store.ENV_SIZE, str(bound))
    first = None
    for i in range(50):
        got = cache.cached_export(_tiny(seed=i), ["fc"])
        assert got.exported and os.path.isfile(got.path)
        first = first or got
        assert _entries_bytes(engine_cache) <= bound, i
        if i >= 1:
            # the first net used again before each new one: the least recently used go first
            again = cache.cached_export(_tiny(seed=0), ["fc"])
            assert not again.exported or i >= 4, i
    keys = {e["key"] for e in store.entries(str(engine_cache))}
    assert len(keys) == 4
    assert first.key in keys and got.key in keys and one.key not in keys
    # only entries and their lock files remain (no lock file of an evicted entry)
    locks = {n[:-5] for n in os.listdir(engine_cache) if n.endswith(".lock")}
    assert keys <= locks


def test_size_bound_from_the_environment(monkeypatch):
    for text, want in (("500M", 500 << 20), ("4G", 4 << 30), ("1.5K", 1536), ("12345", 12345),
                       ("2GiB", 2 << 30), ("0", None)):
        monkeypatch.setenv(store.ENV_SIZE, text)
        assert store.size_bound() == want, text
    monkeypatch.delenv(store.ENV_SIZE)
    assert store.size_bound() == store.DEFAULT_BOUND
    monkeypatch.setenv(store.ENV_SIZE, "lots")
    with pytest.raises(ValueError, match=f"{store.ENV_SIZE}='lots' is not a size"):
        store.size_bound()


def test_net_without_weights_adds_nothing_to_the_cache(engine_cache):
    """Weights drawn by a filler from an unseeded stream differ in every run, so their export
    would never be met again: it goes to this process's own folder, not the cache. Copies of
    drawn weights (another input shape of a cv2.dnn net) count as drawn; a seeded net is
    cached."""
    net = _tiny()
    got = cache.cached_export(net, ["fc"])
    assert not got.path.startswith(str(engine_cache)) and os.path.isfile(got.path)
    assert store.entries(str(engine_cache)) == []
    runner = EngineRunner(net, ["fc"], ENGINES[0])
    runner(_feed())
    assert runner.last_engine == ENGINES[0]
    assert store.entries(str(engine_cache)) == []
    seeded = cache.cached_export(_tiny(seed=3), ["fc"])
    assert seeded.path.startswith(str(engine_cache))


def test_a_seeded_net_is_cached_after_a_program_seeded_torch(engine_cache):
    """An unseeded net draws from torch's initial seed: after ``torch.manual_seed(7)`` (a
    solver's ``random_seed: 7`` does that) it draws what ``seed=7`` draws. The seeded net's
    values come again in every run, so its export is cached all the same."""
    import torch
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(7)
        unseeded = _tiny()
        assert cache.holds_drawn_weights(unseeded)
        seeded = _tiny(seed=7)
        assert np.array_equal(seeded.params["conv"][0].detach().numpy(),
                              unseeded.params["conv"][0].detach().numpy())
        assert not cache.holds_drawn_weights(seeded)
        assert cache.cached_export(seeded, ["fc"]).path.startswith(str(engine_cache))
    finally:
        torch.random.set_rng_state(state)


def test_dnn_net_without_weights_adds_nothing_to_the_cache(engine_cache, monkeypatch):
    from caffe_compat import dnn
    monkeypatch.setenv("CAFFE_COMPAT_ENGINE", ENGINES[0])
    net = dnn.readNetFromCaffe(TINY.encode())
    for batch in (1, 2):           # two input shapes; each forward fails as OpenCV's
        net.setInput(np.ones((batch, 3, 8, 8), np.float32))
        with pytest.raises(NetError, match="read without a caffemodel"):
            net.forward()
    assert store.entries(str(engine_cache)) == []


def _read_only_folder(tmp_path, kind):
    if kind == "through a file":
        (tmp_path / "a-file").write_text("")
        return str(tmp_path / "a-file" / "engines")
    if os.geteuid() == 0:
        # root writes through permission bits: a folder of a read-only file system instead
        if not os.path.isdir("/proc/driver"):
            pytest.skip("no read-only folder for root here")
        return "/proc/driver"
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return str(folder)


@pytest.mark.parametrize("kind", ["read-only", "through a file"])
def test_unwritable_cache_still_runs_the_engines(tmp_path, monkeypatch, kind):
    """A folder that cannot be written: one warning naming it and the variable, the engines
    run from the fallback folder (never 'the net does not export to ONNX')."""
    folder = _read_only_folder(tmp_path, kind)
    monkeypatch.setenv("CAFFE_COMPAT_ENGINE_CACHE", folder)
    monkeypatch.setattr(store, "_checked", {})
    net = _tiny(seed=5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runner = EngineRunner(net, ["fc"], ENGINES[0])
        runner(_feed())
    assert runner.last_engine == ENGINES[0]
    assert not [w for w in caught if issubclass(w.category, EngineWarning)]
    said = [str(w.message) for w in caught if issubclass(w.category, store.EngineCacheWarning)]
    assert len(said) == 1
    assert f"engine cache folder '{folder}' is not writable" in said[0]
    assert "set CAFFE_COMPAT_ENGINE_CACHE to a writable folder" in said[0]
    assert not runner._export.path.startswith(folder)


def test_read_only_cache_serves_its_exports(engine_cache, monkeypatch):
    """Exports already in a cache that is no longer writable are used as they are (the
    folder's writes refused as a read-only file system refuses them: root writes anywhere)."""
    net = _tiny(seed=7)
    first = cache.cached_export(net, ["fc"])
    real_probe = store._probe

    def refuse(folder):
        if folder == str(engine_cache):
            raise OSError(30, "Read-only file system")
        real_probe(folder)
    monkeypatch.setattr(store, "_probe", refuse)
    monkeypatch.setattr(store, "_checked", {})
    with pytest.warns(store.EngineCacheWarning, match="Read-only file system"):
        again = cache.cached_export(net, ["fc"])
    assert not again.exported and again.path == first.path


def test_engine_cache_command_lists_and_clears(engine_cache, capsys):
    from caffe_compat.cli.main import main
    cache.cached_export(_tiny(seed=11), ["fc"])
    cache.cached_export(_tiny(seed=12), ["fc"])
    assert main(["engine-cache"]) == 0
    out = capsys.readouterr().out
    assert f"engine cache {engine_cache}: 2 entries" in out and "of 2.0 GiB" in out
    assert out.count("tiny  [data 1x3x8x8] -> fc") == 2
    assert main(["engine-cache", "clear"]) == 0
    assert "removed 2 entries" in capsys.readouterr().out
    assert store.entries(str(engine_cache)) == []
    assert main(["engine-cache", "list", "--dir", str(engine_cache)]) == 0
    assert ": 0 entries" in capsys.readouterr().out
