"""``caffe-compat verify``: the differential checks against a user's own Caffe build:
``command`` (the subcommand), ``build`` (finding the build, running its pycaffe in a
subprocess), ``_worker`` (the Caffe side), ``examples`` (the generated nets per layer type),
``checks`` (our side and the comparisons), ``report`` (the parity table).
"""
