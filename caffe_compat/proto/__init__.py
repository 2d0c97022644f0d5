"""Caffe's protobuf schema (``caffe.proto``) and its Python module.

``caffe_pb2`` holds every Caffe 1.0 message (NetParameter, LayerParameter, SolverParameter,
SolverState, BlobProto, the V0/V1 legacy layers, ...). The schema is wire- and text-compatible
with BVLC Caffe's; only its protobuf package is ``caffe_compat`` instead of ``caffe``.

``schema.py`` reads ``caffe.proto`` itself into a table, which the protobuf-free reader
(:mod:`caffe_compat.io.protobuf_free`) reads and from which ``caffe_pb2`` builds its classes
when imported: no generated code to keep in step with the file.
``caffe_pb2`` is imported on first use (``from caffe_compat.proto import caffe_pb2``): the
light reader imports no protobuf.
"""
import importlib

__all__ = ["caffe_pb2"]


def __getattr__(name):
    if name in ("caffe_pb2", "schema"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
