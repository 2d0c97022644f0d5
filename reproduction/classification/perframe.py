"""The per-frame classifier: training faces, its training, and its outputs on every frame.

On the bundled sample the per-frame net (``prototxt/emotion8_small_*``) learns from the
training actors' 720p faces of the part of each clip where the expression is held (35-75 % of
the clip; the seed's per-frame net learnt from FER+'s still faces of full expressions), each
face also mirrored. Faces are fed as ``(v - 128) / 64`` of the 48 x 48 grey crop.
:func:`frame_outputs` gives, for every frame, the class probabilities and the ``fc4``
features the CNN-LSTM reads. The net is registered as the per-frame net ``small``
(:mod:`.perframe_nets`).
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import ReproductionError
from .perframe_nets import PerFrameNet, register

__all__ = ["normalise", "held_frames", "write_training_faces", "frame_outputs", "deploy_net",
           "SMALL"]

HELD = (0.35, 0.75)


def normalise(faces):
    """N x 48 x 48 uint8 -> N x 1 x 48 x 48 float32 ``(v - 128) / 64``."""
    f = np.asarray(faces, np.float32)
    return ((f - 128.0) / 64.0)[:, None]


def held_frames(n):
    """Indices of the frames of an ``n``-frame clip where the expression is held."""
    a, b = int(round(HELD[0] * n)), int(round(HELD[1] * n))
    return np.arange(a, max(b, a + 1))


def write_training_faces(path, faces, labels, seed=0):
    """Write faces (N x 48 x 48 uint8) and labels, with their mirror images, shuffled, to the
    HDF5 file ``path`` (data N x 1 x 48 x 48, label N) and its list file; returns the list."""
    import h5py

    from caffe_compat.io.atomic import atomic_path, write_text_atomic
    faces = np.asarray(faces)
    if not len(faces):
        raise ReproductionError(f"{path}: no training face")
    both = np.concatenate([faces, faces[:, :, ::-1]])
    y = np.concatenate([labels, labels]).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(both))
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h:
            h.create_dataset("data", data=normalise(both[order]))
            h.create_dataset("label", data=y[order])
    listing = path[:-3] + ".txt"
    write_text_atomic(listing, os.path.abspath(path) + "\n")
    return listing


def deploy_net(deploy, weights, device="cpu"):
    from caffe_compat import Net
    return Net(os.fspath(deploy), weights, phase="test").to(device)


def frame_outputs(net, faces, batch=256, inputs=None, feature="fc4"):
    """``(prob N x K float32, features N x D float32)`` of N 48 x 48 grey faces: ``inputs``
    (default :func:`normalise`) makes the net's input of a batch of faces, ``feature`` names
    the blob of features."""
    import torch
    inputs = inputs or normalise
    faces = np.asarray(faces)
    probs, feats = [], []
    with torch.no_grad():
        for a in range(0, len(faces), batch):
            out = net.forward(data=torch.from_numpy(inputs(faces[a:a + batch])))
            probs.append(np.asarray(out["prob"].detach().cpu().numpy(), np.float32))
            f = net.blobs[feature].data
            f = f.detach().cpu().numpy() if hasattr(f, "detach") else np.asarray(f)
            feats.append(np.asarray(f, np.float32).reshape(len(probs[-1]), -1))
    return np.concatenate(probs), np.concatenate(feats)


def _write_small(folder, faces, labels, init):
    return write_training_faces(os.path.join(folder, "train.h5"), faces, labels)


def _train_small(listing, folder, sched, device, progress, init):
    from lq_models import prototxt_path

    from .caffe_training import train
    return train("emotion8_small", str(prototxt_path("emotion8_small_solver.prototxt")),
                 str(prototxt_path("emotion8_small_train_val.prototxt")), listing, folder,
                 sched.frame_iters, sched.frame_batch, device=device, progress=progress)


SMALL = register(PerFrameNet("small", "perframe", "", "emotion8_small_deploy.prototxt", "fc4",
                             256, _write_small, _train_small,
                             lambda faces, init: normalise(faces)))
