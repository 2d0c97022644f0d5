"""The package's one maker of runtime sessions (cv2.dnn's torch-free plans, the engines of
``caffe_compat.Net(engine=...)``, the export's check; ``tests/caffe_compat/onnx_path/
test_one_trial.py`` fails where a second appears): onnxruntime's CPU provider with the
engines' session settings (docs/engines.md, Threads: one inter-op thread, sequential
execution, no spinning threads, the thread count of the package's policy), OpenVINO's CPU
plugin, or OpenCV 5's own ONNX reader (``cv2.dnn.readNetFromONNX`` from the model's bytes;
OpenCV 4's refuses some of these graphs, and has its own Caffe importer)."""
from __future__ import annotations

import os
import sys

import numpy as np

from .unsupported import Unsupported

ENV_RUNTIME = "CAFFE_COMPAT_TORCH_FREE_RUNTIME"    # onnxruntime | opencv | openvino; default:
# the first found of onnxruntime and opencv (OpenVINO takes over where it measures faster:
# :mod:`.choice`)
# onnxruntime's graph optimisation level for the torch-free sessions: "extended" (the
# default) or "all", "basic", "disabled"
ENV_ORT_LEVEL = "CAFFE_COMPAT_TORCH_FREE_ORT_LEVEL"
# OpenCV 5's engine for the "opencv" runtime's models: "classic" (the default: where the
# classic engine was checked, :func:`engine_for`) or "new"
ENV_OPENCV_ENGINE = "CAFFE_COMPAT_OPENCV_ENGINE"
_LEVELS = {"disabled": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
           "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}


def _threads():
    if not _USABLE:     # imported once: an import statement at each forward costs ~20 us
        from ..parallel import threads
        _USABLE.append(threads.usable_threads)
    return max(1, int(_USABLE[0]()))


_USABLE = []            # the thread policy's usable_threads, once imported


class ThreadWatch:
    """The fewest threads any session of one net was compiled with, against the count the
    thread policy gives now. onnxruntime and OpenVINO fix a session's threads when it is made,
    so a session made while another process held a core keeps one thread after the core is
    free again (figures: docs/engines.md, "Figures behind the constants"). The owner
    calls :meth:`made` when it makes a session and :meth:`grew` when a forward starts: True
    once the count now is larger (the policy gives a core back only after its windows agree,
    so this does not flap), and the owner makes its sessions again. Sessions of OpenCV's
    reader run on OpenCV's pool (its count follows ``cv2.setNumThreads``): they are not
    noted, and the policy is not asked (its first check costs a one-shot program)."""

    FIXED = ("onnxruntime", "openvino")     # the runtimes whose sessions take the count

    def __init__(self):
        self.built = None

    def made(self, name):
        """A session of runtime ``name`` is made now."""
        if name not in self.FIXED:
            return
        now = _threads()
        self.built = now if self.built is None else min(self.built, now)

    def would_grow(self):
        """Whether the policy gives more threads now than the fewest a session was made with
        (:meth:`grew` without forgetting it)."""
        return self.built is not None and _threads() > self.built

    def grew(self):
        if self.would_grow():
            self.built = None
            return True
        return False


def _onnxruntime(model, inputs, outputs, external, linked=None, tuned=False, threads=None):
    """``tuned``: the settings for a net that keeps running (:mod:`.choice`'s trial): every
    graph optimisation (its longer session start is paid once) and spinning threads unless
    ``$CAFFE_COMPAT_ORT_SPINNING`` says otherwise (a forward that follows another at once
    finds its threads awake)."""
    import onnxruntime as ort
    model = b"".join(_chunks(_pieces(model)))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads or _threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    level = os.environ.get(ENV_ORT_LEVEL, "all" if tuned else "extended").strip().lower()
    if level not in _LEVELS:
        raise ValueError(f"{ENV_ORT_LEVEL}={level!r}: expected one of {sorted(_LEVELS)}")
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _LEVELS[level])
    spin = os.environ.get("CAFFE_COMPAT_ORT_SPINNING", "1" if tuned else "0")
    options.add_session_config_entry("session.intra_op.allow_spinning", spin)
    options.add_session_config_entry("session.inter_op.allow_spinning", spin)
    if external:
        names = list(external)
        options.add_external_initializers(
            names, [ort.OrtValue.ortvalue_from_numpy(external[n]) for n in names])
    sess = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    run, names = sess.run, None if outputs is None else list(outputs)

    def forward(feed):
        return run(names, feed)

    forward.runtime = "onnxruntime"
    forward.session = sess            # (its options say the thread count it runs on)
    forward.keep = external           # the arrays the session reads stay alive with it
    return forward


def _opencv(model, inputs, outputs, external, linked=None, classic=False):
    import cv2
    net = _read_linked(cv2, *linked, classic) if linked is not None else None
    if net is None:
        net = _read_onnx(cv2, _pieces(model), classic)
    return _opencv_forward(net, inputs, outputs, classic)


def _opencv_forward(net, inputs, outputs, classic=False):
    names = list(outputs)

    def forward(feed):
        for name in inputs:
            net.setInput(feed[name], name)
        got = net.forward(names)
        return [np.asarray(a) for a in got]

    forward.runtime = CLASSIC if classic else "opencv"
    return forward


def _pieces(model):
    """A model's encoding: ``model`` itself, or what ``model()`` gives (a model written only
    where it is read)."""
    return model() if callable(model) else model


# a model smaller than this goes to OpenCV's reader as a buffer (its copy under the GIL costs
# less than a file's writing and removal; docs/engines.md, "Figures behind the constants")
BUFFER_MAX_BYTES = 1 << 20


def _read_onnx(cv2, model, classic=False, in_memory=True):
    """OpenCV's net of ``model`` (bytes, or :class:`~.onnx_wire.Pieces`) read from a file
    (:func:`_write_model`'s: in memory unless ``in_memory`` is false, else a private temporary
    file): OpenCV 5's reader holds the GIL while it copies a buffer argument and reads a
    file without it; the pieces go to the file without being joined. A buffer where no
    temporary folder takes the file, and for a model of less than :data:`BUFFER_MAX_BYTES`.
    ``classic``: on OpenCV 5's classic engine, which reads only a file. Where the reader
    refuses the file in memory's path, the model is read again from a temporary file."""
    chunks = _chunks(model)
    written = None
    if sum(len(c) for c in chunks) >= BUFFER_MAX_BYTES or classic:
        written = _write_model(model, in_memory)
    if written is None:
        return cv2.dnn.readNetFromONNX(np.frombuffer(b"".join(chunks), np.uint8))
    try:
        return _read_and_remove(_opencv_reader(cv2, classic), *written)
    except cv2.error:
        if not _held_in_memory(written):
            raise
    return _read_onnx(cv2, model, classic, in_memory=False)


def _opencv_reader(cv2, classic):
    """``read(path)``: OpenCV's net of the ONNX file ``path``; ``classic``: on OpenCV 5's
    classic engine (``ENGINE_CLASSIC``), as :data:`CLASSIC` sessions are. The engine is
    honoured only for a file: OpenCV 5.0's buffer overloads of ``readNetFromONNX`` and
    ``readNet`` take the new engine whatever they are given."""
    if not classic:
        return cv2.dnn.readNetFromONNX
    return lambda path: cv2.dnn.readNetFromONNX(path, cv2.dnn.ENGINE_CLASSIC)


# OpenCV 5's classic engine (ENGINE_CLASSIC: OpenCV 4's dnn engine) as a runtime of its own:
# faster on small nets (figures: docs/engines.md, "Figures behind the constants")
# and reshapes a net for a new input shape as OpenCV 4 does; but it computes some graphs
# otherwise (the conformance grid: LRN within a channel, a max pooling whose stride passes the
# window, an average pooling's padding; an inner product on a later axis, whose MatMul gave
# other values once the session ran a second shape; a grouped convolution, in one run of
# four a NaN after a reshape to 1 x 1) or refuses them at the forward (two inputs). So it
# runs only plans of one input, of a net whose every layer writes no lengths (the converters'
# lengths_free: the grid checks them at many shapes on the default runtime,
# tests/caffe_compat/conformance/test_lengths_free.py), whose every node is of the operators
# below; every other plan of the "opencv" runtime runs on the new engine.
CLASSIC = "opencv-classic"
_CLASSIC_OPS = {"Conv", "Pad", "Gemm", "Reshape", "PRelu", "Relu", "LeakyRelu", "Sigmoid",
                "Tanh", "Abs", "Mul", "Softmax", "GlobalAveragePool", "GlobalMaxPool",
                "Identity"}


def _classic_takes(op_type, attrs):
    if op_type == "MaxPool":                # the form without pads (Caffe's ceil rounding)
        return "pads" not in attrs
    if op_type == "Conv":                   # a grouped one's session gave a NaN now and then
        return attrs.get("group", 1) == 1   # after a reshape (a depthwise 3 x 3 on 1 x 1)
    return op_type in _CLASSIC_OPS


def engine_for(name, plan, lengths_free):
    """The runtime that runs ``plan`` on runtime ``name``'s behalf: :data:`CLASSIC` for an
    "opencv" plan of a net whose layers write no lengths (``lengths_free``) and whose nodes
    the classic engine was checked on (:data:`ENV_OPENCV_ENGINE` not "new", this OpenCV has
    the engine), else ``name``."""
    if name != "opencv" or not lengths_free or plan.whole is None or \
            len(plan.whole.input_names) != 1 or CLASSIC in plan.avoids:
        return name
    wanted = os.environ.get(ENV_OPENCV_ENGINE, "classic").strip().lower() or "classic"
    if wanted not in ("classic", "new"):
        raise ValueError(f"{ENV_OPENCV_ENGINE}={wanted!r}: expected 'classic' or 'new'")
    import cv2
    if wanted == "new" or not hasattr(cv2.dnn, "ENGINE_CLASSIC"):
        return name
    return CLASSIC if all(_classic_takes(op, attrs) for op, attrs in plan.whole.nodes()) \
        else name


def _chunks(model):
    """A model's encoding as a sequence of byte strings (bytes given whole, or Pieces)."""
    return [model] if isinstance(model, (bytes, bytearray, memoryview)) else model


def _read_linked(cv2, model, source, classic=False):
    """OpenCV's net of ``model`` (:class:`~.onnx_wire.Pieces` whose large weights are the
    caffemodel's bytes, :class:`~.graph.FileSource` ``source``): the model written to a
    private folder beside a link to the caffemodel, which OpenCV's reader reads the weights
    from (nothing of them written again).
    None where no folder or link can be made, OpenCV refuses the external data, or the
    caffemodel is no longer the file its bytes were read from (the caller then writes the
    whole model)."""
    written = _write_linked(model, source)
    if written is None:
        return None
    try:
        net = _read_and_remove(_opencv_reader(cv2, classic), *written)
    except cv2.error:
        return None
    return _unchanged(net, source)


def _unchanged(net, source):
    """``net``, read from ``source``'s file, where that file is still the one whose bytes
    were read; else None."""
    from ..io.binary_file import same_file
    return net if same_file(source.path, source.known) else None


def _write_model(model, in_memory=True):
    """``(path, [what to remove or close after the read])``: ``model`` written to a file in
    memory (``os.memfd_create``, Linux: its path under /proc/self/fd, nothing to remove) unless
    ``in_memory`` is false, else to a private temporary file; None where neither takes it."""
    got = _in_memory(_chunks(model)) if in_memory else None
    if got is not None:
        return got
    path = _private_file(".onnx")
    if path is None:
        return None
    try:
        with open(path, "wb") as f:
            f.writelines(_chunks(model))
    except OSError:
        _remove([path])
        return None
    return path, [path]


def _write_linked(model, source):
    """``(model path, [what to remove after the read])``: ``model`` written to a private
    folder beside a link to ``source``'s caffemodel; None where no folder or link can be
    made."""
    folder = _private_file("", folder=True)
    if folder is None:
        return None
    model_path = os.path.join(folder, "model.onnx")
    link = os.path.join(folder, source.LINK)
    made = [link, model_path, folder]
    try:
        os.symlink(os.path.abspath(source.path), link)
        with open(model_path, "wb") as f:
            f.writelines(_chunks(model))
    except OSError:
        _remove(made)
        return None
    return model_path, made


def _read_and_remove(read, path, made):
    """``read(path)``; the files and folder ``made`` are removed after it, whatever it
    gives."""
    try:
        return read(path)
    finally:
        _remove(made)


def _in_memory(chunks):
    """``(path, [fd])`` of a file in memory holding ``chunks``, or None."""
    make = getattr(os, "memfd_create", None)
    if make is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        fd = make("caffe_compat-model.onnx")
    except OSError:
        return None
    try:
        with os.fdopen(os.dup(fd), "wb") as f:
            f.writelines(chunks)
    except OSError:
        os.close(fd)
        return None
    return f"/proc/self/fd/{fd}", [fd]


def _held_in_memory(written):
    """Whether ``written`` (:func:`_write_model`'s) is a file in memory."""
    return any(isinstance(made, int) for made in written[1])


def _remove(made):
    """Remove the files and folders ``made`` (paths), close its file descriptors (ints)."""
    for path in made:
        try:
            if isinstance(path, int):
                os.close(path)
            elif os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)
            else:
                os.unlink(path)
        except OSError:
            pass


class _OpenCVStart:
    """OpenCV's reader started on a thread whose only work is the reader's own call (which
    runs without the GIL): the model's file, and the link to the caffemodel, are written by
    the caller before the thread starts, so that the thread never waits for the GIL while
    the caller runs Python (a thread needing the GIL back waits up to the interpreter's
    switch interval, 5 ms, each time). :meth:`result` gives the session: where OpenCV
    refused the external data or the file in memory, or the caffemodel changed meanwhile, the
    whole model read then (from a temporary file where the file in memory was refused)."""

    def __init__(self, model, inputs, outputs, linked, classic=False):
        import cv2

        from .early import EarlyCall
        self._model, self._inputs, self._outputs = model, inputs, outputs
        self._classic = classic
        self._source, self._in_memory = None, False
        written = _write_linked(*linked) if linked is not None else None
        if written is not None:
            self._source = linked[1]
        else:
            written = _write_model(_pieces(model))
            self._in_memory = written is not None and _held_in_memory(written)
        if written is None:
            self._call = EarlyCall(_read_onnx, cv2, _pieces(model), classic,
                                   name="caffe_compat-session")
        else:
            self._call = EarlyCall(_read_and_remove, _opencv_reader(cv2, classic), *written,
                                   name="caffe_compat-session")

    def result(self):
        import cv2
        refused = False
        try:
            net = self._call.result()
        except cv2.error:
            if self._source is None and not self._in_memory:
                raise
            net, refused = None, self._in_memory
        if net is not None and self._source is not None:
            net = _unchanged(net, self._source)
        if net is None:     # refused external data or file in memory, a changed file, a fork
            net = _read_onnx(cv2, _pieces(self._model), self._classic, in_memory=not refused)
        return _opencv_forward(net, self._inputs, self._outputs, self._classic)


def _private_file(suffix, folder=False):
    """A new, empty file (``folder``: folder) only this user reads (its path), in the first
    temporary folder of ``$TMPDIR``, ``$TEMP``, ``$TMP``, /tmp, /var/tmp that takes it; None
    where none does. (``tempfile`` costs a process that has not imported it a few
    milliseconds more.)"""
    import itertools
    import threading
    places = [os.environ.get(k) for k in ("TMPDIR", "TEMP", "TMP")] + ["/tmp", "/var/tmp"]
    stem = f"caffe_compat-{os.getpid()}-{threading.get_ident()}-"
    for place in filter(None, places):
        for k in itertools.count():
            path = os.path.join(place, f"{stem}{k}{suffix}")
            try:
                if folder:
                    os.mkdir(path, 0o700)
                else:
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                return path
            except FileExistsError:
                continue
            except OSError:
                break
    return None


_OV_CORE = []


def _openvino(model, inputs, outputs, external, linked=None):
    return openvino_session(model, inputs, outputs)


def openvino_session(model, inputs, outputs, hint="f32", threads=None, shapes=None):
    """OpenVINO's CPU plugin on the model (its bytes or :class:`~.onnx_wire.Pieces`, read
    with ``Core.read_model``), compiled for the plan's static input shapes (``shapes``,
    ``{input: shape}``, where the model's are free: the engines' export) with the thread count
    of the policy (or ``threads``), the LATENCY hint, one stream, the
    ``INFERENCE_PRECISION_HINT`` ``hint`` (f32; bf16 / f16 for reduced precision; None:
    OpenVINO's own, as for an int8 QDQ model); ``ENABLE_CPU_PINNING`` is OpenVINO's own default
    (no difference either way: benchmarks/bench_engine_threads.py). One infer request,
    one call at a time; outputs are copied out of its buffers (the next call overwrites them)."""
    import threading

    import openvino as ov
    if not _OV_CORE:
        _OV_CORE.append(ov.Core())
    core = _OV_CORE[0]
    model = b"".join(_chunks(_pieces(model)))
    config = {"INFERENCE_NUM_THREADS": threads or _threads(), "PERFORMANCE_HINT": "LATENCY",
              "NUM_STREAMS": 1}
    if hint is not None:
        config["INFERENCE_PRECISION_HINT"] = hint
    graph = core.read_model(model=model)
    if shapes:
        graph.reshape({n: ov.PartialShape(list(s)) for n, s in shapes.items()})
    compiled = core.compile_model(graph, "CPU", config)
    by_name = {}
    for port in compiled.outputs:
        for n in port.get_names():
            by_name.setdefault(n, port)
    ports = [by_name[o] for o in outputs]
    # an input no output depends on is not among the compiled model's (a Crop's reference)
    read = {n for port in compiled.inputs for n in port.get_names()}
    inputs = [n for n in inputs if n in read] if inputs is not None else \
        [port.get_any_name() for port in compiled.inputs]
    infer = compiled.create_infer_request().infer
    lock = threading.Lock()

    def forward(feed):
        with lock:
            got = infer({n: feed[n] for n in inputs}, share_inputs=True)
            return [np.array(got[p]) for p in ports]

    forward.runtime = "openvino"
    forward.session = compiled
    return forward


_RUNTIMES = {"onnxruntime": _onnxruntime, "opencv": _opencv, "openvino": _openvino,
             CLASSIC: lambda *args: _opencv(*args, classic=True)}
# a net of at most this many bytes of weights runs on OpenCV 5's reader where the process has
# imported OpenCV 5 already: onnxruntime's import and session cost such a net more than its
# forward saves (figures: docs/engines.md, "Figures behind the constants")
SMALL_NET_BYTES = 32 << 20


# what `caffe-compat inspect --engines` suggests for a runtime that is not installed
PIP = {"onnxruntime": 'pip install "onnxruntime>=1.17"',
       "openvino": 'pip install "openvino>=2024.0"  (or pip install -e ".[openvino]")'}


def installed(name):
    """Whether runtime ``name`` (or ``torch``, the engines' reference) is installed here, its
    package looked for, not imported; "opencv": OpenCV 5's reader (what the tests check;
    OpenCV 4's refuses some of the graphs)."""
    if name not in ("opencv", CLASSIC):
        import importlib.util
        return importlib.util.find_spec(name) is not None
    try:
        import cv2
    except ImportError:
        return False
    return _opencv5(cv2)


def version(name):
    """Runtime ``name``'s library version (what stored verdicts and winners are keyed by);
    None where it does not import (its sessions then fail: the runtime is left out)."""
    import importlib
    try:
        return importlib.import_module("cv2" if name in ("opencv", CLASSIC) else name).__version__
    except ImportError:
        return None


def available():
    """The runtimes installed here, in order of preference (:func:`choose` takes the first;
    the trial of :mod:`.choice` tries them all; OpenVINO last: its import and compilation
    cost the most). Each call searches the package folders: :mod:`.choice` asks only when a
    trial starts."""
    return [n for n in ("onnxruntime", "opencv", "openvino") if installed(n)]


def _opencv5(cv2):
    """Whether module ``cv2`` is OpenCV 5 with its ONNX reader."""
    try:
        return int(cv2.__version__.split(".")[0]) >= 5 and hasattr(cv2.dnn, "readNetFromONNX")
    except (AttributeError, ValueError):
        return False


def _opencv5_imported():
    """Whether the process has imported OpenCV 5 already (a cv2.dnn program after
    ``caffe_compat.dnn.install()``): its reader then costs no import."""
    return _opencv5(sys.modules.get("cv2"))


def choose(weight_bytes=None):
    """The runtime to use: ``$CAFFE_COMPAT_TORCH_FREE_RUNTIME`` if set; else OpenCV 5's reader
    for a net of at most :data:`SMALL_NET_BYTES` of weights (``weight_bytes``) where the
    process has imported OpenCV 5 already; else the first installed of onnxruntime and
    OpenCV's reader."""
    wanted = os.environ.get(ENV_RUNTIME, "").strip().lower()
    small = weight_bytes is not None and weight_bytes <= SMALL_NET_BYTES
    if not wanted and small and _opencv5_imported():
        return "opencv"        # (without looking for onnxruntime: its search costs a ms)
    found = available()
    if wanted:
        if wanted not in _RUNTIMES or wanted == CLASSIC:
            names = sorted(set(_RUNTIMES) - {CLASSIC})
            raise ValueError(f"{ENV_RUNTIME}={wanted!r}: expected one of {names}")
        if wanted not in found:
            raise Unsupported(f"{ENV_RUNTIME}={wanted}: not installed")
        found = [wanted]
    if not found:
        raise Unsupported("neither onnxruntime nor OpenCV 5's ONNX reader is installed")
    return found[0]


def reads_apart(name):
    """Whether runtime ``name`` reads a model without the GIL, so that a model read on a
    thread overlaps Python writing the next (OpenCV's reader)."""
    return name in ("opencv", CLASSIC)


def takes_external(name):
    """Whether runtime ``name`` takes large weights apart from the model's bytes."""
    return name == "onnxruntime"


def tuned_session(name, model, inputs, outputs, threads=None, shapes=None):
    """Runtime ``name``'s session of ``model`` (its weights within it) with the settings for a
    net that keeps running (:mod:`.choice`; the engines' sessions of their export too):
    onnxruntime's ``tuned`` settings; the others' own. ``threads``: the count (default: the
    policy's); ``shapes``: OpenVINO's static input shapes where the model's are free."""
    if name == "onnxruntime":
        return _onnxruntime(model, inputs, outputs, {}, tuned=True, threads=threads)
    if name == "openvino":
        return openvino_session(model, inputs, outputs, threads=threads, shapes=shapes)
    return session(name, model, inputs, outputs)


def session(name, model, inputs, outputs, external=None, linked=None):
    """A callable ``feed -> [arrays]`` running ``model`` (ONNX bytes or
    :class:`~.onnx_wire.Pieces`, or a callable giving them when the model is needed) on
    runtime ``name``, with graph inputs ``inputs``, outputs ``outputs`` (names, in order;
    onnxruntime: None for all, its ``forward.session`` naming them) and the weights
    ``external`` ({name: array}) given apart; ``linked``: the model referring to its
    caffemodel file, which OpenCV's reader takes where it can (``Part.linked``)."""
    return _RUNTIMES[name](model, inputs, outputs, external or {}, linked)


def start(name, model, inputs, outputs, external=None, linked=None):
    """:func:`session`'s work started now on a thread of its own (:mod:`.early`): an object
    whose ``result()`` gives the session, or raises its error, when the first forward needs
    it (OpenCV's reader: :class:`_OpenCVStart`)."""
    if name in ("opencv", CLASSIC):
        return _OpenCVStart(model, inputs, outputs, linked, name == CLASSIC)
    from .early import EarlyCall
    return EarlyCall(session, name, model, inputs, outputs, external, linked,
                     name="caffe_compat-session")
