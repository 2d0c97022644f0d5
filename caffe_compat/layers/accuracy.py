"""Accuracy (the rule in :mod:`caffe_compat.rules.accuracy`); optional second top: per-class
accuracy, shape ``(C,)`` (0 for a class that never occurs). No backward.

A float32 CPU batch with one top is scored on its numpy arrays (:meth:`Accuracy._numpy_accuracy`):
every step is a comparison or a count, exact in either library, and the one division is
float32 ``count / n_valid`` correctly rounded in both, so the value is the same bits; for a
training net's small batch the torch form's dozen calls were most of an iteration.
"""
import torch

from ..rules.accuracy import FIELDS, accuracy_rule, accuracy_value
from .base import count
from ._neuron import NoBackwardLayer, checked_labels
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "Accuracy", "AccuracyParameter", FIELDS)


@register_layer("Accuracy")
class Accuracy(NoBackwardLayer):
    exact_bottoms = 2
    min_tops = 1
    max_tops = 2

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        rule = self.rule = accuracy_rule(param, self.bottom_shapes)
        self.top_k, self.axis, self.ignore_label = rule.top_k, rule.axis, rule.ignore_label

    def top_shapes(self, bottom_shapes):
        shapes = [self.rule.top_shape(bottom_shapes)]
        if len(self.param.top) > 1:
            shapes.append((int(bottom_shapes[0][self.axis]),))
        return shapes

    def forward(self, x, label):
        x = x.detach()
        if len(self.param.top) == 1 and x.dtype == torch.float32 and x.is_cpu and \
                label.is_cpu and label.dtype == torch.float32:
            return self._numpy_accuracy(x, label)
        classes = x.shape[self.axis]
        outer, inner = count(x.shape, 0, self.axis), count(x.shape, self.axis + 1)
        scores = x.reshape(outer, classes, inner)
        safe, valid = checked_labels(self, label, (outer, inner), classes, self.ignore_label)
        true_score = scores.gather(1, safe.unsqueeze(1))
        better = (scores >= true_score).sum(dim=1) - 1      # the true class matches itself
        correct = (better < self.top_k) & valid
        n_valid = int(valid.sum())
        acc = correct.sum().to(x.dtype) / n_valid if n_valid else x.new_zeros(())
        if len(self.param.top) == 1:
            return acc
        hits = torch.zeros(classes, dtype=x.dtype, device=x.device)
        seen = torch.zeros(classes, dtype=x.dtype, device=x.device)
        hits.index_add_(0, safe[valid], correct[valid].to(x.dtype))
        seen.index_add_(0, safe[valid], torch.ones_like(safe[valid], dtype=x.dtype))
        per_class = torch.where(seen > 0, hits / seen.clamp_min(1), torch.zeros_like(hits))
        return acc, per_class

    def _numpy_accuracy(self, x, label):
        """The accuracy top of :meth:`forward` computed on the arrays (see the module doc;
        the rule is the array engine's, :func:`caffe_compat.array_net.layers.accuracy.
        accuracy_value`)."""
        classes = x.shape[self.axis]
        outer, inner = count(x.shape, 0, self.axis), count(x.shape, self.axis + 1)
        scores = x.numpy().reshape(outer, classes, inner)
        labels = label.detach().numpy().reshape(outer, inner)
        return torch.from_numpy(accuracy_value(scores, labels, self.top_k, self.ignore_label,
                                               self.fail))
