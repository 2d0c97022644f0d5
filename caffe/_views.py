"""The objects pycaffe's ``caffe.Net`` hands out for its layers and parameters:
``net.layers[i]`` of a built-in layer (:class:`LayerView`) and ``net.params[layer][i]`` of a
net on the array engine (:class:`ArrayParam`)."""
from caffe_compat.net.blob_view import BlobDims, BlobVec


class LayerView:
    """``net.layers[i]`` for a built-in layer: ``type``, ``blobs``, ``reshape``."""

    def __init__(self, net, index):
        from caffe_compat.layers.python import ParamBlob    # (a net on the torch engine)
        node, key, _, _ = net._net._nodes[index]
        self._module = net._net.layers[key]
        self.type = node.type
        self.name = node.name
        self.blobs = BlobVec(self._module, blob=ParamBlob)

    def setup(self, bottom, top):
        """The layer is set up with its net; this reshapes ``top`` for ``bottom``."""
        self.reshape(bottom, top)

    def reshape(self, bottom, top):
        """Give the ``top`` blobs the shapes this layer produces for the ``bottom`` blobs."""
        for blob, shape in zip(top, self._module.top_shapes([b.shape for b in bottom])):
            blob.reshape(*shape)

    def __repr__(self):
        return f"<caffe layer {self.name!r} ({self.type})>"


class ArrayParam(BlobDims):
    """``net.params[layer][i]`` of a net on the array engine: the parameter's array and its
    diff; after the net moves to torch, the torch parameter (the same memory)."""

    __slots__ = ("_owner", "_layer", "_index")

    def __init__(self, owner, layer, index):
        self._owner = owner
        self._layer = layer
        self._index = index

    def _torch(self):
        from caffe_compat.layers.python import ParamBlob
        net = self._owner._net
        return ParamBlob(net.layers[net._layer_keys[self._layer]], self._index)

    def _on_torch(self):
        """Whether the value is the torch engine's: the net is there, or this parameter's
        filler is one only torch draws and no weights file has overwritten it (reading it
        moves the net to torch, which fills it)."""
        arrays = self._owner._arrays
        return arrays is None or (self._layer, self._index) in arrays.unfilled

    @property
    def data(self):
        if self._on_torch():
            return self._torch().data
        arrays = self._owner._arrays
        arrays.handed_out.add((self._layer, self._index))
        return arrays.params[self._layer][self._index]

    @property
    def diff(self):
        arrays = self._owner._arrays
        if self._on_torch():
            return self._torch().diff
        arrays.handed_out.add((self._layer, self._index))
        return arrays.param_diff(self._layer, self._index)

    @property
    def shape(self):
        arrays = self._owner._arrays     # (an unfilled parameter's shape reads no value)
        if arrays is not None:
            return tuple(arrays.params[self._layer][self._index].shape)
        return tuple(self.data.shape)

    def reshape(self, *shape):
        """Caffe's Blob::Reshape as the torch engine's ParamBlob has it (the net moves to torch)."""
        self._torch().reshape(*shape)

    def __repr__(self):
        return f"ParamBlob({self._layer!r}, {self._index}, shape={self.shape})"
