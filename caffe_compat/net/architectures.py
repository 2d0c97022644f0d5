"""Names for known net architectures: the line ``caffe-compat inspect`` prints after the layers.

caffe_compat itself knows no architecture by name. Packages built on it (the model zoo,
``lq_models``) teach it theirs in one of two ways, and caffe_compat never imports them:

- an entry point in the group ``caffe_compat.architectures`` (``setup.py``:
  ``"caffe_compat.architectures": ["zoo = mypackage:describe"]``), loaded the first time a
  description is asked for, so the command line finds the describers of every installed package;
- :func:`register_architecture_describer` called when the package is imported.

A describer is ``describe(net_param) -> str | None``: one line naming the architecture of a
NetParameter (a caffemodel's), or None when it does not recognise it. The first describer that
answers wins, in registration order (entry points after the ones registered in code)."""
from __future__ import annotations

import warnings

ENTRY_POINT_GROUP = "caffe_compat.architectures"

_DESCRIBERS = []
_entry_points_loaded = False


def register_architecture_describer(describe):
    """Add ``describe(net_param) -> str | None`` to the describers (once; returns it)."""
    if describe not in _DESCRIBERS:
        _DESCRIBERS.append(describe)
    return describe


def architecture_describers():
    """The registered describers, entry points of installed packages included."""
    _load_entry_points()
    return list(_DESCRIBERS)


def describe_architecture(net_param):
    """One line naming the architecture of ``net_param``, or None when no describer knows it.

    A describer that fails is reported with a warning and skipped: an inspection of the file
    must not depend on a plug-in working."""
    for describe in architecture_describers():
        try:
            text = describe(net_param)
        except Exception as e:  # a third-party describer: report it, keep inspecting
            warnings.warn(f"architecture describer {_name(describe)} failed: "
                          f"{type(e).__name__}: {e}", RuntimeWarning, stacklevel=2)
            continue
        if text:
            return str(text)
    return None


def _load_entry_points():
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import distributions
    # every distribution's metadata, not only the first of each name: a stale
    # <name>.egg-info left in a source checkout must not hide the installed entry points
    seen = set()
    for ep in (ep for dist in distributions() for ep in dist.entry_points
               if ep.group == ENTRY_POINT_GROUP):
        if (ep.name, ep.value) in seen:
            continue
        seen.add((ep.name, ep.value))
        try:
            register_architecture_describer(ep.load())
        except Exception as e:  # an installed package that does not import: say so, go on
            warnings.warn(f"entry point {ep.name} = {ep.value} of group {ENTRY_POINT_GROUP} "
                          f"cannot be loaded: {type(e).__name__}: {e}", RuntimeWarning,
                          stacklevel=3)


def _name(fn):
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
