"""Whether what a :class:`caffe_compat.dnn.net.Net` is fed fits it (a mixin of the Net): the
blobs set, checked before any engine runs (:mod:`caffe_compat.net.input_check`), and the
weights it holds against the engine net built for a new input shape."""
from __future__ import annotations

from ..errors import NetError


class InputFitMixin:
    """``_check_fed`` and ``_check_fits`` of a dnn Net."""

    def _check_fits(self, net, shapes):
        """The weights the net holds fit the engine net built for ``shapes``; otherwise a
        NetError naming the first layer they do not fit, where it is defined, and the input
        shapes (a 3-channel image fed to a 1-channel net, say)."""
        own = net.caffe_state_dict()
        for key, value in self._state.items():
            want = tuple(own[key].shape) if key in own else None
            if want is None or tuple(value.shape) == want:
                continue
            caffe_name, blob = key.rsplit(".", 1)
            layer = next(r for r in self._layers if r["caffe_name"] == caffe_name)
            where = next((f"{pos.where()}: " for lp, pos in zip(self._param.layer,
                                                                 self._layer_positions()[0])
                          if lp.name == caffe_name and pos is not None), "")
            fed = ", ".join(f"'{n}' {tuple(s)}" for n, s in zip(self._inputs, shapes))
            raise NetError(f"{where}layer '{layer['name']}' ({layer['type']}) cannot take the "
                           f"input {fed}: its {blob} has shape {tuple(value.shape)}, this input "
                           f"needs {want}")

    def _check_fed(self):
        """The blobs set fit the net: :mod:`caffe_compat.net.input_check`, before any engine;
        a set of shapes found to fit is not checked again (``input_check.Fits``;
        ``setInputShape`` forgets them)."""
        fed = tuple((n, self._fed[n].shape) for n in self._inputs if n in self._fed)
        fits = self.__dict__.get("_fed_fit")
        if fits is None:
            from ..net import input_check
            fits = self.__dict__["_fed_fit"] = input_check.Fits(input_check.readers(
                [(r["caffe_name"], r["type"], r["engine_bottoms"], r["tops"])
                 for r in self._layers], self._inputs))
        fits.check(self._source, fed, self._input_shapes)

    def _blame_input(self, shapes, error):
        """Where the caffemodel does not fit the net built for input ``shapes`` and those are
        not the declared shapes, the input is at fault, not the file (a 224 x 224 image into
        a net whose fully connected layer fixes 227 x 227): an InputShapeError saying so."""
        declared = [self._input_shapes.get(n) for n in self._inputs]
        odd = [(n, tuple(s), tuple(d)) for n, s, d in zip(self._inputs, shapes, declared)
               if d is not None and tuple(d) != tuple(s)]
        if not odd or "shape mismatch" not in str(error):
            return
        from ..net.input_check import InputShapeError
        detail = str(error).split("\n", 1)[-1].strip()
        name, given, want = odd[0]
        size = f" (cv2.dnn.blobFromImage(img, size=({want[-1]}, {want[-2]})))" \
            if len(want) == 4 else ""
        raise InputShapeError(
            f"{self._source}: input '{name}' {given} is not the declared {want}, and at this "
            f"size the caffemodel's weights do not fit the net ({detail}; 'file' is the "
            f"caffemodel, 'net' the net at this input size): feed the declared size{size}"
        ) from error
