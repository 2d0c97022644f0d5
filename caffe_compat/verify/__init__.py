"""``caffe-compat verify``: the differential checks against a user's own Caffe build.

``command`` (the subcommand, which ``caffe_compat.cli.main`` registers), ``build`` (finding the build
and running its pycaffe in a subprocess), ``_worker`` (the Caffe side, run by that build's
Python), ``examples`` (the generated nets per layer type), ``checks`` (our side and the
comparisons), ``report`` (the parity table).
"""
