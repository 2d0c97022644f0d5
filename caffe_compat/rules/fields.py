"""Which fields of a layer type's parameter message each engine honours, refuses or may
ignore: one declaration per engine and type, checked against ``caffe.proto`` by the field
coverage test (a field no engine has decided about fails it).

``honours``: the engine's results follow the field's value (the rule module's ``FIELDS`` are
honoured by every engine that reads the rule). ``refuses``: a value the engine does not
reproduce raises the engine's ``Unsupported`` (another engine takes the net). ``no_effect``: the
field cannot change Caffe's results, with the reason (``engine: CUDNN`` computes the same
function)."""
from __future__ import annotations

from .record import frozen

_DECLARED = {}          # (engine, layer type) -> FieldUse


@frozen
class FieldUse:
    message: str
    honours: frozenset
    refuses: frozenset = frozenset()
    no_effect: dict = None

    def undecided(self, names):
        """The fields of ``names`` this declaration says nothing about."""
        return set(names) - self.honours - self.refuses - set(self.no_effect or ())


# Caffe's engines (CAFFE, CUDNN) compute the same function; only speed differs
ENGINE_FIELD = {"engine": "Caffe's CAFFE and CUDNN engines compute the same function"}


def declare(engine, type_names, message, honours, refuses=(), no_effect=None):
    """Record what ``engine`` does with each field of ``message`` for ``type_names``."""
    use = FieldUse(message, frozenset(honours), frozenset(refuses), dict(no_effect or {}))
    for type_name in ([type_names] if isinstance(type_names, str) else type_names):
        _DECLARED[(engine, type_name)] = use
    return use


def declared():
    """``{(engine, layer type): FieldUse}`` of the engine modules imported so far."""
    return dict(_DECLARED)
