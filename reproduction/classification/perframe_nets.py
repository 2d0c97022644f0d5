"""The per-frame nets the protocol can use, registered by name: each says how it is trained,
which deploy definition runs it, how a 48 x 48 grey face becomes its input and which blob the
CNN-LSTM reads as the frame's features.

- ``small`` (:mod:`.perframe`): the bundled sample's net, trained from scratch;
- ``resnet50`` (:mod:`.perframe_resnet`): ResNet-50 fine-tuned on FER+ from a published
  caffemodel, as the seed's per-frame net.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import ReproductionError

__all__ = ["PerFrameNet", "register", "get", "names"]

_NETS = {}


@dataclass(frozen=True)
class PerFrameNet:
    """``folder``: its work folder under ``OUT/work``, ``tag``: the suffix of its outputs file
    and CNN-LSTM folder (so two nets never share outputs);
    ``deploy``: its deploy prototxt in ``prototxt/``; ``feature``: the blob of frame features;
    ``batch``: faces per forward pass; ``write_training(folder, faces, labels, init)`` writes
    its training data and returns the list file; ``train(listing, folder, sched, device,
    progress, init)`` returns :func:`.caffe_training.train`'s dict; ``inputs(faces, init)``
    gives the N x C x H x W float32 input of N faces. ``init`` is the run's starting point
    (None for a net trained from scratch)."""
    name: str
    folder: str
    tag: str
    deploy: str
    feature: str
    batch: int
    write_training: Callable
    train: Callable
    inputs: Callable


def register(net):
    """Add ``net`` under its name; returns it."""
    _NETS[net.name] = net
    return net


def get(name):
    """The registered net ``name``; ReproductionError listing the names."""
    try:
        return _NETS[name]
    except KeyError:
        raise ReproductionError(f"unknown per-frame net {name!r} (known: "
                                f"{', '.join(sorted(_NETS))})") from None


def names():
    return sorted(_NETS)
