"""Inference engines behind caffe_compat: the same net, run by the fastest engine that gives
our forward's outputs.

* ``torch`` (:mod:`.torch_engine`): our own forward, the reference;
* ``onnxruntime`` (:mod:`.onnxruntime_engine`) and ``openvino`` (:mod:`.openvino_engine`):
  the net's ONNX export (:mod:`caffe_compat.export`), cached on disk (:mod:`.cache`; the
  cache's location, size bound and listing: :mod:`.cache_store`, ``caffe-compat
  engine-cache``: :mod:`.cache_command`).

Every engine is checked against our forward before it runs a net (:mod:`.trust`); the choice
among the trusted ones is the package's one runtime trial (:class:`caffe_compat.lite.choice.Chosen`,
driven by :mod:`.choose`), made only once a net has shown it will run many times. All run with :func:`.threads.engine_threads`
threads. docs/engines.md has the rules and the measurements.

    from caffe_compat.inference.engines import EngineRunner
    runner = EngineRunner(net, ["prob"])          # engine="auto"
    prob, = runner({"data": x})                   # x: float32 N x C x H x W
"""
from . import onnxruntime_engine, openvino_engine, torch_engine  # noqa: F401 - registers them
from .cache import cached_export, export_key
from .cache_store import ENV_CACHE, EngineCacheWarning, cache_root
from .choose import AUTO, ENV_ENGINE, EngineRunner, as_feed, requested_engine
from .registry import PIP, engine_class, engine_names, installed_engines, register_engine
from .threads import engine_threads
from .trust import TRUST_TOL, EngineWarning



def engines_report(net, iterations=5, batch=1):
    """The table of ``caffe-compat inspect --engines`` for a test-phase Net."""
    from .report import engine_rows, format_rows
    return format_rows(engine_rows(net, iterations=iterations, batch=batch), batch)

__all__ = ["EngineRunner", "EngineWarning", "register_engine", "engine_class", "engine_names",
           "installed_engines", "engine_threads", "cached_export", "export_key", "cache_root",
           "requested_engine", "as_feed", "engines_report", "ENV_CACHE", "ENV_ENGINE", "AUTO",
           "EngineCacheWarning",
           "TRUST_TOL", "PIP"]
