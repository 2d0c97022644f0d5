"""The CNN+D at reduced precision for the evaluation (``run_eval``) and the prediction
(``reproduction.predict``): ``--precision int8`` or ``--precision bfloat16`` (cv2.dnn's
``DNN_TARGET_CPU_FP16``: OpenVINO's bf16 where the processor has it, else float32, which the
result's ``precision`` then says; no calibration); with ``--device cuda``, ``float16`` or
``bfloat16`` under autocast on the CUDA device (:func:`caffe_compat.reduced_precision`), and
float32 there.

:func:`reduced_net` wraps a float32 CNN+D (:class:`caffe_compat.Net`) in
:class:`ReducedNet`, which answers the calls those commands make of a net (``forward(data=...,
keep_blobs=False)`` returning torch tensors of the outputs, ``outputs``, ``blob_shape``,
``name``, ``source``) from :func:`caffe_compat.reduced_precision`'s int8 runner (onnxruntime's
integer kernels on the net's ONNX model; how, in caffe_compat.onnx_path.quantize).

The calibration: :data:`CALIBRATION_FRAMES` frames evenly spaced over the faces given (for
the evaluation: over every sequence evaluated, or the crops files of ``--calibration``; for the
prediction: the video's first faces), fed as the forward feeds them (transposed,
:func:`matlab_ports.run_eval.video_to_blob`); the ranges of every tensor are their minimum and
maximum over those frames (OpenCV 4's ``Net.quantize`` rule). Frames spread over all the data
matter: the demo's trained CNN+D calibrated on 64 frames of one dev sequence lost 0.0106 of
CCC on the sample's dev set (a face of the other sequence beyond the ranges, clipped: 0.25 off
in valence), on 256 frames of the three training sequences 0.0005. Float32 is the default
everywhere; features (``--save-feature``'s fc4) are float32 only.
"""
from __future__ import annotations

import numpy as np

from caffe_compat.inference.precision_runner import precision_problem

from .errors import PortError

CALIBRATION_FRAMES = 256


def calibration_frames(video, count=CALIBRATION_FRAMES):
    """``count`` frames (or all, when fewer) evenly spaced over ``video`` (H x W x N, MATLAB
    orientation), as H x W x n (the caller makes the net's blob of them, transposed:
    :func:`matlab_ports.run_eval.video_to_blob`)."""
    v = np.asarray(video, np.float32)
    if v.ndim == 2:
        v = v[:, :, None]
    n = v.shape[2]
    picks = np.unique(np.linspace(0, n - 1, min(count, n)).round().astype(int))
    return v[:, :, picks]


def calibration_from_files(paths, load, count=CALIBRATION_FRAMES):
    """The calibration frames (H x W x n) of crops files ``paths`` (``<seq>.mat``, read by
    ``load``: :func:`matlab_ports.run_eval.load_crops`): ``count`` frames in all, evenly
    spaced over each file in turn (read one at a time)."""
    if not paths:
        raise PortError("calibration: no crops file given")
    share = max(1, -(-int(count) // len(paths)))
    return np.concatenate([calibration_frames(load(p).video, share) for p in paths], axis=2)


class ReducedNet:
    """A CNN+D's output-only forwards at ``precision`` (module doc)."""

    def __init__(self, net, runner, precision):
        self._runner = runner
        self.name, self.source = net.name, getattr(net, "source", "<net>")
        self.outputs = list(runner.outputs)
        self._shapes = {n: tuple(net.blob_shape(n)) for n in self.outputs + ["data"]}
        self.blobs = {}                         # no intermediate blob (fc4) at int8
        self.engine = precision                 # an engine of its own: one worker per batch
        self.precision = runner.precision
        self.engine_name = f"{runner.engine}"

    def blob_shape(self, name):
        if name not in self._shapes:
            raise PortError(f"net '{self.name}' at {self.precision}: blob '{name}' is not an "
                            f"output ({', '.join(self.outputs)})")
        return self._shapes[name]

    def forward(self, data=None, blobs=None, keep_blobs=False, **_):
        """``{output: torch tensor}`` of the int8 forward of ``data``."""
        import torch
        if blobs:
            raise PortError(f"net '{self.name}' at {self.precision}: only the outputs are "
                            f"computed ({', '.join(self.outputs)}); {list(blobs)} need float32")
        out = self._runner.forward(data=data)
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in out.items()}

    def to(self, device):
        return self


def check_precision(precision, device="cpu"):
    """``precision`` where it can run on ``device``
    (:func:`caffe_compat.inference.precision_runner.precision_problem`'s rule)."""
    problem = precision_problem(precision, device)
    if problem is not None:
        raise PortError(problem)
    return precision


def check_device(device):
    """``device`` when torch can use it: a CUDA device must be there (a job asked for a GPU
    that cannot reach one stops, as Caffe's tools stop)."""
    if device == "cuda":
        import torch
        if not torch.cuda.is_available():
            raise PortError("--device cuda: torch sees no CUDA device on this machine (a CPU "
                            "build of torch, or no usable driver); run without --device")
    return device


def reduced_net(net, precision, calibration, device="cpu"):
    """``net`` itself for float32 on the CPU (on a CUDA device: moved there); else a
    :class:`ReducedNet` (int8: calibrated on ``calibration``, the N x 1 x W x H blob of
    calibration frames, transposed as the forward feeds them; float16 / bfloat16 on a CUDA
    device: the torch forward there under the type's autocast)."""
    check_precision(precision, device)
    if precision == "float32":
        return net if device == "cpu" else net.to(device)
    import caffe_compat
    runner = caffe_compat.reduced_precision(net, precision, calibration, device=device)
    return ReducedNet(net, runner, precision)
