"""Atomic output files: write to a temporary file beside the target, then rename.

A crash, SIGKILL or Ctrl-C while writing leaves the target untouched (either absent or the
previous complete version) and at most a ``.tmp-*`` file, never a half-written output;
:func:`file_sha256` is the digest that records such a file, or the sources it came from."""
import contextlib
import hashlib
import os


def file_sha256(path):
    """The hex sha256 of the file at ``path``, read a MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    The temporary name keeps ``suffix`` (e.g. ``.h5``) for libraries that look at it. On any
    exception (KeyboardInterrupt included) the temporary file is removed and the error re-raised."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    import tempfile                  # on first write: reading files does not need it
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".tmp-", suffix=suffix,
                               dir=folder)
    os.close(fd)
    # mkstemp creates 0600; give the output the permissions a plain open() would (0666 & ~umask)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def write_bytes_atomic(path, data):
    """Write ``data`` to ``path`` atomically."""
    write_pieces_atomic(path, (data,))


def write_pieces_atomic(path, pieces):
    """Write the bytes-like ``pieces`` one after another to ``path`` atomically (nothing joins
    them into one buffer first: a 244 MB caffemodel then needs no 244 MB copy of itself)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.writelines(pieces)


def write_text_atomic(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))
