"""Write a PyTorch export: ``model.py``, ``weights.safetensors`` (optionally ``weights.pth``)
and ``README.md`` (the model card), into a folder replaced as a whole.

The folder is written beside the target under a temporary name and renamed into place once
complete (a previous export there is replaced only then), so an interrupted export never leaves
a half-written package; before the rename it and its files get the modes of a plain mkdir and
open() under the user's umask.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

import torch

from ...errors import CaffeCompatError


def save_weights(state, folder, pth=False):
    """weights.safetensors (and weights.pth) of ``state`` (name -> tensor) in ``folder``."""
    try:
        from safetensors.torch import save_file
    except ImportError:
        raise CaffeCompatError("the PyTorch export writes weights.safetensors with the "
                               "'safetensors' package: pip install safetensors") from None
    tensors = {k: v.contiguous() for k, v in state.items()}
    save_file(tensors, os.path.join(folder, "weights.safetensors"),
              metadata={"format": "pt", "producer": "caffe_compat"})
    if pth:
        torch.save(tensors, os.path.join(folder, "weights.pth"))


@contextlib.contextmanager
def staged_folder(out_dir):
    """Yield a temporary folder beside ``out_dir``; it replaces ``out_dir`` on success."""
    out_dir = os.path.abspath(os.fspath(out_dir))
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise CaffeCompatError(f"--out {out_dir}: a file is there; the PyTorch export "
                               "writes a folder (model.py, weights.safetensors, README.md)")
    if os.path.isdir(out_dir) and os.listdir(out_dir) and \
            not os.path.exists(os.path.join(out_dir, "model.py")):
        raise CaffeCompatError(f"--out {out_dir}: the folder holds files that are not a "
                               "PyTorch export; give an empty or new folder")
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.tmp-", dir=parent)
    try:
        yield tmp
        _plain_modes(tmp)
        old = None
        if os.path.exists(out_dir):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.old-", dir=parent)
            os.rmdir(old)
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _plain_modes(folder):
    """Give ``folder`` and what it holds the modes mkdir and open() give (0777 and 0666 less
    the umask): mkdtemp makes a private 0700 folder and safetensors a 0600 file, and an
    export is made to be shipped."""
    umask = os.umask(0)
    os.umask(umask)
    for root, dirs, files in os.walk(folder):
        os.chmod(root, 0o777 & ~umask)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~umask)
