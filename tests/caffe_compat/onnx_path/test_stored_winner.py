"""The torch-free path's runtime trial keeps its winner in the one disk cache
(caffe_compat.onnx_path.cache_store): a later net of the same files settles on it without a
trial; the entry is listed and cleared as the engines' exports are; a read-only cache serves
it; nothing is written where the trial is off. And onnx_path depends on no package above it."""
import ast
import pathlib

import pytest

import caffe_compat
from caffe_compat.onnx_path import cache_store as store
from caffe_compat.onnx_path import choice, runtime

from .helpers import lite_mode
from .test_path import _files

pytest.importorskip("onnxruntime")


def _chosen(tmp_path, forwards=40):
    """A cv2.dnn net of test_path's files after ``forwards`` forwards: its plan's Chosen."""
    from caffe_compat import dnn
    text, model, x = _files(tmp_path)
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)
        net.setInput(x)
        for _ in range(forwards):
            net.forward()
    (_, chosen), = net._torch_free._plans.values()
    return chosen


@pytest.fixture
def prompt_trial(monkeypatch):
    monkeypatch.setattr(choice, "TRIAL_BASE_S", 0.0)
    monkeypatch.setattr(choice, "TRIAL_S_PER_MB", 0.0)
    monkeypatch.delenv(choice.ENV, raising=False)
    monkeypatch.delenv(runtime.ENV_RUNTIME, raising=False)


def test_a_second_net_settles_on_the_stored_winner(engine_cache, prompt_trial, tmp_path,
                                                   capsys):
    first = _chosen(tmp_path)
    assert first.decided and first.times
    listed = store.entries(str(engine_cache))
    assert [e["net"] for e in listed] == ["small"] and listed[0]["outputs"] == ["out"]
    again = _chosen(tmp_path, forwards=choice.MIN_CALLS + 1)
    assert again.decided and again.times == {} and again.runtime == first.runtime
    from caffe_compat.cli.main import main
    assert main(["engine-cache"]) == 0
    out = capsys.readouterr().out
    assert ": 1 entries" in out and "small  [data 1x3x12x12] -> out" in out
    assert main(["engine-cache", "clear"]) == 0
    assert store.entries(str(engine_cache)) == []


def test_a_read_only_cache_serves_the_stored_winner(engine_cache, prompt_trial, tmp_path,
                                                    monkeypatch):
    first = _chosen(tmp_path)
    before = sorted(p.name for p in engine_cache.rglob("*"))
    real_probe = store._probe

    def refuse(folder):
        if folder == str(engine_cache):
            raise OSError(30, "Read-only file system")
        real_probe(folder)
    monkeypatch.setattr(store, "_probe", refuse)
    monkeypatch.setattr(store, "_checked", {})
    with pytest.warns(store.EngineCacheWarning, match="Read-only file system"):
        again = _chosen(tmp_path, forwards=choice.MIN_CALLS + 1)
    assert again.decided and again.times == {} and again.runtime == first.runtime
    assert sorted(p.name for p in engine_cache.rglob("*")) == before


def test_nothing_is_written_with_the_trial_off(engine_cache, prompt_trial, tmp_path,
                                               monkeypatch):
    monkeypatch.setenv(choice.ENV, "0")
    _chosen(tmp_path)
    assert not engine_cache.exists() or store.entries(str(engine_cache)) == []


def _imported(path, package):
    """The modules ``path`` (a module of ``package``, dotted) imports, made absolute."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] \
                if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            out += [module] + [f"{module}.{a.name}" for a in node.names]
    return out


@pytest.mark.parametrize("folder, above", [
    ("onnx_path", ("caffe_compat.inference", "caffe_compat.export")),
    ("export", ("caffe_compat.inference",))])
def test_onnx_path_imports_nothing_above_it(folder, above):
    """Dependencies point down: onnx_path <- export (the user's files) <- inference (runs the
    exports); never the other way."""
    root = pathlib.Path(caffe_compat.__file__).parent
    found = []
    for path in (root / folder).rglob("*.py"):
        package = ".".join(("caffe_compat",) + path.relative_to(root).parent.parts)
        found += [f"{path.relative_to(root)}: {m}" for m in _imported(path, package)
                  if m.startswith(above)]
    assert not found, found


def test_the_stored_winner_names_its_session(engine_cache, prompt_trial, tmp_path):
    """The winner is stored with its trial label: the first session, or one made anew (the
    settings for a net that keeps running), and a later net settles on the same kind."""
    first = _chosen(tmp_path)
    (entry,) = store.entries(str(engine_cache))
    decisions = store.Decisions(entry["folder"], entry["key"]).decisions()
    won = [v for k, v in decisions.items() if k.startswith("fastest|")]
    assert won and won[0]["label"] == min(first.times, key=first.times.get)
    assert won[0]["runtime"] == first.runtime


def test_settle_again_makes_a_new_session():
    made = []
    chosen = choice.Chosen(lambda feed: "first", "onnxruntime", [],
                           lambda name: made.append(name) or (lambda feed: "tuned"), 0.0)
    chosen.settle("onnxruntime")
    assert made == [] and chosen({}) == "first"
    chosen = choice.Chosen(lambda feed: "first", "onnxruntime", [],
                           lambda name: made.append(name) or (lambda feed: "tuned"), 0.0)
    chosen.settle("onnxruntime", again=True)
    assert made == ["onnxruntime"] and chosen({}) == "tuned"
