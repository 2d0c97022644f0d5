"""The ``caffe-compat`` command line (``python -m caffe_compat.cli``): :mod:`.main` (the
entry point and Caffe's train, test and time), :mod:`.registry` (the subcommand table and
Caffe's flag spellings, gflags booleans included), ``_log`` (glog lines shared by the tools'
subcommands).
"""
