"""Inference engines behind caffe_compat: the same net, run by the fastest engine that gives
our forward's outputs (the rules and measurements: docs/engines.md).

* ``torch`` (:func:`.choose.torch_session`): our own forward, the reference;
* ``onnxruntime`` and ``openvino``: the net's ONNX export (:mod:`caffe_compat.export`), cached
  on disk (:mod:`.cache`, in the cache of :mod:`caffe_compat.onnx_path.cache_store`;
  ``caffe-compat engine-cache``: :mod:`.cache_command`), in sessions of
  :mod:`caffe_compat.onnx_path.runtime`.

Every engine is checked against our forward before it runs a net
(:mod:`caffe_compat.onnx_path.trust`); the choice
among the trusted ones is the package's one runtime trial
(:class:`caffe_compat.onnx_path.choice.Chosen`, driven by :mod:`.choose`). All run with
:func:`.threads.engine_threads` threads.

    from caffe_compat.inference.engines import EngineRunner
    runner = EngineRunner(net, ["prob"])          # engine="auto"
    prob, = runner({"data": x})                   # x: float32 N x C x H x W"""
from ...onnx_path.runtime import PIP
from .cache import cached_export, export_key
from ...onnx_path.cache_store import ENV_CACHE, EngineCacheWarning, cache_root
from .choose import AUTO, ENGINES, ENV_ENGINE, EngineRunner, as_feed, installed_engines, \
    requested_engine
from .threads import engine_threads
from ...onnx_path.trust import TRUST_TOL, EngineWarning


def engines_report(net, iterations=5, batch=1):
    """The table of ``caffe-compat inspect --engines`` for a test-phase Net."""
    from .report import engine_rows, format_rows
    return format_rows(engine_rows(net, iterations=iterations, batch=batch), batch)


__all__ = ["EngineRunner", "EngineWarning", "ENGINES", "installed_engines", "engine_threads",
           "cached_export", "export_key", "cache_root", "requested_engine", "as_feed",
           "engines_report", "ENV_CACHE", "ENV_ENGINE", "AUTO", "EngineCacheWarning",
           "TRUST_TOL", "PIP"]
