"""Where a dnn Net's layers were written (``file:line:column``), for the errors of its engine
nets: worked out from the definition's recorded positions (:mod:`caffe_compat.diagnostics.
locations`) the first time an error or an engine net needs them, not when the net is read: a
net read and run without an error never scans its text for them."""
from __future__ import annotations


class PositionsMixin:
    """:meth:`_layer_positions` of a dnn Net: ``self._located`` holds (the filtered
    definition, the indices of its layers, their OpenCV names, the indices of its Input
    layers) until then; ``self._positions`` the result."""

    def _layer_positions(self):
        """(each layer's LayerSource or None, the LayerSource of the engine nets' own Input
        layer: where the net's inputs are declared), worked out on first use (module doc)."""
        if self._located is not None:
            from ..diagnostics import locations
            filtered, body_at, names, inputs_at = self._located
            self._located = None
            layers = [locations.layer_source(filtered, i) for i in body_at]
            layers = [p.renamed(n) if p is not None else None for p, n in zip(layers, names)]
            first = next((p for p in (locations.layer_source(filtered, i) for i in inputs_at)
                          if p is not None), None)
            known = locations.source_of(filtered)
            self._positions = (layers, first.renamed("_input") if first else
                               locations.LayerSource(known.file, 1, 1, "_input") if known
                               else None)
        return self._positions
