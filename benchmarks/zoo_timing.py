"""Timing and comparison shared by the public-zoo benchmarks (bench_zoo.py, bench_dnn.py).

Each engine runs as its library ships it: torch's OpenMP threads and OpenCV's thread pool
both spin for a short while after a parallel region before they sleep, so that the next
region starts without a wake-up (at batch 1, where a forward is many short regions, that is
most of the difference: ``OMP_WAIT_POLICY=PASSIVE`` measured MobileNet v2 25 ms a forward
here against 17 ms by default). Two engines called in strict turn would each start while the
other's threads still spin on the same cores, so the engines run in blocks: a pause long
enough for the other's threads to sleep, one untimed call, then ``block`` timed calls; blocks
alternate (A, B, A, B, ...) so that load from other processes affects both alike.
``OMP_WAIT_POLICY=PASSIVE`` in the environment (on a machine shared with busy processes,
where spinning threads take the cores from working ones) is honoured and printed.
"""
from __future__ import annotations

import statistics
import time

import numpy as np


# libgomp's default spin (300,000 polls) and OpenCV's end well within 20 ms; onnxruntime's
# spinning threads (its sessions' default, and ours after the runtime trial) keep polling for
# 20 to 40 ms after a call: measured (2-core AMD EPYC, SqueezeNet at batch 1), an OpenVINO int8
# forward right after an onnxruntime block took 1.25 ms with a 20 ms pause, 0.73-0.75 ms with
# 40 or 60 ms, as alone
PAUSE_S = 0.05


def rounds(runs, seconds, block=5, min_blocks=3):
    """``({name: median seconds of a call}, {name: [seconds of every timed call]})`` for the
    callables in ``runs``, timed in alternating blocks."""
    times = {k: [] for k in runs}
    end = time.perf_counter() + seconds
    done = 0
    while time.perf_counter() < end or done < min_blocks:
        for k, f in runs.items():
            time.sleep(PAUSE_S)
            f()
            for _ in range(block):
                t = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t)
        done += 1
    return {k: statistics.median(v) for k, v in times.items()}, times


def _detections_in_order(d):
    """DetectionOutput's rows ``[image, label, confidence, x1, y1, x2, y2]`` sorted by image,
    label and box: detections whose confidences tie within float32 rounding may come in either
    order from two engines (the same set of boxes)."""
    rows = d.reshape(-1, 7)
    order = np.lexsort((rows[:, 6], rows[:, 5], rows[:, 4], rows[:, 3], rows[:, 1], rows[:, 0]))
    return rows[order]


def relative_diff(a, b, detections=False):
    """The largest ``|a - b|`` relative to ``b``'s scale (``caffe-compat verify``'s measure);
    for DetectionOutput (``detections``), over the detections in the same order."""
    if detections and a.shape == b.shape and a.shape[-1] == 7:
        a, b = _detections_in_order(a), _detections_in_order(b)
    from caffe_compat.verify.checks import scaled_error
    return scaled_error(a, b)


def raw_sessions(path, threads, shape, input_name="data", output=None, ort_spinning=True,
                 ov_pinning=None):
    """``{"onnxruntime": f, "openvino": f}``: each engine's own session on the ONNX file at
    ``path``, created directly with its library (not through caffe_compat.inference.engines), with the
    best settings measured for one forward at a time: onnxruntime with ``threads`` intra-op
    threads, one inter-op thread, sequential execution, all graph optimisations (spinning as
    ``ort_spinning``); OpenVINO compiled for the static input ``shape`` with
    ``INFERENCE_NUM_THREADS`` = ``threads``, the LATENCY hint, one stream, f32 precision
    (``ENABLE_CPU_PINNING`` = ``ov_pinning``; None: OpenVINO's default).
    ``f(x)`` returns the first output (or ``output``). Engines not installed are left out."""
    out = {}
    try:
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning",
                                         "1" if ort_spinning else "0")
        sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        names = [output or sess.get_outputs()[0].name]
        out["onnxruntime"] = lambda x, run=sess.run: run(names, {input_name: x})[0]
    except ImportError:
        pass
    try:
        import openvino as ov
        core = ov.Core()
        model = core.read_model(str(path))
        model.reshape({input_name: ov.PartialShape(list(shape))})
        config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
                  "NUM_STREAMS": 1, "INFERENCE_PRECISION_HINT": "f32"}
        if ov_pinning is not None:
            config["ENABLE_CPU_PINNING"] = bool(ov_pinning)
        compiled = core.compile_model(model, "CPU", config)
        request = compiled.create_infer_request()
        port = compiled.output(output) if output else compiled.outputs[0]
        out["openvino"] = lambda x, infer=request.infer: np.array(
            infer({input_name: x}, share_inputs=True)[port])
    except ImportError:
        pass
    return out
