"""A binary Caffe file's bytes (caffemodel, solverstate, binaryproto) after the size and
sanity checks, without protobuf: the readers of :mod:`caffe_compat.io.caffemodel` and the
light reader (:mod:`caffe_compat.io.protobuf_free`) both start here."""
from __future__ import annotations

import contextlib
import os

from caffe_compat.errors import UnopenedWeightsError, WeightsError

# Caffe's reader refuses protobuf files of 2 GiB or more.
DEFAULT_MAX_BYTES = 2**31 - 1


def check_encoded_size(size, what):
    """WeightsError where ``what`` encodes to ``size`` bytes, more than Caffe reads."""
    if size > DEFAULT_MAX_BYTES:
        raise WeightsError(f"{what} encodes to {size} bytes; Caffe cannot read protobuf files "
                           "of 2 GiB or more")


@contextlib.contextmanager
def read_errors(path, what, error):
    """``error`` (an exception class) naming ``path`` for an OSError while it is read."""
    try:
        yield
    except FileNotFoundError:
        raise error(f"{path}: no such {what} file") from None
    except PermissionError:
        raise error(f"{path}: permission denied") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not a {what} file") from None
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None


def read_binary_file(path, max_bytes=None, what="caffemodel"):
    """The bytes of ``path`` after the size and sanity checks; WeightsError on any problem."""
    return read_binary_file_identified(path, max_bytes, what)[0]


def identity(stat):
    """What tells a file's contents apart over time: device, inode, size, modification and
    change times (a write or a replacement changes one of them)."""
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def same_file(path, known):
    """Whether ``path`` is still the file of :func:`identity` ``known``."""
    try:
        return identity(os.stat(path)) == known
    except OSError:
        return False


def read_binary_file_identified(path, max_bytes=None, what="caffemodel"):
    """(:func:`read_binary_file`'s bytes, the :func:`identity` of the file they were read from;
    None where the file changed while it was read)."""
    path = os.fspath(path)
    limit = DEFAULT_MAX_BYTES if max_bytes is None else int(max_bytes)
    with read_errors(path, what, UnopenedWeightsError):
        size = os.stat(path).st_size
        if os.path.isdir(path):
            raise WeightsError(f"{path}: is a directory, not a {what} file")
        if size > limit:
            raise WeightsError(f"{path}: {size} bytes, over the limit of {limit} bytes (Caffe "
                               f"cannot read protobuf files of 2 GiB or more); pass "
                               f"max_bytes= to change the limit")
        with open(path, "rb") as f:
            before = identity(os.fstat(f.fileno()))
            # read what stat() promised (f.read(limit + 1) would allocate 2 GiB up front),
            # then anything the file grew by since, up to the limit
            data = f.read(min(size, limit) + 1)
            if len(data) > size:
                parts, total = [data], len(data)
                while total <= limit:
                    part = f.read(min(1 << 20, limit + 1 - total))
                    if not part:
                        break
                    parts.append(part)
                    total += len(part)
                data = b"".join(parts)
            known = identity(os.fstat(f.fileno()))
            if known != before:
                known = None             # written meanwhile: its bytes tell no file apart
    if len(data) > limit:
        raise WeightsError(f"{path}: grew over the limit of {limit} bytes while being read")
    if not data:
        raise WeightsError(f"{path}: empty file (0 bytes), not a {what}")
    return data, known
