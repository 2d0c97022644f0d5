/*
 * C entry points that the kernel modules hand to one another through capsules, so that a
 * compiled training loop (_tiny_solve.c) runs the very routines the Python-level passes call:
 *
 *   "caffe_compat.kernels._exact_gemm._C_API"  -> eg_api   (Caffe-order products)
 *   "caffe_compat.kernels._sgd_update._C_API"  -> su_api   (Caffe's SGD update of one blob)
 */
#ifndef CAFFE_COMPAT_KERNEL_API_H
#define CAFFE_COMPAT_KERNEL_API_H

#include <stddef.h>

typedef struct {
    /* C (M x N, row stride ldc) = A (M x K, strides sam, sak) B (K x N, strides sbk, sbn) in
     * OpenBLAS's order, as _exact_gemm.gemm(A, B, C, blocked, nthreads); 0, or -1 out of
     * memory. Call without the GIL or with it: it touches no Python object. */
    int (*gemm)(const float *A, ptrdiff_t sam, ptrdiff_t sak, const float *B, ptrdiff_t sbk,
                ptrdiff_t sbn, float *C, ptrdiff_t ldc, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                int blocked, int nthreads);
    /* C[j, i] = sum_k W[i, k] X[j, k], as _exact_gemm.gemm_tn_small(W, X, C). */
    void (*tn_small)(const float *W, ptrdiff_t swi, ptrdiff_t swk, const float *X,
                     ptrdiff_t sxj, ptrdiff_t sxk, float *C, ptrdiff_t ldc, ptrdiff_t M,
                     ptrdiff_t N, ptrdiff_t K);
} eg_api;

typedef void (*su_update_fn)(float *w, float *d, float *h, ptrdiff_t n, float decay, float rate,
                             float momentum);

typedef struct {
    su_update_fn fused;      /* sgd_update(..., fused=True) per blob */
    su_update_fn unfused;    /* sgd_update(..., fused=False) per blob */
} su_api;

#endif
