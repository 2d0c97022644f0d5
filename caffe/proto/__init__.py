"""``caffe.proto.caffe_pb2``: the engine's generated Caffe schema under pycaffe's name.

Importing it also makes ``str()`` and ``repr()`` of every Caffe message print as pycaffe
prints it (protobuf's C++ text printer as pycaffe uses it: float and double fields as
Python's ``str`` of the value, e.g. ``0.009999999776482582`` for a float 0.01 and ``1.0``
for 1), so a program writing ``str(net_param)`` to a file writes pycaffe's bytes. The
engine's own writers do not use ``str()`` and are unaffected."""
import sys

from caffe_compat.io.text_print import message_text, python_float
from caffe_compat.proto import caffe_pb2

# ``import caffe.proto.caffe_pb2`` and ``from caffe.proto import caffe_pb2`` give one module
sys.modules.setdefault(__name__ + ".caffe_pb2", caffe_pb2)


def pycaffe_text(message, indent=0):
    """``message`` in text format as pycaffe's ``str()`` writes it."""
    return message_text(message, python_float, indent)


def _message_classes():
    stack = list(caffe_pb2.DESCRIPTOR.message_types_by_name.values())
    while stack:
        desc = stack.pop()
        stack.extend(desc.nested_types)
        cls = caffe_pb2
        for part in desc.full_name.split(".")[1:]:
            cls = getattr(cls, part)
        yield cls


for _cls in _message_classes():
    _cls.__str__ = _cls.__repr__ = pycaffe_text     # repr is str, as protobuf has it

__all__ = ["caffe_pb2", "pycaffe_text"]
