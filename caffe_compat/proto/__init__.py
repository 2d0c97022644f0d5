"""Caffe's protobuf schema (``caffe.proto``) and its generated Python module.

``caffe_pb2`` holds every Caffe 1.0 message (NetParameter, LayerParameter, SolverParameter,
SolverState, BlobProto, the V0/V1 legacy layers, ...). The schema is wire- and text-compatible
with BVLC Caffe's; only its protobuf package is ``caffe_compat`` instead of ``caffe``.

``caffe_pb2.py`` is generated; after editing ``caffe.proto`` regenerate it from the repository
root with::

    python -m grpc_tools.protoc -I . --python_out=. caffe_compat/proto/caffe.proto
"""
from caffe_compat.proto import caffe_pb2

__all__ = ["caffe_pb2"]
