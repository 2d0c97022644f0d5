"""The ``caffe-compat`` command line (``python -m caffe_compat.cli``): :mod:`.main` (the
entry point and Caffe's train, test and time), :mod:`.registry` (the subcommand table and
Caffe's flag spellings), ``_flags`` and ``_log`` (gflags booleans and glog lines shared by
the tools' subcommands).
"""
