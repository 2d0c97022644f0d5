"""The seed's per-frame net: ResNet-50 (``prototxt/resnet50_ferplus_*``) fine-tuned on FER+'s
faces from a published caffemodel, registered as the per-frame net ``resnet50``.

- Starting point (:func:`resolve_init`): a caffemodel path, or a key of the model zoo's
  published weights (``python -m lq_models published``: ``resnet50-imagenet``,
  ``resnet50-vggface2-ft``, ``resnet50-vggface2-scratch``) whose fetched file is checked against
  its checksum; He et al.'s or VGGFace2's layer names (:mod:`.resnet50_layouts`). The mean
  subtracted from the faces is the one the starting point was trained with: 104, 117, 123
  (B, G, R) in He's layout (the prototxt's values), 91.4953, 103.8827, 131.0912 in VGGFace2's
  (its authors' README).
- Training faces: FER+'s 48 x 48 grey faces written as PNG images with a list file for the
  ImageData layer, which reads them in colour (3 equal channels), enlarges them to 256 x 256
  (INTER_LINEAR), takes a random 224 x 224 crop, mirrors half of them and subtracts the mean:
  Caffe's usual fine-tuning transform, the prototxt's ``transform_param``.
- Frame inputs (:func:`inputs`): the same reading, enlarging and transform in the TEST phase
  (the centre crop, no mirror), by the same OpenCV call and Caffe's DataTransformer, so a face
  reaches the deployed net exactly as the TEST-phase data layer would give it.
- Features: ``pool5`` (2048 values), the CNN-LSTM's input as in the seed.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from ..errors import ReproductionError
from .perframe_nets import PerFrameNet, register
from .resnet50_layouts import prepare_init_weights

__all__ = ["StartingPoint", "MEAN_BGR", "resolve_init", "write_image_list", "inputs", "RESNET50"]

MEAN_BGR = {"he": (104.0, 117.0, 123.0), "vggface2": (91.4953, 103.8827, 131.0912)}
SIZE = 256


@dataclass(frozen=True)
class StartingPoint:
    """The caffemodel the net starts from: as given (``spec``), the file in He's layout the
    solver loads (``weights``), its ``layout``, its ``sha256`` and the mean it subtracts."""
    spec: str
    weights: str
    layout: str
    sha256: str
    mean_bgr: tuple

    def describe(self):
        return f"ResNet-50 fine-tuned on FER+ from {self.spec} ({self.layout} layout)"


def resolve_init(spec, folder):
    """The :class:`StartingPoint` of ``spec`` (a caffemodel path or a zoo key of published
    weights); ReproductionError naming the file or key when it cannot be used."""
    from lq_models import ZooError, get_published, local_path, sha256_file
    spec = os.fspath(spec)
    path = spec
    if not os.path.exists(spec):
        try:
            entry = get_published(spec)
        except ZooError:
            entry = None
        if entry is not None:
            try:
                path = str(local_path(entry.key, "weights"))
            except ZooError as e:
                raise ReproductionError(f"--init-weights: {e}") from None
    he_path, layout = prepare_init_weights(path, folder)
    return StartingPoint(spec, he_path, layout, sha256_file(path), MEAN_BGR[layout])


def write_image_list(folder, faces, labels, name="train"):
    """Write faces (N x 48 x 48 uint8) as ``folder/name/NNNNNN.png`` and the ImageData list
    ``folder/name_images.txt`` (``path label`` per line); returns the list file."""
    import cv2

    from caffe_compat.io.atomic import write_text_atomic
    faces = np.asarray(faces)
    if not len(faces):
        raise ReproductionError(f"{folder}: no training face")
    images = os.path.join(os.path.abspath(folder), name)
    os.makedirs(images, exist_ok=True)
    lines = []
    for i, (face, label) in enumerate(zip(faces, labels)):
        p = os.path.join(images, f"{i:06d}.png")
        if not cv2.imwrite(p, np.ascontiguousarray(face, np.uint8)):
            raise ReproductionError(f"{p}: could not write the face image")
        lines.append(f"{p} {int(label)}")
    listing = os.path.join(folder, f"{name}_images.txt")
    write_text_atomic(listing, "\n".join(lines) + "\n")
    return listing


@functools.lru_cache(maxsize=4)
def _transform(mean_bgr):
    """Caffe's TEST-phase DataTransformer of the train/val net's data layer, with the mean
    ``mean_bgr`` (a tuple)."""
    from caffe_compat.data.transformer import DataTransformer
    from caffe_compat.io.prototxt import read_net
    from lq_models import prototxt_path
    for lp in read_net(str(prototxt_path("resnet50_ferplus_train_val.prototxt"))).layer:
        if lp.type == "ImageData" and any(r.phase == 1 for r in lp.include):   # TEST
            tp = lp.transform_param
            del tp.mean_value[:]
            tp.mean_value.extend(list(mean_bgr))
            return DataTransformer(tp, "TEST")
    raise ReproductionError("resnet50_ferplus_train_val.prototxt has no TEST ImageData layer")


def inputs(faces, init):
    """N x 3 x 224 x 224 float32 of N 48 x 48 grey faces (module doc)."""
    import cv2
    tf = _transform(tuple(init.mean_bgr) if init is not None else MEAN_BGR["he"])
    faces = np.asarray(faces, np.uint8)
    out = None
    for i, face in enumerate(faces):
        img = cv2.resize(cv2.cvtColor(face, cv2.COLOR_GRAY2BGR), (SIZE, SIZE))
        chw = np.ascontiguousarray(img.transpose(2, 0, 1))
        if out is None:
            out = np.empty((len(faces),) + tf.output_shape(chw.shape), np.float32)
        tf.transform_chw(chw, out[i])
    return out if out is not None else np.empty((0, 3, 224, 224), np.float32)


def _write(folder, faces, labels, init):
    return write_image_list(folder, faces, labels)


def _train(listing, folder, sched, device, progress, init):
    from lq_models import prototxt_path

    from .caffe_training import train
    if init is None:
        raise ReproductionError("the ResNet-50 per-frame net needs a starting caffemodel "
                                "(--init-weights)")
    overrides = {("data", "image_data_param.source"): os.path.abspath(listing),
                 ("data", "image_data_param.batch_size"): int(sched.frame_batch),
                 ("data", "transform_param.mean_value"): list(init.mean_bgr)}
    return train("resnet50_ferplus", str(prototxt_path("resnet50_ferplus_solver.prototxt")),
                 str(prototxt_path("resnet50_ferplus_train_val.prototxt")), listing, folder,
                 sched.frame_iters, overrides=overrides, weights=init.weights, device=device,
                 progress=progress)


RESNET50 = register(PerFrameNet("resnet50", "perframe_resnet50", "_resnet50",
                                "resnet50_ferplus_deploy.prototxt", "pool5", 16, _write, _train,
                                inputs))
