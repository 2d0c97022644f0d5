"""Any Caffe net as plain PyTorch source: ``model.py`` (one ``nn.Module``, torch only),
``weights.safetensors`` and a README model card, checked against :class:`caffe_compat.Net`.

    from caffe_compat import Net
    from caffe_compat.export import export_pytorch
    net = Net("deploy.prototxt", "weights.caffemodel", phase="test")
    report = export_pytorch(net, "exported/", model="deploy.prototxt",
                            weights="weights.caffemodel")

One emitter per Caffe type (:mod:`.emitters`, extensible with :func:`register_emitter`) writes
the layer's lines; :mod:`.codegen` assembles them; :mod:`.check` runs the result in a process
that cannot import caffe_compat. A type without an emitter is an error naming the layer.
"""
from __future__ import annotations

import os

from . import emitters  # noqa: F401 - registers the emitters
from .check import GRADIENT_TOL, OUTPUT_TOL, ExportCheckError, check_export
from .codegen import generate
from .model_card import model_card
from .package import save_weights, staged_folder
from .registry import emitter_types, register_emitter


def export_pytorch(net, out_dir, outputs=None, *, model=None, weights=None,
                   preprocessing=None, pth=False, check=True, batches=(1, 3),
                   compile=False, autocast=True, gradients=True, class_name=None,
                   check_inputs=None, gradient_batches=None):
    """Write the PyTorch package of ``net`` (a test-phase :class:`~caffe_compat.Net`) to the
    folder ``out_dir``; returns the check's report (None with ``check=False``).

    ``outputs``: the blobs ``forward`` returns (default: the net's outputs, losses and
    Accuracy left out; inner blobs may be named). ``model`` / ``weights``: the prototxt and
    caffemodel paths, whose sha256 the README records. ``preprocessing``: ``{what: value}``
    for the README (mean, scale, channel order). ``pth``: also write ``weights.pth``.
    The check (:mod:`.check`; ``batches``, ``compile``, ``autocast``, ``gradients``) runs on
    the staged folder before it is moved into place; a difference beyond its bounds raises
    :class:`ExportCheckError` and leaves ``out_dir`` as it was. ``check_inputs``:
    ``{blob: function(batch) -> tensor}`` for the inputs the check should not draw at random
    (ROIs, ``im_info``). ``gradient_batches``: the batch sizes whose gradients the check
    compares (default: all of ``batches``).
    """
    from ...io.atomic import file_sha256
    sources = {}
    for kind, path in (("prototxt", model), ("caffemodel", weights)):
        if path is not None and os.path.isfile(os.fspath(path)):
            sources[kind] = (os.fspath(path), file_sha256(path))
    header = (f"Caffe net '{net.name}' as PyTorch source (torch only), written by\n"
              "caffe_compat's PyTorch export; README.md says where it came from and how it "
              "was checked.")
    if "prototxt" in sources:
        header += f"\n\nFrom {os.path.basename(sources['prototxt'][0])} " \
                  f"(sha256 {sources['prototxt'][1][:16]}...)."
    source, state, gradient_map, gen = generate(net, outputs, header, class_name)
    report = None
    with staged_folder(out_dir) as folder:
        with open(os.path.join(folder, "model.py"), "w") as f:
            f.write(source)
        save_weights(state, folder, pth=pth)
        if check:
            report = check_export(net, folder, gen.outputs, gradient_map,
                                  list(gen.input_args), batches=batches, compile=compile,
                                  autocast=autocast, gradients=gradients,
                                  inputs=check_inputs, no_gradient=gen.no_gradient,
                                  row_sets=gen.row_sets,
                                  gradient_batches=gradient_batches)
        with open(os.path.join(folder, "README.md"), "w") as f:
            f.write(model_card(gen, sources, preprocessing, report))
        if report is not None and not report["ok"]:
            raise ExportCheckError(f"net '{net.name}': the generated module differs from "
                                   f"caffe_compat.Net: {'; '.join(report['failures'])}")
    return report


__all__ = ["export_pytorch", "generate", "check_export", "register_emitter", "emitter_types",
           "ExportCheckError", "OUTPUT_TOL", "GRADIENT_TOL"]
