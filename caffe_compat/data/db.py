"""Caffe's key-value databases (src/caffe/util/db_lmdb.cpp, db_leveldb.cpp) through py-lmdb
and plyvel.

Reading (:func:`open_db`) follows Caffe's cursor: records in key order (bytewise, both
databases' default comparator), from the first, back to the first after the last
(DataLayer::Next). A database is opened once per process: its readers share one counted
handle (:class:`LMDBReader`, :class:`LevelDBReader`; :func:`open_handles`), each at its own
position, and the last ``close()`` closes it. Memory stays bounded: LevelDB reads through its
block cache, and an LMDB map is reopened every :data:`LMDB_REMAP_BYTES` read.

Writing (:func:`create_db`) is convert_imageset's: LMDB (committed every 1000 records, the map
doubled when full, as LMDBTransaction does) or LevelDB (Caffe's options: 64 KiB blocks, a 256
MiB write buffer, 100 open files), built in a temporary folder beside the target and renamed
into place when complete (an existing target is refused, as Caffe does)."""
from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
import threading

from ..errors import DataError

# an LMDB environment is unmapped and remapped after its readers have read this many bytes
LMDB_REMAP_BYTES = 64 << 20
# a reader reads at most this many bytes (or records) per read transaction
LMDB_READ_GROUP_BYTES = 1 << 20
LMDB_READ_GROUP_RECORDS = 1024
BACKENDS = ("lmdb", "leveldb")
_INSTALL_HINT = "install it with: pip install 'robust-lq-emotion[data]'"


def _import(name, purpose):
    try:
        return __import__(name)
    except ImportError:
        pip = {"lmdb": "lmdb (py-lmdb)", "plyvel": "plyvel"}[name]
        raise DataError(f"{purpose} needs the Python package {pip}; {_INSTALL_HINT}") from None


def backend_name(backend):
    """'lmdb' or 'leveldb' from a DataParameter.DB value, a name in any case, or None."""
    if isinstance(backend, int):
        return {0: "leveldb", 1: "lmdb"}.get(backend) or _bad_backend(backend)
    name = str(backend).lower()
    return name if name in BACKENDS else _bad_backend(backend)


def _bad_backend(backend):
    raise DataError(f"unknown database backend '{backend}' (Caffe knows lmdb and leveldb)")


def guess_backend(path):
    """'lmdb' / 'leveldb' from the files in ``path``, or None."""
    if os.path.isfile(os.path.join(path, "data.mdb")):
        return "lmdb"
    return "leveldb" if os.path.isfile(os.path.join(path, "CURRENT")) else None


def _check_source(path, backend, where):
    if not os.path.exists(path):
        raise DataError(f"{where}: {backend} database '{path}' does not exist (relative paths "
                        f"are resolved against the working directory {os.getcwd()})")
    if not os.path.isdir(path):
        raise DataError(f"{where}: {backend} database '{path}' is a file; Caffe's LMDB and "
                        "LevelDB databases are folders")
    found = guess_backend(path)
    if found is None:
        raise DataError(f"{where}: '{path}' holds no {backend} database (no data.mdb or "
                        "CURRENT file in the folder)")
    if found != backend:
        raise DataError(f"{where}: '{path}' is a {found} database but the backend is "
                        f"{backend}; set data_param {{ backend: {found.upper()} }} (Caffe's "
                        "default backend is LEVELDB)")


# ------------------------------------------------------------------------------------- sharing
# one open handle per database per process: (backend, identity) -> _SharedHandle
_OPEN = {}
_OPEN_LOCK = threading.Lock()


def _identity(path, file_name=""):
    """What makes two paths one database: the device and inode of ``file_name`` in the folder
    (or of the folder), as py-lmdb's own once-per-process guard; the resolved path where the
    filesystem has no inode numbers."""
    try:
        st = os.stat(os.path.join(path, file_name) if file_name else path)
    except OSError:
        st = None
    if st is not None and st.st_ino:
        return ("inode", st.st_dev, st.st_ino)
    return ("path", os.path.normcase(os.path.realpath(path)))


class _SharedHandle:
    """The process's one open handle on a database (an LMDB environment or a LevelDB), counted
    by the readers using it and closed when the last one is released.

    Reads happen inside :meth:`use` blocks, which never span a ``yield``: a reader copies what
    it reads and leaves the block, so :meth:`count_read` can close and reopen the handle (the
    LMDB unmap that keeps the RSS bounded) as soon as the reads in progress end, and the last
    release closes it without waiting for a suspended generator."""

    def __init__(self, key, path, opener, closer):
        self.key, self.path = key, path
        self._opener, self._closer = opener, closer
        self.users = 0
        self.reopened = 0                   # close-and-reopen count (tests read it)
        self._cond = threading.Condition()
        self._active = 0                    # use() blocks in progress
        self._reopening = False
        self._read_bytes = 0
        self.handle = opener()

    @contextlib.contextmanager
    def use(self, where):
        with self._cond:
            while self._reopening:
                self._cond.wait()
            if self.handle is None:
                raise DataError(f"{where}: the database '{self.path}' is closed (it could not "
                                "be reopened)")
            self._active += 1
            handle = self.handle
        try:
            yield handle
        finally:
            with self._cond:
                self._active -= 1
                if not self._active:
                    self._cond.notify_all()

    def count_read(self, nbytes, budget):
        """Add ``nbytes`` read by any of the users; once ``budget`` is passed, close and reopen
        the handle when no read is in progress (called outside :meth:`use`)."""
        with self._cond:
            self._read_bytes += nbytes
            if self._read_bytes < budget or self._reopening:
                return
            self._reopening = True
            try:
                while self._active:
                    self._cond.wait()
                self._read_bytes = 0
                if self.handle is None:     # closed meanwhile (its last user went)
                    return
                handle, self.handle = self.handle, None
                self._closer(handle)
                self.handle = self._opener()
                self.reopened += 1
            finally:
                self._reopening = False
                self._cond.notify_all()

    def close(self):
        with self._cond:
            while self._active or self._reopening:
                self._cond.wait()
            handle, self.handle = self.handle, None
            if handle is not None:
                self._closer(handle)


def _acquire(backend, key, path, opener, closer):
    """The shared handle of the database ``key``, opened by ``opener()`` on first use."""
    with _OPEN_LOCK:
        shared = _OPEN.get((backend, key))
        if shared is None:
            shared = _SharedHandle(key, path, opener, closer)
            _OPEN[(backend, key)] = shared
        shared.users += 1
        return shared


def _release(backend, shared):
    """One user fewer; the last closes the handle (under the registry lock, so that a new
    opener of the same files never meets the old handle still open)."""
    with _OPEN_LOCK:
        shared.users -= 1
        if shared.users > 0:
            return
        if _OPEN.get((backend, shared.key)) is shared:
            del _OPEN[(backend, shared.key)]
        shared.close()


def open_handles(backend=None):
    """{path: number of readers} of the databases open in this process (of ``backend``)."""
    with _OPEN_LOCK:
        return {s.path: s.users for (b, _), s in _OPEN.items() if backend in (None, b)}


class _SharedReader:
    """A reader's claim on a shared handle: released once, by ``close()`` (idempotent, from
    any thread). The handle is ``opener(module, path, where)``; ``file_name``: the file in the
    folder that tells the database apart (:func:`_identity`)."""

    def __init__(self, path, where, module, file_name, opener):
        self.path = os.fspath(path)
        self.where = where or self.path
        _check_source(self.path, self.backend, self.where)
        self._close_lock = threading.Lock()
        self._shared = _acquire(self.backend, _identity(self.path, file_name), self.path,
                                functools.partial(opener, module, self.path, self.where),
                                _close_quietly)

    def _use(self):
        shared = self._shared
        if shared is None:
            raise DataError(f"{self.where}: the {self.backend} reader of '{self.path}' is "
                            "closed")
        return shared.use(self.where)

    def close(self):
        with self._close_lock:
            shared, self._shared = self._shared, None
        if shared is not None:
            _release(self.backend, shared)

    @property
    def closed(self):
        return self._shared is None


# ------------------------------------------------------------------------------------- reading
class LMDBReader(_SharedReader):
    """Caffe's LMDBCursor over ``path``.

    Every reader of the same LMDB in the process (Data layers of any net, tools) shares one
    environment, opened read-only by the first and closed when the last closes (LMDB refuses a
    second open in one process, and a solver's TRAIN and TEST nets reading one database is
    Caffe's common case). Each reader keeps its own position (the last key read). Records are
    read in groups of at most LMDB_READ_GROUP_BYTES inside a short read transaction (values
    copied); the environment is reopened every LMDB_REMAP_BYTES read by all its readers, between
    groups."""

    backend = "lmdb"

    def __init__(self, path, where=""):
        self.lmdb = _import("lmdb", "an LMDB database")
        super().__init__(path, where, self.lmdb, "data.mdb", _open_lmdb_env)

    def __len__(self):
        with self._use() as env:
            return int(env.stat()["entries"])

    def first(self):
        """(key, value) of the first record, or None for an empty database."""
        group, _ = self._read_group(None, 1)
        return group[0] if group else None

    def _read_group(self, after, limit_records):
        """([(key, value)], end reached): the records after the key ``after`` (from the first
        when None), up to LMDB_READ_GROUP_BYTES (or LMDB_REMAP_BYTES when smaller)."""
        limit_bytes = min(LMDB_READ_GROUP_BYTES, LMDB_REMAP_BYTES)
        group, nbytes = [], 0
        try:
            with self._use() as env, env.begin(buffers=False) as txn, txn.cursor() as cur:
                ok = cur.set_range(after) if after is not None else cur.first()
                if ok and after is not None and cur.key() == after:
                    ok = cur.next()
                while ok:
                    key, value = cur.key(), cur.value()
                    group.append((key, value))
                    nbytes += len(value)
                    if nbytes >= limit_bytes or len(group) >= limit_records:
                        return group, not cur.next()
                    ok = cur.next()
                return group, True
        except self.lmdb.Error as e:
            raise DataError(f"{self.where}: cannot read LMDB '{self.path}': {e}") from None

    def records(self):
        """(key, value) in key order forever (wrapping at the end; nothing when empty)."""
        last_key = None
        while True:
            group, at_end = self._read_group(last_key, LMDB_READ_GROUP_RECORDS)
            if not group and last_key is None:
                return                              # empty
            for record in group:
                yield record
            # past the last record: Caffe's SeekToFirst
            last_key = None if at_end else group[-1][0]
            shared = self._shared
            if shared is not None:
                shared.count_read(sum(len(v) for _, v in group), LMDB_REMAP_BYTES)


def _open_lmdb_env(lmdb, path, where):
    try:
        return lmdb.open(path, readonly=True, lock=False, readahead=False, subdir=True)
    except lmdb.Error as e:
        raise DataError(f"{where}: cannot open LMDB '{path}': {e}") from None


def _close_quietly(handle):
    with contextlib.suppress(Exception):
        handle.close()


class LevelDBReader(_SharedReader):
    """Caffe's LevelDBCursor over ``path`` (a snapshot iterator, re-made at each wrap).

    LevelDB allows one open per process (its LOCK file), so in Caffe a second net on the same
    LevelDB fails. Here every reader in the process shares one handle, as for LMDB (each with
    its own iterator), so programs written for LMDB run unchanged on LevelDB. Another process
    holding the database is still a clear error."""

    backend = "leveldb"

    def __init__(self, path, where=""):
        self.plyvel = _import("plyvel", "a LevelDB database")
        super().__init__(path, where, self.plyvel, "", _open_leveldb)

    def _db(self):
        shared = self._shared
        if shared is None or shared.handle is None:
            raise DataError(f"{self.where}: the leveldb reader of '{self.path}' is closed")
        return shared.handle

    def __len__(self):
        return sum(1 for _ in self._db().iterator(include_value=False))

    def first(self):
        with self._db().iterator() as it:
            for key, value in it:
                return key, value
        return None

    def records(self):
        while True:
            n = 0
            try:
                with self._db().iterator(fill_cache=False) as it:
                    for key, value in it:
                        n += 1
                        yield key, value
            except self.plyvel.Error as e:
                raise DataError(f"{self.where}: cannot read LevelDB '{self.path}': {e}") \
                    from None
            except RuntimeError:            # plyvel: "Database or iterator is closed"
                if self.closed:
                    self._db()              # says so
                raise
            if n == 0:
                return


def _open_leveldb(plyvel, path, where):
    try:
        return plyvel.DB(path, create_if_missing=False, max_open_files=100)
    except Exception as e:  # noqa: BLE001 - plyvel.Error, IOError (lock held)
        raise DataError(f"{where}: cannot open LevelDB '{path}': {e} (a LevelDB can be open "
                        "in one process at a time: another process holds it)") from None


def open_db(path, backend, where=""):
    """A reader (``first()``, ``records()``, ``close()``) for the database at ``path``."""
    return (LMDBReader if backend_name(backend) == "lmdb" else LevelDBReader)(path, where)


# ------------------------------------------------------------------------------------- writing
class _LMDBWriter:
    def __init__(self, path):
        self.lmdb = _import("lmdb", "writing an LMDB database")
        self.map_size = 64 << 20
        self.env = self.lmdb.open(path, map_size=self.map_size, subdir=True)
        self.pending = []

    def put(self, key, value):
        self.pending.append((key, value))

    def commit(self):
        """LMDBTransaction::Commit: one write transaction; double the map when full."""
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    for k, v in self.pending:
                        txn.put(k, v)
                break
            except self.lmdb.MapFullError:
                self.map_size *= 2
                self.env.set_mapsize(self.map_size)
        self.pending = []

    def close(self):
        self.env.close()


class _LevelDBWriter:
    def __init__(self, path):
        self.plyvel = _import("plyvel", "writing a LevelDB database")
        self.db = self.plyvel.DB(path, create_if_missing=True, error_if_exists=True,
                                 block_size=65536, write_buffer_size=268435456,
                                 max_open_files=100)
        self.batch = self.db.write_batch()

    def put(self, key, value):
        self.batch.put(key, value)

    def commit(self):
        self.batch.write()
        self.batch = self.db.write_batch()

    def close(self):
        self.db.close()


@contextlib.contextmanager
def create_db(path, backend):
    """A writer (``put(key, value)``, ``commit()``) for a NEW database at ``path``, built in a
    temporary folder and renamed onto ``path`` when the block ends without error."""
    backend = backend_name(backend)
    path = os.fspath(path)
    if os.path.lexists(path):
        raise DataError(f"'{path}' already exists; Caffe creates a new {backend} database and "
                        "refuses an existing path (remove it or choose another name)")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise DataError(f"'{path}': the folder '{parent}' does not exist")
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(path) + ".tmp-", dir=parent)
    writer = None
    try:
        if backend == "lmdb":
            writer = _LMDBWriter(tmp)
        else:
            os.rmdir(tmp)                     # LevelDB creates its own folder
            writer = _LevelDBWriter(tmp)
        yield writer
        writer.commit()
        writer.close()
        writer = None
        mask = os.umask(0)            # the process's umask, read (and put back)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)
        os.rename(tmp, path)
    except BaseException:
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
