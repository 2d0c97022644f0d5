"""The arguments of pycaffe's ``caffe.Net`` constructors."""
from __future__ import annotations

import os
import warnings

_USAGE = ("Net(network_file, phase, level=0, stages=None, weights=None) or the older "
          "Net(network_file, weights, phase)")


def net_arguments(args, phase, level, stages, weights):
    """(phase, level, stages, weights) from the arguments after the net file, as pycaffe's two
    constructors take them: ``(phase, level=0, stages=None, weights=None)``, positional or by
    keyword, or the older ``(weights, phase)``, positional only, told by its second argument
    being a file name (pycaffe tries that form first)."""
    if args and isinstance(args[0], (str, bytes, os.PathLike)) and \
            str(args[0]).upper() not in ("TRAIN", "TEST"):
        if len(args) != 2 or any(v is not None for v in (phase, level, stages, weights)):
            raise TypeError("Net(network_file, weights, phase) takes exactly these three "
                            f"arguments, by position; or use {_USAGE.split(' or ')[0]}")
        warnings.warn("Net(network_file, weights, phase) is deprecated: use "
                      "Net(network_file, phase, weights=weights)", DeprecationWarning,
                      stacklevel=3)
        return args[1], 0, None, args[0]
    if len(args) > 4:
        raise TypeError(f"{_USAGE}: got {len(args) + 1} positional arguments")
    given = {"phase": phase, "level": level, "stages": stages, "weights": weights}
    for name, value in zip(given, args):
        if given[name] is not None:
            raise TypeError(f"Net() got multiple values for argument '{name}'")
        given[name] = value
    if given["phase"] is None:
        raise TypeError(f"{_USAGE}: the phase (caffe.TRAIN or caffe.TEST) is missing")
    return (given["phase"], 0 if given["level"] is None else int(given["level"]),
            given["stages"], given["weights"])
