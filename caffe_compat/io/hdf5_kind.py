"""What an HDF5 file given as weights holds, told by its layout, and what to pass instead.

Caffe's CopyTrainedLayersFrom reads an HDF5 file (H5Fis_hdf5: the file's signature, not its
name) as an HDF5 caffemodel: a group ``data`` of one group per layer holding datasets ``0``,
``1``, ... (Net::ToHDF5). Other HDF5 files Caffe writes or reads are no weights: a solver state
(``snapshot_format: HDF5``: datasets ``iter``, ``learned_net``, ``current_step`` and a group
``history``) and a data file of an HDF5Data layer (datasets named as the layer's tops, e.g.
``data`` and ``label``). :func:`not_weights` names which one a file is."""
from __future__ import annotations

import io

SIGNATURE = b"\x89HDF\r\n\x1a\n"

_SHOWN = 6          # datasets named in a message


def is_hdf5_file(path):
    """Whether the file at ``path`` starts with the HDF5 signature (False for a file that
    cannot be read: the binary reader then says why)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(SIGNATURE)) == SIGNATURE
    except OSError:
        return False


def not_weights(source, data=None):
    """None where ``source`` (a path; or ``data``, the file's bytes) is an HDF5 caffemodel,
    else the message of a :class:`~caffe_compat.errors.WeightsError` saying what the HDF5
    file is and what to pass instead."""
    import h5py
    try:
        f = h5py.File(io.BytesIO(data) if data is not None else source, "r")
    except (OSError, ValueError, RuntimeError) as exc:      # h5py's words for a damaged file
        return f"{source}: an HDF5 file that cannot be opened ({exc}); not weights"
    try:
        with f:
            return _describe(source, f, h5py)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
        return f"{source}: an HDF5 file that cannot be read ({exc}); not weights"


def _describe(source, f, h5py):
    data = f.get("data")
    if isinstance(data, h5py.Group) and all(isinstance(item, h5py.Group)
                                            for item in data.values()):
        return None
    if "history" in f or "learned_net" in f:
        learned = _learned_net(f)
        beside = f" ('{learned}')" if learned else ""
        return (f"{source}: an HDF5 solver state (snapshot_format: HDF5), not weights; pass it "
                "to resume training (caffe-compat train --snapshot, solver.restore), or as "
                f"weights the .caffemodel.h5 written beside it{beside}")
    datasets = [(name, item.shape) for name, item in f.items() if isinstance(item, h5py.Dataset)]
    if datasets:
        named = ", ".join(f"'{name}' {tuple(shape)}" for name, shape in datasets[:_SHOWN])
        if len(datasets) > _SHOWN:
            named += f" ... and {len(datasets) - _SHOWN} more"
        return (f"{source}: an HDF5 data file with dataset(s) {named} (a training data source, "
                "what an HDF5Data layer's list file names), not weights; pass a .caffemodel or "
                ".caffemodel.h5")
    members = ", ".join(f"'{name}'" for name in list(f)[:_SHOWN])
    return (f"{source}: an HDF5 file that is not a Caffe HDF5 caffemodel (whose layers are "
            "groups of datasets under a group 'data'; this one holds "
            f"{members or 'nothing'}), not weights; pass a .caffemodel or .caffemodel.h5")


def _learned_net(f):
    try:
        value = f["learned_net"][()]
    except (KeyError, TypeError, ValueError, OSError):
        return None
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def binary_only(source, data=None):
    """The message of a reader of binary caffemodels given an HDF5 file (``source``, or its
    bytes ``data``)."""
    return not_weights(source, data) or (
        f"{source}: an HDF5 caffemodel (snapshot_format: HDF5), not a binary one; "
        "read_caffemodel and OpenCV's readNetFromCaffe take binary caffemodels only: "
        "caffe_compat.Net(prototxt, weights=...) and pycaffe's caffe.Net read it, and "
        "their save() writes the binary .caffemodel")
