"""Model zoo of Cheng et al. 2017 (the folder ``models/``, imported as ``lq_models``): the paper's models, their definitions and how to name a file.

    >>> import lq_models
    >>> lq_models.get("joint-4").summary()               # prototxts, init, data, Table 1 row
    >>> arch, candidates = lq_models.identify("W.caffemodel")
    >>> lq_models.check_compatible("deploy.prototxt", "W.caffemodel")  # or IncompatibleWeightsError
    >>> net = lq_models.load_net("W.caffemodel")         # deploy net of its architecture
    >>> lq_models.describe_architecture(net_param)       # one line, or None (caffe-compat inspect)

Entries: ``srfcn-<s>`` (SR-FCN pre-trained at s), ``hr``, ``lr-<s>``, ``nonjoint-<s>``,
``joint-<s>`` for s in 3, 4, 6, 8, 12, 16, and ``joint-oa``. Register your weights with
``python -m lq_models register W.caffemodel --as hr`` so that :func:`identify` names them exactly.
Published weights other nets start from (ResNet-50 of ImageNet and of VGGFace2):
:func:`published`, :func:`fetch` (downloaded and checked against their published checksums).
"""
from caffe_compat.net.architectures import register_architecture_describer
from caffe_compat.net.signature import IncompatibleWeightsError

from .architecture import (Architecture, cnnd_input_range, cnnd_pool3_size,
                           describe_architecture, detect_architecture)
from .identify import Identification, check_compatible, identify, load_net, set_input_size
from .pretrained import fetch, get_published, local_path, published, weights_dir
from .registry import (ENV_VAR, lookup, read_registry, register, registry_path, sha256_file,
                       unregister)
from .zoo import (ModelEntry, ZooError, entries, get, keys, paper_citation, paper_rows,
                  paper_table, prototxt_path, signatures)

# `caffe-compat inspect` names the paper's architectures (also declared as an entry point)
register_architecture_describer(describe_architecture)

__all__ = [
    "ModelEntry", "ZooError", "IncompatibleWeightsError", "entries", "get", "keys",
    "paper_table", "paper_citation", "paper_rows", "prototxt_path", "signatures",
    "Architecture", "detect_architecture", "describe_architecture", "cnnd_pool3_size",
    "cnnd_input_range", "Identification", "identify", "check_compatible", "load_net",
    "set_input_size", "ENV_VAR", "registry_path", "read_registry", "register", "unregister",
    "lookup", "sha256_file", "published", "get_published", "fetch", "local_path", "weights_dir",
]
