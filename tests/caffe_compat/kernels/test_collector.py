"""caffe_compat.kernels.collector: torch's objects are kept out of the cycle collector's walks while
the program runs and handed back for CPython's shutdown, which then finalises as usual."""
import os
import subprocess
import sys
import textwrap

import pytest

from caffe_compat.kernels import collector

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

# an atexit callback registered before caffe_compat is imported runs after the collector's.
# "Frozen" is a count above the interpreter's own at start-up (Python 3.12 starts with objects
# in the permanent generation; 3.11 with none)
PROGRAM = textwrap.dedent("""
    import atexit, gc, sys
    BASE = gc.get_freeze_count()
    atexit.register(lambda: print("frozen at the end", gc.get_freeze_count() > BASE,
                                  flush=True))
    if sys.argv[1] == "torch-first":
        import torch
    finders = list(sys.meta_path)
    import caffe_compat
    if sys.argv[1] == "program-imports-torch":
        import torch
        print("frozen before a net", gc.get_freeze_count() > BASE, flush=True)
        caffe_compat.Net('input: "x" input_shape { dim: 1 dim: 2 }')
    else:
        from caffe_compat import Net        # the engine's lazy import loads torch
    print("frozen", gc.get_freeze_count() > BASE, flush=True)
    print("no import hook", sys.meta_path == finders, flush=True)

    class Closes:
        def __init__(self, name):
            self.name = name
        def __del__(self):
            print("closed", self.name, flush=True)

    late = Closes("late cycle")
    late.me = late
    del late
    gc.collect()                        # made after the freeze: collected while running
    kept = Closes("global")
    out = open(sys.argv[2], "w")
    out.write("written, never closed")  # flushed at shutdown as CPython does
    """)


def run(mode, tmp_path, **env):
    environ = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    environ.pop(collector.ENV, None)
    environ.update(env)
    target = tmp_path / f"{mode}.txt"
    done = subprocess.run([sys.executable, "-c", PROGRAM, mode, str(target)], env=environ,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines(), target.read_text()


@pytest.mark.parametrize("mode", ["engine-first", "torch-first", "program-imports-torch"])
def test_frozen_while_running_and_finalised_as_usual(mode, tmp_path):
    lines, written = run(mode, tmp_path)
    assert "frozen True" in lines
    assert "no import hook True" in lines
    if mode == "program-imports-torch":     # set aside by the first net, not by the import
        assert "frozen before a net False" in lines
    assert lines.index("closed late cycle") < lines.index("frozen at the end False")
    assert "closed global" in lines
    assert written == "written, never closed"


def test_off_by_the_environment(tmp_path):
    lines, written = run("engine-first", tmp_path, **{collector.ENV: "0"})
    assert "frozen False" in lines and "closed global" in lines
    assert written == "written, never closed"


def test_install_states(monkeypatch):
    monkeypatch.setattr(collector, "_state", {"installed": True, "frozen": False})
    frozen = []
    monkeypatch.setattr(collector.gc, "freeze", lambda: frozen.append(1))
    assert collector.install(environ={collector.ENV: "off"}, modules={}) == "off"
    saved = list(sys.meta_path)
    assert collector.install(environ={}, modules={}) == "waiting"
    assert sys.meta_path == saved               # nothing installed on the import system
    collector.freeze_if_loaded(modules={})
    assert frozen == []
    with collector.Loading():
        import torch  # noqa: F401 (a block that loads torch)
        assert not collector.gc.isenabled()
    assert frozen == [1]                        # set aside at the block's end
    assert collector.install(environ={}, modules={"torch": object()}) == "frozen"
    collector.freeze_if_loaded()
    assert frozen == [1]                        # once
    monkeypatch.setattr(collector.gc, "unfreeze", lambda: frozen.append(2))
    collector.unfreeze_at_exit()
    assert frozen == [1, 2] and not collector._state["frozen"]


@pytest.mark.parametrize("enabled", [True, False])
def test_paused_blocks_leave_the_collector_as_they_found_it(enabled):
    import gc
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        with collector.Paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
        with pytest.raises(ValueError), collector.Paused():
            raise ValueError("an error inside")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_reading_a_net_pauses_the_collector_and_gives_it_back():
    """readNetFromCaffe reads without automatic collections (kernels.collector.Paused) and
    leaves the collector on, an error or not."""
    import gc

    from caffe_compat import dnn
    from caffe_compat.errors import PrototxtError
    seen = []
    text = ('input: "data" input_shape { dim: 1 dim: 1 dim: 2 dim: 2 }\n'
            'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n')
    real = dnn.readers._light_net

    def spy(*args):
        seen.append(gc.isenabled())
        return real(*args)
    assert gc.isenabled()
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(dnn.readers, "_light_net", spy)
        dnn.readNetFromCaffe(bufferProto=text.encode())
        with pytest.raises(PrototxtError):
            dnn.readNetFromCaffe(bufferProto=b'layer { name: "a" type: }\n')
    finally:
        mp.undo()
    assert seen == [False, False] and gc.isenabled()
