"""Caffe's tools and the helpers behind them, each registered as a ``caffe-compat`` subcommand
when :mod:`caffe_compat.cli.main` imports it.

- Caffe's command-line tools, one module each: :mod:`.convert_imageset`,
  :mod:`.compute_image_mean`, :mod:`.extract_features`, :mod:`.upgrade`
  (``upgrade_net_proto_text``, ``upgrade_net_proto_binary``, ``upgrade_solver_proto_text``) and
  :mod:`.device_query`. Flags are Caffe's gflags, written ``-flag`` or ``--flag``, with
  ``=value`` or a separate value; boolean flags also as ``-flag=false`` and ``-noflag``.
- :mod:`.files`: the file tools behind ``caffe-compat inspect | upgrade | convert``.
- :mod:`.extra` (``caffe-compat draw | parse-log | plot-log``) over :mod:`.draw` (net diagrams,
  pycaffe's ``caffe.draw``) and :mod:`.training_log` (Caffe's training logs as tables and charts).
"""
