"""Caffe's LossParameter rules (loss_layer.cpp's ``get_normalizer``, with the legacy
``normalize`` its loss layers read), read by the loss layers of every engine.

Parameters and defaults: ``ignore_label`` (none unless given: every label counts); the
normalization mode, ``normalization`` where given, else the deprecated ``normalize`` (true:
VALID, false: BATCH_SIZE), else the layer's default (VALID for SoftmaxWithLoss and
InfogainLoss, BATCH_SIZE for SigmoidCrossEntropyLoss). InfogainLoss refuses ``normalize``. The
normalizer: FULL every position, VALID the counted ones, BATCH_SIZE the outer count, NONE 1,
never below 1 (a batch without a counted label gives a loss of 0, not NaN).
"""
from __future__ import annotations

from .record import frozen
from .refusal import refuse

FULL, VALID, BATCH_SIZE, NONE = 0, 1, 2, 3           # LossParameter.NormalizationMode

# the LossParameter fields this rule reads (every engine that reads it honours them)
FIELDS = frozenset({"ignore_label", "normalization", "normalize"})


@frozen
class LossRule:
    ignore_label: int | None
    mode: int

    def normalizer(self, outer, inner, valid):
        """Caffe's get_normalizer for ``outer`` items of ``inner`` positions, ``valid`` of them
        counted."""
        n = {FULL: outer * inner, VALID: valid, BATCH_SIZE: outer}.get(self.mode, 1)
        return float(max(1, n))


def loss_rule(layer, default=VALID, legacy=True):
    """The :class:`LossRule` of ``layer``'s ``loss_param``; ``default``: the mode where neither
    ``normalization`` nor ``normalize`` is given; ``legacy`` False: ``normalize`` refused."""
    lp = layer.loss_param
    if not legacy and lp.HasField("normalize"):
        refuse(layer, f"loss_param.normalize is deprecated and refused by {layer.type}; use "
               "normalization (VALID, FULL, BATCH_SIZE or NONE)")
    if lp.HasField("normalization"):
        mode = int(lp.normalization)
    elif lp.HasField("normalize"):
        mode = VALID if lp.normalize else BATCH_SIZE
    else:
        mode = default
    ignore = int(lp.ignore_label) if lp.HasField("ignore_label") else None
    return LossRule(ignore, mode)
