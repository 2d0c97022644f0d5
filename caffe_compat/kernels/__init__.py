"""Numeric kernels (one line per module: docs/layout.md): Caffe-order products (:mod:`.blas_order`
over ``_exact_gemm.c``), MAX pooling (``_pool_kernel.c``), ACROSS_CHANNELS LRN
(``_lrn_kernel.c``), DetectionOutput's NMS scan (``_nms_kernel.c``), the SGD update
(:mod:`.sgd_update`), many array-engine iterations in one call (:mod:`.array_loop` over
``_tiny_solve.c``, reaching the other kernels through ``_kernel_api.h``'s capsules), DFT
convolution gradients (:mod:`.dft_conv`), the CPU kernels a run uses (:mod:`.numerics`),
freed memory kept (:mod:`.memory`) and the cycle collector kept off torch's objects
(:mod:`.collector`)."""
