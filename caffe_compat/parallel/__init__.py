"""Threads and data parallelism: :mod:`.threads` (thread counts), :mod:`.wait_policy` (the
OpenMP wait policy, set before torch loads), :mod:`.pass_choice` (the thread count of
inference forwards and training iterations, measured while other processes share our cores:
fewer threads under niced work, more threads than cores while cores are held),
:mod:`.placement` (a pass's threads one per CPU while niced work shares our cores),
:mod:`.data_parallel` (data-parallel training over torch.distributed: ranks, sharding,
gradient averaging) and :mod:`.launch` (starting and watching the ranks of ``caffe-compat
train --ranks N``)."""
