"""A clip's class from its frames, the seed's three ways: mean, mode, CNN-LSTM.

- ``mean``: the class with the highest mean probability over the kept frames;
- ``mode``: the most frequent per-frame class (argmax of each frame's probabilities); a tie
  goes to the tied class with the highest mean probability;
- ``lstm``: the CNN-LSTM (``prototxt/emotion_lstm_*``) over the kept frames' ``fc4``
  features, brought to T = 30 steps as the seed does for short clips, by repeating frames
  (:func:`to_steps`: step t shows kept frame ``floor(t * n / T)``, so a 4-frame clip shows
  each frame 7 or 8 times); the clip's class is the argmax of the mean of the steps'
  probabilities (Caffe's per-step softmax, averaged over the clip as in LRCN).
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import ReproductionError
from ..temporal import write_time_major

__all__ = ["mean_class", "mode_class", "to_steps", "write_sequences", "lstm_net",
           "lstm_classes", "T"]

T = 30


def mean_class(probs):
    return int(np.argmax(np.asarray(probs, np.float64).mean(axis=0)))


def mode_class(probs):
    p = np.asarray(probs, np.float64)
    votes = np.bincount(p.argmax(axis=1), minlength=p.shape[1])
    tied = np.flatnonzero(votes == votes.max())
    return int(tied[np.argmax(p.mean(axis=0)[tied])])


def to_steps(feats, steps=T):
    """n x D -> steps x D by repeating frames (module doc)."""
    f = np.asarray(feats, np.float32)
    if not len(f):
        raise ReproductionError("a clip with no kept frame")
    return f[(np.arange(steps) * len(f)) // steps]


def write_sequences(path, seqs, labels, streams, seed=0):
    """Write clips' step sequences (each T x D) and labels to ``path`` in the time-major
    layout of ``emotion_lstm_train_val`` (:func:`reproduction.temporal.write_time_major`: the
    clip's class at every step); returns its list file."""
    if not len(seqs):
        raise ReproductionError(f"{path}: no training sequence")
    return write_time_major(path, seqs, labels, streams, seed)


def lstm_net(deploy, weights, dim, hidden, streams, device="cpu"):
    """The deployed CNN-LSTM for T x ``streams`` inputs of ``dim`` features."""
    from caffe_compat import Net
    from caffe_compat.io.prototxt import read_net
    param = read_net(os.fspath(deploy))
    for lp in param.layer:
        if lp.type == "Input":
            lp.input_param.shape[0].dim[:] = [T, int(streams), int(dim)]
            lp.input_param.shape[1].dim[:] = [T, int(streams)]
        if lp.type == "LSTM":
            lp.recurrent_param.num_output = int(hidden)
    return Net(param, weights, phase="test").to(device)


def lstm_classes(net, seqs, streams):
    """The class of each clip (its T x D steps) with the deployed CNN-LSTM; returns
    ``(classes, mean probabilities N x K)``."""
    import torch
    seqs = np.asarray(seqs, np.float32)
    n = len(seqs)
    out = []
    with torch.no_grad():
        for a in range(0, n, streams):
            block = seqs[a:a + streams]
            m = len(block)
            if m < streams:
                block = np.concatenate([block, np.repeat(block[-1:], streams - m, axis=0)])
            feat = torch.from_numpy(np.ascontiguousarray(block.transpose(1, 0, 2)))
            cont = torch.ones((T, streams), dtype=torch.float32)
            cont[0] = 0.0
            prob = net.forward(feat=feat, cont=cont)["prob"].detach().cpu().numpy()
            out.append(prob.mean(axis=0)[:m])
    probs = np.concatenate(out)
    return probs.argmax(axis=1), probs
