"""Time: dropped frames, held predictions, and temporal models over per-frame CNN+D features.

A receiver that gets every ``r``-th frame of a 25 fps video (frame-rate divisor ``r``: 25,
12.5, 4.2 fps for r = 1, 2, 6) predicts on the frames it receives and holds each prediction
until the next one arrives (:func:`received`, :func:`hold`), so every metric is still computed
on the gold standard's full time grid.

Temporal models over the received frames, all from one trained CNN+D (the *base* model):

* ``mean`` / ``median`` (:func:`window_aggregate`): the seed's aggregation of per-frame
  predictions (mean or mode of a clip's classes) adapted to regression: at each received frame,
  the mean or median of the per-frame valence predictions of the received frames within a
  centred window of ``window`` frames of the original time grid (the frame itself included);
* ``lstm``: the CNN-LSTM of ``prototxt/cnn_lstm_*.prototxt`` (Caffe's LSTM over the 300-d
  ``fc4`` features, two dense layers), trained on T-step windows of received frames
  (:func:`windows`, :func:`write_sequences`) and run over a whole received sequence in
  consecutive T-step chunks, the hidden state carried between chunks (:func:`lstm_predict`).
  As the seed does for short clips, a window or last chunk shorter than T repeats its last
  frame.
"""
from __future__ import annotations

import os

import numpy as np

from .errors import ReproductionError

__all__ = ["FPS", "received", "hold", "window_aggregate", "features_and_predictions",
           "windows", "write_sequences", "lstm_predict", "AGGREGATIONS"]

FPS = 25.0
AGGREGATIONS = {"mean": np.mean, "median": np.median}


def received(n, divisor):
    """Indices of the frames a receiver gets at frame-rate divisor ``divisor``: 0, r, 2r..."""
    if isinstance(divisor, bool) or not isinstance(divisor, (int, np.integer)) or divisor < 1:
        raise ReproductionError(f"frame-rate divisor: expected a positive integer, got "
                                f"{divisor!r}")
    return np.arange(0, int(n), int(divisor))


def hold(values, idx, n):
    """The full-grid series of ``values`` known at frames ``idx`` (sorted, starting at 0):
    frame t gets the value of the last received frame at or before t (sample and hold)."""
    idx = np.asarray(idx)
    values = np.asarray(values, np.float64)
    if idx.size != values.size or idx.size == 0 or idx[0] != 0:
        raise ReproductionError(f"hold: {values.size} values for {idx.size} received frames "
                                "(expected one per received frame, the first at frame 0)")
    k = np.searchsorted(idx, np.arange(int(n)), side="right") - 1
    return values[k]


def window_aggregate(pred, idx, window, how="mean"):
    """At each received frame ``idx[k]``, ``how`` ('mean' or 'median') of ``pred`` over the
    received frames within ``window`` frames centred on it (``|idx[j] - idx[k]| <=
    window // 2``)."""
    fn = AGGREGATIONS.get(how)
    if fn is None:
        raise ReproductionError(f"aggregation {how!r}: expected one of "
                                f"{', '.join(AGGREGATIONS)}")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ReproductionError(f"window: expected a positive number of frames, got "
                                f"{window!r}")
    idx = np.asarray(idx)
    pred = np.asarray(pred, np.float64)
    half = int(window) // 2
    lo = np.searchsorted(idx, idx - half, side="left")
    hi = np.searchsorted(idx, idx + half, side="right")
    return np.array([fn(pred[a:b]) for a, b in zip(lo, hi)], np.float64)


def features_and_predictions(net, video, batch=128):
    """``(fc4, valence)`` of every frame of 96x96xN crops (fed transposed, as matcaffe does):
    the 300-d ``fc4`` features after ReLU (float32, N x 300; dropout is the identity at test)
    and the ``fc5`` output (float64, N)."""
    import torch

    from matlab_ports.run_eval import video_to_blob
    v = np.asarray(video, dtype=np.float32)
    if v.ndim == 2:
        v = v[:, :, None]
    n = v.shape[2]
    name = "fc5" if "fc5" in net.outputs else net.outputs[0]
    if "fc4" not in net.blobs:
        raise ReproductionError("the base model has no fc4 blob (expected a CNN+D net)")
    feats, pred = None, np.empty(n, np.float64)
    with torch.no_grad():
        for a in range(0, n, batch):
            b = min(n, a + batch)
            y = net.forward(data=torch.from_numpy(video_to_blob(v[:, :, a:b])))[name]
            f = np.asarray(_numpy(net.blobs["fc4"].data), np.float32).reshape(b - a, -1)
            if feats is None:
                feats = np.empty((n, f.shape[1]), np.float32)
            feats[a:b] = f
            pred[a:b] = y.reshape(b - a, -1)[:, 0].double().cpu().numpy()
    return feats, pred


def _numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def windows(feats, labels, idx, T, stride):
    """T-step training windows of the received frames ``idx`` of one sequence: a list of
    ``(features T x D, labels T)``; starts every ``stride`` received frames; a sequence with
    fewer than T received frames gives one window padded by repeating its last frame."""
    f = np.asarray(feats, np.float32)[idx]
    y = np.asarray(labels, np.float32)[idx]
    out = []
    starts = range(0, max(1, len(idx) - T + 1), max(1, int(stride)))
    for a in starts:
        take = np.minimum(np.arange(a, a + T), len(idx) - 1)
        out.append((f[take], y[take]))
    return out


def write_sequences(wins, path, streams, seed=0):
    """Write ``wins`` (:func:`windows`) to the HDF5 file ``path`` in the time-major layout of
    ``cnn_lstm_train_val.prototxt`` (:func:`write_time_major`, ``label`` rows x streams x 1);
    returns the list file."""
    if not wins:
        raise ReproductionError(f"{path}: no training window (too few frames)")
    return write_time_major(path, [w[0] for w in wins],
                            [np.asarray(w[1], np.float32).reshape(-1, 1) for w in wins],
                            streams, seed)


def write_time_major(path, seqs, labels, streams, seed=0):
    """Write step sequences (each T x D) and their labels (per step, or one per sequence) to
    the HDF5 file ``path`` in the time-major layout of Caffe's LSTM layer: the sequences,
    shuffled by a seeded draw, are laid out in blocks of ``streams`` side by side (the last
    block topped up with sequences drawn again); every row is one time step: ``feat`` (rows x
    streams x D), ``cont`` (rows x streams; 0 at each sequence's first step), ``label`` (rows x
    streams, and the labels' own trailing axes). Written atomically, with its list file
    ``path[:-3] + '.txt'``; returns the list file."""
    import h5py

    from caffe_compat.io.atomic import atomic_path, write_text_atomic
    rng = np.random.default_rng(seed)
    order = list(rng.permutation(len(seqs)))
    while len(order) % streams:
        order.append(int(rng.integers(len(seqs))))
    T, D = seqs[0].shape
    blocks = len(order) // streams
    tail = np.shape(labels[0])[1:]
    feat = np.empty((blocks * T, streams, D), np.float32)
    cont = np.ones((blocks * T, streams), np.float32)
    label = np.empty((blocks * T, streams) + tail, np.float32)
    for k, w in enumerate(order):
        b, s = divmod(k, streams)
        feat[b * T:(b + 1) * T, s] = seqs[w]
        label[b * T:(b + 1) * T, s] = labels[w]
        cont[b * T, s] = 0.0
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h:
            h.create_dataset("feat", data=feat)
            h.create_dataset("cont", data=cont)
            h.create_dataset("label", data=label)
    listing = path[:-3] + ".txt"
    write_text_atomic(listing, os.path.abspath(path) + "\n")
    return listing


def lstm_net(deploy, weights, T, hidden=None, device="cpu"):
    """The deployed CNN-LSTM for chunks of ``T`` steps of one stream (``hidden``: the LSTM's
    num_output when a run trained another size than the file's)."""
    from caffe_compat import Net
    from caffe_compat.io.prototxt import read_net
    param = read_net(os.fspath(deploy))
    for lp in param.layer:
        if lp.type == "Input":
            for shape in lp.input_param.shape:
                shape.dim[0] = int(T)
        if lp.type == "LSTM" and hidden:
            lp.recurrent_param.num_output = int(hidden)
    return Net(param, weights, phase="test").to(device)


def lstm_predict(net, feats, T):
    """Valence of every step of one received sequence ``feats`` (n x D) with the deployed
    CNN-LSTM ``net`` (set up for T x 1 inputs): consecutive T-step chunks, cont = 0 only at
    the sequence's first step, the hidden state carried between chunks (Caffe's rule); the
    last chunk is padded by repeating the last frame. float64 (n,)."""
    import torch
    f = np.asarray(feats, np.float32)
    n = f.shape[0]
    lstm = [m for m in net.modules() if getattr(m, "type_name", "") == "LSTM"]
    for m in lstm:
        m.reset()
    out = np.empty(n, np.float64)
    with torch.no_grad():
        for a in range(0, n, T):
            take = np.minimum(np.arange(a, a + T), n - 1)
            x = torch.from_numpy(np.ascontiguousarray(f[take][:, None, :]))
            cont = torch.ones((T, 1), dtype=torch.float32)
            if a == 0:
                cont[0, 0] = 0.0
            y = net.forward(feat=x, cont=cont)["pred"].reshape(T).double().cpu().numpy()
            m = min(T, n - a)
            out[a:a + m] = y[:m]
    return out
