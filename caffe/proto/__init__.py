"""``caffe.proto.caffe_pb2``: the engine's generated Caffe schema under pycaffe's name."""
import sys

from caffe_compat.proto import caffe_pb2

# ``import caffe.proto.caffe_pb2`` and ``from caffe.proto import caffe_pb2`` give one module
sys.modules.setdefault(__name__ + ".caffe_pb2", caffe_pb2)

__all__ = ["caffe_pb2"]
