/*
 * What the two sources of caffe_compat.kernels._exact_gemm share: _exact_gemm.c (the products
 * of Caffe's forward pass, the micro-kernel, the packing, the module) and _conv_grad.c (a
 * convolution's gradients in the order of Caffe's backward pass).
 */
#ifndef CAFFE_COMPAT_EXACT_GEMM_H
#define CAFFE_COMPAT_EXACT_GEMM_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "_common.h"

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EG_Q 320   /* OpenBLAS's sgemm GEMM_Q */
#define MR 6       /* micro-tile rows */
#define NR 16      /* micro-tile columns */
#define NC 192     /* columns of C per work unit */
#define MC 132     /* rows of C per work unit (a multiple of MR) */

/* Micro-kernel: acc[r][c] = sum over k of Ap[k*MR + r] * Bp[k*NR + c] (sequential fused
 * multiply-adds from zero), then T[r*ldt + c] = acc (first block) or T + acc. */
typedef void (*kernel_fn)(ptrdiff_t kc, const float *Ap, const float *Bp, float *T,
                          ptrdiff_t ldt, int first);

/* Where B's values come from when packed: a strided matrix, or an image's implicit im2col. */
typedef struct {
    /* strided B */
    const float *B;
    ptrdiff_t sk, sn;
    /* implicit im2col of one image and group (B == NULL) */
    const float *x;        /* first channel of the group, in that image */
    ptrdiff_t H, W, kh, kw, OW, sh, sw, ph, pw, dh, dw;
} bsrc;

/* An im2col gather of `len` values from input columns ix, ix + sw, ...: the first and one
 * past the last of them that lie inside [0, W) as [*t0, *t1) (empty: t0 == t1), so that the
 * gather copies those and writes zeros around them without a test per value. */
static inline void
inside_span(ptrdiff_t ix, ptrdiff_t sw, ptrdiff_t W, ptrdiff_t len, ptrdiff_t *t0,
            ptrdiff_t *t1)
{
    ptrdiff_t a, b;
    if (sw == 1) {         /* no division for the common stride */
        a = ix < 0 ? -ix : 0;
        b = W - ix;
    } else {
        a = ix < 0 ? (-ix + sw - 1) / sw : 0;
        b = ix < W ? (W - ix + sw - 1) / sw : 0;
    }
    if (a > len)
        a = len;
    if (b > len)
        b = len;
    if (b < a)
        b = a;
    *t0 = a;
    *t1 = b;
}

/* A thread's packing buffer and edge tile. */
typedef struct {
    float *Bp;
    float tile[MR * 2 * NR];
} scratch;

/* The micro-kernels in use (picked when the module loads): the_kernel for one B panel
 * (MR x NR); the_wide_kernel, where the processor has one (else NULL), for two adjacent
 * panels Bp and Bp + kc * NR at once (MR x 2 NR, T's row r at T + r * ldt). */
extern kernel_fn the_kernel;
extern kernel_fn the_wide_kernel;
/* 1 when the_kernel is the AVX2/FMA one (so AVX is there too). */
int eg_avx2(void);
/* OpenBLAS's K blocks into *starts (allocated) and *nblocks; the longest, or -1 out of memory. */
ptrdiff_t k_blocks(ptrdiff_t K, int blocked, ptrdiff_t **starts, ptrdiff_t *nblocks);
/* Packed panels of A (MR rows at a time) and B (NR columns at a time). */
void pack_a(const float *A, ptrdiff_t sm, ptrdiff_t sk, ptrdiff_t M, ptrdiff_t m0, ptrdiff_t mc,
            ptrdiff_t k0, ptrdiff_t k1, float *Ap);
void pack_b(const bsrc *s, ptrdiff_t N, ptrdiff_t n0, ptrdiff_t nc, ptrdiff_t k0, ptrdiff_t k1,
            float *Bp);
/* One K block of a product into C (see _exact_gemm.c). */
void block_product(const float *Ap, const float *Bp, ptrdiff_t kc, float *C, ptrdiff_t ldc,
                   ptrdiff_t mc, ptrdiff_t nc, int first, scratch *s);
/* Runs fn(arg) on min(nthreads, units) threads, this one included (at least one), and
 * returns when all have: fn takes the job's units in turn until none is left. */
void run_team(void *(*fn)(void *), void *arg, ptrdiff_t units, int nthreads);
/* A float32 Python buffer of rank ndim: 0, or -1 with an exception set. */
int get_f32(PyObject *o, Py_buffer *v, int writable, int ndim, const char *what);
/* conv2d_grads(x, w, dy, gx, gw, sh, sw, ph, pw, dh, dw, group, nthreads) (_conv_grad.c). */
PyObject *py_conv2d_grads(PyObject *self, PyObject *args);

#endif
