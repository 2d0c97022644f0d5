"""Caffe's include / exclude rules (Net::FilterNet's StateMeetsRule): which layers a NetState
keeps. Works on protobuf messages and on :mod:`caffe_compat.io.protobuf_free` messages alike (it reads
fields and ``HasField`` only), so it imports neither protobuf nor the schema."""
from __future__ import annotations

from ..errors import NetError


def state_meets_rule(state, rule):
    """Caffe's StateMeetsRule: does NetState ``state`` satisfy NetStateRule ``rule``?"""
    if rule.HasField("phase") and rule.phase != state.phase:
        return False
    if rule.HasField("min_level") and state.level < rule.min_level:
        return False
    if rule.HasField("max_level") and state.level > rule.max_level:
        return False
    stages = set(state.stage)
    if any(stage not in stages for stage in rule.stage):
        return False
    if any(stage in stages for stage in rule.not_stage):
        return False
    return True


def layer_included(layer, state, index=None, source="<string>"):
    """Caffe's include/exclude decision for one LayerParameter under ``state``.

    ``source`` names the place in an error: the file, or ``file:line:column`` of the layer."""
    if len(layer.include) and len(layer.exclude):
        where = f"layer '{layer.name}'" + (f" (#{index})" if index is not None else "")
        raise NetError(f"{source}: {where} has both include and exclude rules; Caffe allows "
                       "one kind or the other, not both")
    if not len(layer.include):
        return not any(state_meets_rule(state, rule) for rule in layer.exclude)
    return any(state_meets_rule(state, rule) for rule in layer.include)
