"""Numeric kernels: :mod:`.blas_order` (Convolution / InnerProduct products in Caffe's
summation order, over the C kernel ``_exact_gemm.c``), ``_pool_kernel.c`` (Caffe's MAX pooling
forward), :mod:`.sgd_update` (Caffe's SGD update of every blob in one call, over
``_sgd_update.c``), ``_lrn_kernel.c`` (Caffe's ACROSS_CHANNELS LRN forward and backward,
operation for operation), ``_nms_kernel.c`` (DetectionOutput's NMS scan, for
:mod:`caffe_compat.rules.boxes`), :mod:`.array_loop` (many training iterations of a small
array-engine net in one call, over ``_tiny_solve.c``, which reaches the other kernels through
the capsules of ``_kernel_api.h``; :mod:`.loop_ops` names its operations), :mod:`.dft_conv`
(convolution backward passes through the DFT), :mod:`.numerics` (which CPU kernels compute a run's
results, and how to pin them) and :mod:`.memory` (freed memory kept in the process, as Caffe
keeps its blobs) and :mod:`.collector` (the cycle collector kept off torch's objects while a
program runs)."""
