"""Read and write binary .solverstate files (Caffe's SolverState message).

A state holds the iteration, the learning-rate step counter (``current_step``), the name of the
caffemodel saved with it (``learned_net``, relative to where the solver ran) and the solver's
per-parameter history blobs, in parameter order (for Adam/AdaDelta: all first moments, then
all second moments). Problems raise :class:`~caffe_compat.errors.WeightsError` naming the file
and, where it applies, the history blob."""
import os

from google.protobuf.message import DecodeError

from caffe_compat.errors import SolverError, WeightsError
from caffe_compat.io.atomic import write_bytes_atomic
from caffe_compat.io.binary_file import check_encoded_size, read_binary_file
from caffe_compat.io.caffemodel import (blob_to_array, check_not_other_format,
                                        check_text_fields, describe_decode_failure,
                                        unknown_field_paths)
from caffe_compat.proto import caffe_pb2


def parse_solverstate(data, source="<bytes>"):
    """A SolverState from the bytes of a .solverstate file."""
    data = bytes(data)
    if not data:
        raise WeightsError(f"{source}: empty data, not a solverstate")
    check_not_other_format(data, source, "solverstate", "caffe_compat.io.prototxt")
    state = caffe_pb2.SolverState()
    try:
        state.ParseFromString(data)
    except DecodeError:
        raise WeightsError(f"{source}: not a valid binary solverstate: "
                           f"{describe_decode_failure(data, caffe_pb2.SolverState)}") from None
    check_text_fields(state, source, "solverstate")
    unknown = unknown_field_paths(state)
    if "<top level>" in unknown:
        if _is_caffemodel(data):
            raise WeightsError(f"{source}: a .caffemodel (NetParameter), not a solverstate; "
                               "read it with caffe_compat.io.caffemodel.read_caffemodel")
        raise WeightsError(f"{source}: fields unknown to SolverState at the top level; not a "
                           "Caffe solverstate")
    if unknown:
        raise WeightsError(f"{source}: unknown fields inside {', '.join(unknown[:5])}; not a "
                           "Caffe solverstate")
    return state


def _is_caffemodel(data):
    net = caffe_pb2.NetParameter()
    try:
        net.ParseFromString(data)
    except DecodeError:
        return False
    return len(net.layer) > 0 or len(net.layers) > 0


def read_solverstate(path, max_bytes=None):
    """A SolverState from a binary .solverstate file.

    ``max_bytes`` (default 2**31 - 1, Caffe's limit) refuses larger files before reading them."""
    path = os.fspath(path)
    return parse_solverstate(read_binary_file(path, max_bytes, "solverstate"), path)


def solverstate_bytes(state):
    """The binary encoding of ``state`` as Caffe writes it."""
    data = state.SerializeToString(deterministic=True)
    check_encoded_size(len(data), "solver state")
    return data


def write_solverstate(state, path):
    """Write ``state`` as a binary .solverstate to ``path`` atomically."""
    write_bytes_atomic(path, solverstate_bytes(state))


def history_arrays(state, source=""):
    """The history blobs of ``state`` as numpy arrays, in order."""
    prefix = f"{source}: " if source else ""
    return [blob_to_array(blob, where=f"{prefix}history blob {i}")
            for i, blob in enumerate(state.history)]


def read_state_bytes(path):
    """The bytes of the solver state file ``path``; SolverError naming it where it cannot be
    read."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise SolverError(f"{path}: no such solverstate file") from None
    except OSError as e:
        raise SolverError(f"{path}: cannot read: {e.strerror or e}") from None


def resolve_learned_net(learned, state_path):
    """``learned_net`` as Caffe opens it (relative to the working directory), else the file of
    that name beside the solver state."""
    if os.path.exists(learned):
        return learned
    beside = os.path.join(os.path.dirname(os.path.abspath(state_path)),
                          os.path.basename(learned))
    if os.path.exists(beside):
        return beside
    raise WeightsError(f"{state_path}: its weights file '{learned}' (learned_net) does not exist "
                       f"(relative to the working directory {os.getcwd()}, nor beside the "
                       "solver state)")
