"""Threads and data parallelism: :mod:`.threads` (thread counts), :mod:`.wait_policy` (the
OpenMP wait policy, set before torch loads), :mod:`.pass_choice` (a pass's thread count,
measured while other processes share our cores), :mod:`.placement` (a pass's threads one per
CPU under niced work), :mod:`.data_parallel` (data-parallel training over torch.distributed)
and :mod:`.launch` (starting the ranks of ``caffe-compat train``)."""
