"""Valence of every frame of a face-crop video with a CNN+D net (the evaluation's forward).

The crops are MATLAB-oriented 96 x 96 x N arrays; as run_eval.m hands ``video(:,:,n)`` to
matcaffe, which reads MATLAB's first dimension as width, every frame is fed transposed
(:func:`matlab_ports.run_eval.video_to_blob`). Used by the pipeline's evaluation steps and by
the rate-distortion study, which both sit above this module.
"""
from __future__ import annotations

import numpy as np


def predict_frames(net, video, batch=128):
    """Valence of every frame of 96x96xN crops (MATLAB orientation, fed transposed as matcaffe
    does) with a test-phase CNN+D ``net`` on whatever device it lives on; float64 (N,)."""
    import torch

    from matlab_ports.run_eval import video_to_blob
    v = np.asarray(video, dtype=np.float32)
    if v.ndim == 2:
        v = v[:, :, None]
    n = v.shape[2]
    out = np.empty(n, np.float64)
    name = "fc5" if "fc5" in net.outputs else net.outputs[0]
    with torch.no_grad():
        for a in range(0, n, batch):
            b = min(n, a + batch)
            x = torch.from_numpy(video_to_blob(v[:, :, a:b]))
            y = net.forward(data=x)[name]
            out[a:b] = y.reshape(b - a, -1)[:, 0].double().cpu().numpy()
    return out
