"""The Caffe side of ``caffe-compat verify`` (``python _worker.py JOB.json``), run by the
Python of the Caffe build under test: it imports nothing of caffe_compat (that Python may have
no torch), only numpy and the build's pycaffe, loaded from the build's pycaffe folder by path
and checked (this project's pycaffe is also a package named ``caffe``).

JOB.json: ``{"progress": PATH, "pycaffe": FOLDER, "tasks": [{"id", "kind", "dir", ...}]}``.
Each task reads and writes ``.npz`` files in its own folder and ends with ``done.json``
(``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``); its id goes to the progress file
before it starts, so when Caffe aborts the process (a failed CHECK), the caller knows which
task did it and starts the worker again on the rest. Task kinds:

- ``info``: the build's layer types, version, and BLAS (OpenBLAS core name).
- ``net``: build ``net.prototxt`` (phase ``TEST``/``TRAIN``), set ``params.npz`` (keys
  ``layer/index``), feed ``inputs.npz`` to its Input blobs, run ``forwards`` forward passes
  (``blobs.npz``: ``k:blob`` for pass k) and, with ``backward``, one backward pass
  (``diffs.npz``: blob diffs and ``layer/index`` gradients); ``held.npz``: the parameters as
  Caffe holds them; ``save``: ``net.save("caffe.caffemodel")``; ``load`` (a caffemodel): the
  parameters Caffe reads from it (``loaded.npz``) and its re-save (``resaved.caffemodel``).
- ``train``: ``solver.prototxt`` from ``weights``: the float32 loss of every iteration (the
  forward passes before each update, averaged as Solver::Step does, on a net sharing the
  solver's weights and data order) and of the caffe tool's final forward pass
  (``losses.npz``), the parameters after ``middle`` iterations (``middle.npz``) and at the
  end (``final.npz``).
"""
import ctypes
import importlib
import json
import os
import sys
import traceback

# the caller's PYTHONPATH after this Python's own packages (caffe_compat.verify.build.USER_PATH)
sys.path.extend(p for p in os.environ.get("CAFFE_COMPAT_VERIFY_USER_PATH", "").split(os.pathsep)
                if p and p not in sys.path)

import numpy as np  # noqa: E402 - after the path above


def _params(net, what="data"):
    return {f"{n}/{i}": getattr(b, what).copy() for n, bl in net.params.items()
            for i, b in enumerate(bl)}


def task_info(caffe, task):
    core = None
    for lib in ("libopenblas.so.0", "libopenblasp.so.0", "libopenblas.so", "libopenblas.dylib"):
        try:
            ob = ctypes.CDLL(lib)
            ob.openblas_get_corename.restype = ctypes.c_char_p
            core = ob.openblas_get_corename().decode()
            break
        except (OSError, AttributeError):
            continue
    return {"layer_types": sorted(caffe.layer_type_list()),
            "version": getattr(caffe, "__version__", None), "openblas_core": core,
            "python": sys.version.split()[0], "numpy": np.__version__}


def _set_params(net, path):
    if not os.path.exists(path):
        return
    with np.load(path) as f:
        for key in f.files:
            layer, index = key.rsplit("/", 1)
            blob = net.params[layer][int(index)]
            value = f[key]
            if value.size != blob.data.size:
                raise ValueError(f"parameter {key}: {value.shape} given, Caffe holds "
                                 f"{blob.data.shape}")
            blob.data[...] = value.reshape(blob.data.shape)


def task_net(caffe, task):
    caffe.set_random_seed(int(task.get("seed", 1)))
    phase = caffe.TRAIN if task.get("phase", "TEST") == "TRAIN" else caffe.TEST
    net = caffe.Net("net.prototxt", phase)
    _set_params(net, "params.npz")
    if os.path.exists("inputs.npz"):
        with np.load("inputs.npz") as f:
            for k in f.files:
                if k in net.inputs:
                    net.blobs[k].data[...] = f[k].reshape(net.blobs[k].data.shape)
    blobs = {}
    for k in range(int(task.get("forwards", 1))):
        net.forward()
        blobs.update({f"{k}:{name}": b.data.copy() for name, b in net.blobs.items()})
    np.savez("blobs.npz", **blobs)
    if task.get("backward"):
        net.backward()
        diffs = {name: b.diff.copy() for name, b in net.blobs.items()}
        diffs.update(_params(net, "diff"))
        np.savez("diffs.npz", **diffs)
    np.savez("held.npz", **_params(net))
    if task.get("save"):
        net.save("caffe.caffemodel")
    if task.get("load"):
        other = caffe.Net("net.prototxt", phase, weights=task["load"])
        np.savez("loaded.npz", **_params(other))
        other.save("resaved.caffemodel")
    return {}


def task_train(caffe, task):
    from google.protobuf import text_format
    caffe_pb2 = importlib.import_module("caffe.proto.caffe_pb2")    # the build's, as caffe
    with open("solver.prototxt") as f:
        sp = text_format.Parse(f.read(), caffe_pb2.SolverParameter())
    solver = caffe.get_solver("solver.prototxt")
    if task.get("weights"):
        solver.net.copy_from(task["weights"])
    shadow = caffe.Net(sp.net, caffe.TRAIN)
    shadow.share_with(solver.net)
    iters, losses = [], []
    while solver.iter < sp.max_iter:
        acc = np.float32(0)
        for _ in range(sp.iter_size):
            acc = np.float32(acc + np.float32(shadow.forward()["loss"]))
        iters.append(solver.iter)
        losses.append(np.float32(acc / np.float32(sp.iter_size)))
        solver.step(1)
        if solver.iter == int(task.get("middle", -1)):
            np.savez("middle.npz", **_params(solver.net))
    iters.append(solver.iter)
    losses.append(np.float32(shadow.forward()["loss"]))
    np.savez("losses.npz", iter=np.array(iters, np.int32), loss=np.array(losses, np.float32))
    np.savez("final.npz", **_params(solver.net))
    return {}


TASKS = {"info": task_info, "net": task_net, "train": task_train}


def load_pycaffe(folder):
    """The build's pycaffe from ``folder`` (the folder holding its ``caffe`` package), refusing
    a ``caffe`` package found elsewhere on the path."""
    if folder:
        sys.path.insert(0, folder)
    caffe = importlib.import_module("caffe")
    where = os.path.realpath(os.path.dirname(caffe.__file__))
    if folder and os.path.dirname(where) != os.path.realpath(folder):
        raise ImportError(f"'import caffe' found {where}, not the pycaffe of the build "
                          f"under test ({folder})")
    return caffe


def main(job_path):
    with open(job_path) as f:
        job = json.load(f)
    os.environ.setdefault("GLOG_minloglevel", "2")
    caffe = load_pycaffe(job.get("pycaffe"))
    caffe.set_mode_cpu()
    start = os.getcwd()
    for task in job["tasks"]:
        with open(job["progress"], "a") as f:
            f.write(task["id"] + "\n")
        os.chdir(task["dir"])
        try:
            status = {"ok": True}
            status.update(TASKS[task["kind"]](caffe, task) or {})
        except Exception as e:          # a Python-level failure: recorded, the next task runs
            status = {"ok": False, "error": f"{type(e).__name__}: {e}",
                      "traceback": traceback.format_exc(limit=3)}
        with open("done.json", "w") as f:
            json.dump(status, f)
        os.chdir(start)


if __name__ == "__main__":
    main(sys.argv[1])
