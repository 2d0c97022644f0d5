"""Caffe's include / exclude rules (Net::FilterNet's StateMeetsRule): which layers a NetState
keeps, and the line Caffe logs for a rule not met. Works on protobuf messages and on
:mod:`caffe_compat.io.protobuf_free` messages alike (it reads fields and ``HasField`` only),
so it imports neither protobuf nor the schema."""
from __future__ import annotations

from ..errors import NetError


def state_meets_rule(state, rule):
    """Caffe's StateMeetsRule: does NetState ``state`` satisfy NetStateRule ``rule``?"""
    return rule_miss(state, rule) is None


def rule_miss(state, rule, layer=""):
    """Caffe's StateMeetsRule for NetStateRule ``rule`` of layer ``layer``: None where NetState
    ``state`` satisfies it, else ``(message, location)`` of the line Caffe logs for the first
    part of the rule it does not meet (net.cpp)."""
    tail = f"specified by a rule in layer {layer}"
    if rule.HasField("phase") and rule.phase != state.phase:
        return (f"The NetState phase ({state.phase}) differed from the phase ({rule.phase}) "
                + tail, "net.cpp:296")
    if rule.HasField("min_level") and state.level < rule.min_level:
        return (f"The NetState level ({state.level}) is above the min_level "
                f"({rule.min_level}) " + tail, "net.cpp:303")
    if rule.HasField("max_level") and state.level > rule.max_level:
        return (f"The NetState level ({state.level}) is above the max_level "
                f"({rule.max_level}) " + tail, "net.cpp:311")
    for stage in rule.stage:
        if stage not in state.stage:
            return (f"The NetState did not contain stage '{stage}' " + tail, "net.cpp:324")
    for stage in rule.not_stage:
        if stage in state.stage:
            return (f"The NetState contained a not_stage '{stage}' " + tail, "net.cpp:336")
    return None


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
