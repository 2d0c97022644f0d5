"""A fork server for the fault-injection tests: ``python -m tests.fuzz.zygote``.

It imports the heavy modules once (torch, h5py, scipy, the commands), then for each request
read from stdin (one JSON object per line) forks a child that runs ``python -m <module>
<argv...>`` in-process (``runpy``), so that a kill trial costs a fork instead of a 2-second
interpreter start. Protocol, one JSON line each way:

    -> {"module": "caffe_compat.cli", "argv": [...], "cwd": "...", "log": "path",
        "kill_at": null | {"events": ["open_w", "rename"], "n": 3, "signal": "SIGKILL"},
        "nonatomic": false}
    <- {"pid": 1234}                         (as soon as the child runs)
    <- {"pid": 1234, "exit": 0 | null, "signal": null | 9, "events": 17}

``kill_at`` makes the child send itself ``signal`` at its n-th file event (seen through
``sys.addaudithook``): ``open_w`` (a file opened for writing, temp files included), ``rename``
(``os.replace`` / ``os.rename``, the atomic commit), ``remove``. The event count of a run
without kill_at is reported, so a test can choose n in range. Signals from outside (the test's
timed kills) work as for any process. ``nonatomic`` replaces the atomic writers by in-place
writes (to show that the checks catch what atomic writing prevents).
"""
import importlib
import json
import os
import runpy
import signal
import sys
import traceback
import warnings

PRELOAD = ["numpy", "torch", "h5py", "scipy.io", "caffe_compat.cli.main", "caffe_compat.solvers",
           "matlab_ports.matfile", "matlab_ports.hdf5", "matlab_ports.avec",
           "matlab_ports.prepare_dataset", "matlab_ports.prepare_h5_files",
           "matlab_ports.generate_h5", "matlab_ports.generate_train",
           "matlab_ports.generate_test", "reproduction.sample"]

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _is_write_open(args):
    path, mode, flags = (tuple(args) + (None, None, None))[:3]
    if isinstance(path, int):
        return False
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


def _disable_atomic_writes():
    """For the harness's own test: writers write in place, as a naive writer would."""
    import contextlib

    from caffe_compat.io import atomic

    original, original_write = atomic.atomic_path, atomic.write_bytes_atomic

    @contextlib.contextmanager
    def in_place(path, suffix=""):
        yield os.fspath(path)

    def write_bytes(path, data):
        with open(path, "wb") as f:
            f.write(data[:len(data) // 2])
            f.flush()
            sys.audit("fuzz.midwrite", path)     # a kill point in the middle of the write
            f.write(data[len(data) // 2:])

    for module in list(sys.modules.values()):
        for name, value in ((n, getattr(module, n, None)) for n in ("atomic_path",
                                                                    "write_bytes_atomic")):
            if value is original:
                setattr(module, name, in_place)
            elif value is original_write:
                setattr(module, name, write_bytes)


def _child(req):
    os.chdir(req["cwd"])
    fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    kill = req.get("kill_at")
    counter = {"n": 0}
    count_path = req["log"] + ".events"
    wanted = set(kill["events"]) if kill else {"open_w", "rename", "remove"}

    def hook(event, args):
        if counter.get("done"):
            return
        if event == "open":
            kind = "open_w" if _is_write_open(args) else None
        elif event == "os.rename":
            kind = "rename"
        elif event == "os.remove":
            kind = "remove"
        elif event == "fuzz.midwrite":
            kind = "midwrite"
        else:
            return
        if kind not in wanted:
            return
        counter["n"] += 1
        if kill and counter["n"] == kill["n"]:
            os.kill(os.getpid(), getattr(signal, kill["signal"]))

    if req.get("nonatomic"):
        _disable_atomic_writes()
    sys.addaudithook(hook)
    sys.argv = [req["module"]] + list(req["argv"])
    code = 0
    try:
        warnings.simplefilter("ignore", RuntimeWarning)   # "found in sys.modules" from runpy
        runpy.run_module(req["module"], run_name="__main__", alter_sys=True)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        traceback.print_exc()
        code = 130
    except BaseException:  # noqa: BLE001 - report and exit like the interpreter would
        traceback.print_exc()
        code = 1
    counter["done"] = True
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        with open(count_path, "w") as f:
            f.write(str(counter["n"]))
    except BaseException:  # noqa: BLE001
        pass
    os._exit(code)


def main():
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module being written by others may not import yet
            pass
    out = sys.stdout
    print(json.dumps({"ready": True}), file=out, flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            os.remove(req["log"] + ".events")
        except OSError:
            pass
        # the log exists before the child runs: a kill that lands before the child opens it
        # (a busy machine) still leaves an empty log for the trial to read
        open(req["log"], "w").close()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _child(req)
            except KeyboardInterrupt:     # a SIGINT before the command started or after it
                code = 130
            finally:
                os._exit(code)
        print(json.dumps({"pid": pid}), file=out, flush=True)
        _, status = os.waitpid(pid, 0)
        events = None
        try:
            with open(req["log"] + ".events") as f:
                events = int(f.read())
        except (OSError, ValueError):
            pass
        print(json.dumps({"pid": pid,
                          "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                          "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                          "events": events}), file=out, flush=True)


if __name__ == "__main__":
    main()
