"""Caffe's rules for a layer type, written once, and the one registry of layer types and the
engines that implement them (:mod:`.registry`): the parameters with Caffe's defaults, the
output shapes and what Caffe refuses (its ``CHECK``\\ s in ``LayerSetUp`` / ``Reshape``).

A module per layer type (``convolution``, ``pooling``), the geometry they share (``spatial``),
and what each engine does with each parameter field (``fields``). Nothing here imports torch or protobuf: a parameter message is read through its
attributes and ``HasField``, so every engine reads the same rule, the torch layers, the numpy
array engine, the torch-free ONNX converters and the PyTorch-source emitters alike; an engine
keeps only its arithmetic. A refusal raises :class:`caffe_compat.errors.NetError` with the
message the torch layer gives (``layer 'NAME' (type TYPE): ...``) and ``field`` naming the
parameter at fault.
"""
