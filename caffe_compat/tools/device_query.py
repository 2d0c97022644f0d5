"""``caffe-compat device_query -gpu 0[,1|all]`` (caffe.cpp's device_query): the properties of
each named CUDA device, one "name: value" line each, as Caffe::DeviceQuery prints them (the
fields PyTorch reports)."""
from __future__ import annotations

from ..cli.registry import caffe_flag as _flag
from ..cli.registry import register_command
from ..errors import CaffeCompatError
from ..cli._log import log


def add_arguments(p):
    _flag(p, "gpu", default="", help="GPU id(s) separated by ',' or 'all'")


def _gpus(flag, count):
    if flag == "all":
        return list(range(count))
    if not flag:
        return []
    try:
        return [int(x) for x in flag.split(",")]
    except ValueError:
        raise CaffeCompatError(f"device_query: -gpu '{flag}' is not a list of ids or 'all'") \
            from None


# the line of Caffe::DeviceQuery (src/caffe/common.cpp) that prints each field; a field
# Caffe does not print takes the function's first line
_DEVICE_QUERY = 170
_FIELD_LINES = {"Device id": 178, "Major revision number": 179, "Minor revision number": 180,
                "Name": 181, "Total global memory": 182, "Total shared memory per block": 183,
                "Total registers per block": 184, "Warp size": 185,
                "Number of multiprocessors": 199}


def device_lines(index):
    """(the glog place, the line) of each field of CUDA device ``index``."""
    import torch
    p = torch.cuda.get_device_properties(index)
    fields = [("Device id", index), ("Major revision number", p.major),
              ("Minor revision number", p.minor), ("Name", p.name),
              ("Total global memory", p.total_memory),
              ("Number of multiprocessors", p.multi_processor_count)]
    for label, attr in (("Total shared memory per block", "shared_memory_per_block"),
                        ("Total registers per block", "regs_per_multiprocessor"),
                        ("Warp size", "warp_size"),
                        ("Maximum threads per multiprocessor", "max_threads_per_multi_processor"),
                        ("L2 cache size", "L2_cache_size")):
        if hasattr(p, attr):
            fields.append((label, getattr(p, attr)))
    return [(f"common.cpp:{_FIELD_LINES.get(label, _DEVICE_QUERY)}", f"{label + ':':<31}{value}")
            for label, value in fields]


def run(args):
    import torch
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    log(f"Querying GPUs {args.gpu}", where="caffe.cpp:138")
    gpus = _gpus(args.gpu, count)
    if not gpus:
        raise CaffeCompatError("device_query: give the device(s) with -gpu ID[,ID...] or -gpu "
                               "all")
    for g in gpus:
        if not 0 <= g < count:
            raise CaffeCompatError(f"device_query: there is no CUDA device {g} ({count} "
                                   "available to PyTorch)")
        for where, line in device_lines(g):
            log(line, where=where)
    return 0


register_command("device_query", add_arguments, run, "show the properties of CUDA device(s)")
