"""run_eval.m as a step: a caffemodel and its deploy net, per-frame predictions of the dev
crops, RMSE/CC/CCC against the gold standard."""
from __future__ import annotations

import os
import time

import numpy as np

from .frames import predict_frames


def load_model(weights, deploy, device="cpu"):
    from lq_models import load_net
    net = load_net(weights, model=deploy, input_size=(96, 96))
    return net.to(device)


def evaluate(weights, deploy, crops_dir, sequences, out_dir, device="cpu", batch=128,
             progress=True):
    """run_eval.m on ``crops_dir``: predictions, metrics and figures under ``out_dir`` (as
    :func:`matlab_ports.run_eval.run_eval` writes them); returns the metrics of the
    concatenation."""
    from tqdm import tqdm

    from matlab_ports import run_eval as RE
    net = load_model(weights, deploy, device)
    results = []
    t0 = time.perf_counter()
    for name in tqdm(sequences, desc="evaluate", unit="seq", disable=not progress,
                     leave=False):
        crops = RE.load_crops(os.path.join(crops_dir, name + ".mat"))
        pred = predict_frames(net, crops.video, batch)
        results.append(RE.SequenceResult(name, crops.valence, pred, crops.video_time,
                                         RE.all_metrics(crops.valence, pred)))
    gt = np.concatenate([s.ground_truth for s in results])
    pred = np.concatenate([s.prediction for s in results])
    seconds = time.perf_counter() - t0
    res = RE.EvalResults(results, RE.all_metrics(gt, pred), seconds=seconds,
                         model=os.fspath(deploy), weights=os.fspath(weights))
    run_info = dict(model=res.model, weights=res.weights, crops=os.path.abspath(crops_dir),
                    device=str(device), frames=int(gt.size), seconds=seconds,
                    orientation="each MATLAB frame video(:,:,n) is fed transposed, as "
                                "matcaffe does")
    RE._write_outputs(res, out_dir, run_info)
    return {k: (None if v is None or not np.isfinite(v) else float(v))
            for k, v in res.total.items()}, int(gt.size)


def conv_weight_std(weights):
    """``{layer: std of its weights}`` of a caffemodel's convolutions (how far the SR-FCN
    moved from its fillers)."""
    from caffe_compat.io import caffemodel as cm
    net = cm.read_caffemodel(weights)
    out = {}
    for layer in net.layer:
        if layer.type == "Convolution" and len(layer.blobs):
            out[layer.name] = float(np.std(np.asarray(layer.blobs[0].data, np.float64)))
    return out
