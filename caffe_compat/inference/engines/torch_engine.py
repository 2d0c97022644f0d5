"""The torch reference: our own :class:`~caffe_compat.Net` forward (the inference fast path of
:mod:`caffe_compat.inference.fast_inference`, or Caffe's summation order under ``--caffe-order``). Every
other engine is checked against it before it is trusted, and it runs whatever they cannot."""
from __future__ import annotations

import torch

from .registry import register_engine


@register_engine("torch")
class TorchEngine:
    needs_export = False

    @staticmethod
    def installed():
        return True

    @staticmethod
    def version():
        return torch.__version__

    @staticmethod
    def session(net, outputs, threads=None, shapes=None):
        """A callable ``{input: array} -> [output arrays]`` running ``net`` itself (with torch's
        own thread count, which :func:`~caffe_compat.inference.engines.threads.engine_threads` follows)."""
        names = list(outputs)
        forward = getattr(net, "_forward_layers", net.forward)

        def run(feed):
            with torch.inference_mode():
                out = forward(blobs=names, keep_blobs=False,
                              **{k: torch.from_numpy(v) for k, v in feed.items()})
            return [out[n].numpy() for n in names]

        return run
