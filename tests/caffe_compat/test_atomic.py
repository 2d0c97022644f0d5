"""Atomic outputs: the target is either absent, the old version or the complete new one."""
import os
import stat

import pytest

from caffe_compat.io.atomic import atomic_path, write_bytes_atomic


def test_written_file_has_plain_open_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "a.bin", b"x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "a.bin").st_mode) == 0o644


def test_error_leaves_old_version_and_no_temporary(tmp_path):
    target = tmp_path / "out.h5"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target, suffix=".h5") as tmp:
            assert tmp.endswith(".h5") and os.path.dirname(tmp) == str(tmp_path)
            with open(tmp, "wb") as f:
                f.write(b"half")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.h5"]


def test_success_replaces_target(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_path(target) as tmp:
        with open(tmp, "w") as f:
            f.write("new")
    assert target.read_text() == "new"
    assert os.listdir(target.parent) == ["out.txt"]


def test_pieces_are_written_in_turn_and_atomically(tmp_path):
    import numpy as np

    from caffe_compat.io.atomic import write_pieces_atomic
    values = np.arange(6, dtype="<f4")
    head = b"head"
    pieces = [head, memoryview(b"--view--")[2:6], values.view(np.uint8), b""]
    write_pieces_atomic(tmp_path / "w.bin", pieces)
    assert (tmp_path / "w.bin").read_bytes() == b"headview" + values.tobytes()
    target = tmp_path / "w.bin"

    def broken():
        yield b"partial"
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        write_pieces_atomic(target, broken())
    assert target.read_bytes() == b"headview" + values.tobytes()    # the old version
    assert os.listdir(tmp_path) == ["w.bin"]
