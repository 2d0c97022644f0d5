"""Caffe's command-line tools as ``caffe-compat`` subcommands, one module each:
``convert_imageset``, ``compute_image_mean``, ``extract_features``, ``upgrade_net_proto_text``,
``upgrade_net_proto_binary``, ``upgrade_solver_proto_text`` and ``device_query``.

Importing this package registers them with :func:`caffe_compat.cli_registry.register_command`. Flags
are Caffe's gflags, written ``-flag`` or ``--flag``, with ``=value`` or a separate value;
boolean flags also as ``-flag=false`` and ``-noflag``.
"""
from . import (compute_image_mean, convert_imageset, device_query,  # noqa: F401
               extract_features, upgrade)


def registered_commands():
    """The subcommand table these modules registered into."""
    from ..cli_registry import COMMANDS
    return COMMANDS
