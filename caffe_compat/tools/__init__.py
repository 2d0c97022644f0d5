"""Caffe's tools, each registered as a ``caffe-compat`` subcommand when
:mod:`caffe_compat.cli.main` imports it: :mod:`.convert_imageset`, :mod:`.compute_image_mean`,
:mod:`.extract_features`, :mod:`.upgrade` (the three ``upgrade_*_proto_*`` tools) and
:mod:`.device_query` with Caffe's gflags (``-flag`` or ``--flag``, ``=value`` or a separate
value; booleans also ``-flag=false`` and ``-noflag``); :mod:`.files` behind ``inspect |
upgrade | convert``; :mod:`.extra` (``draw | parse-log | plot-log``) over :mod:`.draw`
(pycaffe's ``caffe.draw``) and :mod:`.training_log`.
"""
