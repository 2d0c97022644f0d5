/*
 * Many training iterations of a small net in one call: pycaffe's straight-line training pass
 * (caffe_compat/net/fast_step.py) and Caffe's SGD update, iteration after iteration, over a
 * program that caffe_compat/solvers/tiny_solve.py builds once per net; or the array engine's
 * layers (caffe_compat/array_net) and the same update, over a program of
 * caffe_compat/array_solver/loop/ (the OP_A* operations, which need no torch routine).
 *
 *     bind(sgemm, vsln, expf8, vstanh, vdtanh)   torch's own routines and the capsules, once
 *     bind_arrays()                              the capsules only (the array operations)
 *     run(ops, ptrs, consts, iterations, losses, rates, cursors, limits) -> iterations done
 *
 * Every value is computed by the routine, and in the order, that the per-layer Python pass
 * reaches for it, so each iteration leaves the same bits:
 *
 * - InnerProduct forward: the Caffe-order products of _exact_gemm (through its capsule, the
 *   same C function its Python entry calls), then the bias added as one float32 sum;
 * - torch.mm of the backward passes: the MKL sgemm that ATen's addmm calls, with the
 *   transposition flags and leading dimensions ATen's rules pick for the operands' strides;
 * - sums (a loss over its rows, a bias gradient over the batch): ATen's cascade-sum order
 *   (row_sum / multi_row_sum, four-way interleaved partial sums, levels of 16 and more);
 * - softmax over the last axis (fewer than eight classes): ATen's lastdim kernel, max and
 *   sum reduced one element after the other, Sleef's expf8_u10 on AVX2 vectors, and the
 *   reciprocal of the sum multiplied in; the log of SoftmaxWithLoss by MKL's vsLn, tanh by
 *   MKL's vsTanh (float32) and vdTanh (Caffe's sigmoid in double);
 * - the update: _sgd_update's per-blob loop (its capsule), fused or not as its probe chose.
 *
 * The Python side checks each of these against torch's own calls on the net's shapes before
 * it uses this module (tiny_solve.probe), and falls back to the per-layer loop where any
 * differs. An iteration whose data would reach the end of an HDF5 file, or whose labels are
 * out of range, is not run: the call returns the number of iterations completed before it,
 * with nothing of that iteration written to the parameters or the data cursors, and Python
 * runs it (reporting any error as the per-layer loop does).
 *
 * Must be built with -ffp-contract=off and without -ffast-math.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "_kernel_api.h"

#if defined(__x86_64__) || defined(_M_X64)
#define TS_X86 1
#include <immintrin.h>
#else
#define TS_X86 0
#endif

#if defined(__FAST_MATH__)
#error "_tiny_solve must be compiled without -ffast-math"
#endif

typedef void (*sgemm_fn)(const char *ta, const char *tb, const int *m, const int *n,
                         const int *k, const float *alpha, const float *a, const int *lda,
                         const float *b, const int *ldb, const float *beta, float *c,
                         const int *ldc);
typedef void (*vsln_fn)(int n, const float *a, float *r);
typedef void (*vdtanh_fn)(int n, const double *a, double *r);

static sgemm_fn the_sgemm;
static vsln_fn the_vsln;
static vsln_fn the_vstanh;       /* MKL's vsTanh: torch.tanh of float32 */
static vdtanh_fn the_vdtanh;     /* MKL's vdTanh: torch.tanh of float64 */
static void *the_expf8;          /* __m256 (*)(__m256) */
static const eg_api *the_eg;
static const su_api *the_su;
static int torch_bound;          /* bind() called: the torch engine's operations can run */

enum {
    OP_END = 0,
    OP_ZERO = 1,        /* buf, n */
    OP_DATA = 2,        /* src, cursor slot, row elements, dst, batch */
    OP_IP_FWD = 3,      /* x, w, b (-1), y, M, N, K, kind, transpose */
    OP_RELU_FWD = 4,    /* x, y, n */
    OP_SMLOSS_FWD = 5,  /* x, label, prob, loss, logs, M, C, -norm const */
    OP_LOSS = 6,        /* count, then (buf, weight const) pairs */
    OP_SMLOSS_BWD = 7,  /* prob, label, dloss, dx, M, C, norm const */
    OP_ADD = 8,         /* a, b, out, n */
    OP_COPY = 9,        /* a, out, n */
    OP_RELU_BWD = 10,   /* dy, y, dx, n */
    OP_IP_BWD = 11,     /* dy, x, w, gx (-1), gw (-1), gb (-1), tmp w, tmp b, M, N, K, transpose */
    OP_UPDATE = 12,     /* count, momentum const, fused, then (w, d, h, n, decay const) */
    OP_ADVANCE = 13,    /* cursor slot, batch */
    OP_LINEAR = 14,     /* x, w, b (-1), y, M, N, K, row block (0: one call) */
    OP_ACCURACY = 15,   /* x, label, out, M, C, top_k */
    OP_OUTPUT = 16,     /* src, dst, count, offset, stride: dst[it * stride + offset + j] */
    OP_LOSS_VALUE = 17, /* count, then (buf, weight const) pairs: the pass's float32 loss */
    OP_SIGMOID_FWD = 18, /* x, y, n, scratch (2 n floats: n doubles) */
    OP_SIGMOID_BWD = 19, /* dy, y, dx, n */
    OP_TANH_FWD = 20,   /* x, y, n */
    OP_TANH_BWD = 21,   /* dy, y, dx, n */
    OP_EUCLID_FWD = 22, /* a, b, d, sq, loss, N, D */
    OP_EUCLID_BWD = 23, /* d, dloss, da (-1), db (-1), N, D */
    /* the array engine's layers (caffe_compat/array_net), which need none of torch's
     * routines: Caffe's own arithmetic (array_solver/loop/) */
    OP_ASMLOSS_FWD = 24, /* x, label, prob, loss, M, C, norm const */
    OP_ARELU_FWD = 25,  /* x, y, n */
    OP_ARELU_BWD = 26,  /* dy, x, dx, n */
    OP_AIP_BWD = 27,    /* dy, x, w, gx (-1), gw (-1), gb (-1), tmp w, tmp b, M, N, K, transpose */
    OP_ALOSS = 28,      /* train, count, then (buf, weight const) pairs */
};

/* ------------------------------------------------------------------------------------------
 * ATen's sums (SumKernel.cpp's cascade_sum), element by element. */

static ptrdiff_t
ceil_log2(ptrdiff_t n)
{
    ptrdiff_t r = 0;
    while (((ptrdiff_t)1 << r) < n)
        r++;
    return r;
}

/* multi_row_sum's accumulation for one lane: size values x[i * stride], summed in runs of
 * 2^p (p = max(4, ceil(log2 size) / 4)) carried up four levels. */
static float
cascade(const float *x, ptrdiff_t stride, ptrdiff_t size)
{
    ptrdiff_t power = ceil_log2(size) / 4;
    if (power < 4)
        power = 4;
    ptrdiff_t step = (ptrdiff_t)1 << power, mask = step - 1;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    ptrdiff_t i = 0;
    while (i + step <= size) {
        for (ptrdiff_t j = 0; j < step; j++, i++)
            acc[0] = acc[0] + x[i * stride];
        for (int j = 1; j < 4; j++) {
            acc[j] = acc[j] + acc[j - 1];
            acc[j - 1] = 0.0f;
            if ((i & (mask << (j * power))) != 0)
                break;
        }
    }
    for (; i < size; i++)
        acc[0] = acc[0] + x[i * stride];
    for (int j = 1; j < 4; j++)
        acc[0] = acc[0] + acc[j];
    return acc[0];
}

/* row_sum: four interleaved lanes over the whole groups of four, the rest added to the
 * first, then the lanes added in order. */
static float
row_sum(const float *x, ptrdiff_t stride, ptrdiff_t size)
{
    ptrdiff_t groups = size / 4;
    float p[4];
    for (int k = 0; k < 4; k++)
        p[k] = cascade(x + k * stride, 4 * stride, groups);
    for (ptrdiff_t i = groups * 4; i < size; i++)
        p[0] = p[0] + x[i * stride];
    for (int k = 1; k < 4; k++)
        p[0] = p[0] + p[k];
    return p[0];
}

/* The sum of n contiguous values (a whole-tensor sum); lanes: the vector width ATen uses. */
static float
inner_sum(const float *x, ptrdiff_t n, int lanes)
{
    if (n < lanes)
        return row_sum(x, 1, n);
    ptrdiff_t vecs = n / lanes;
    float part[16];
    for (int l = 0; l < lanes; l++)
        part[l] = row_sum(x + l, lanes, vecs);
    float acc = 0.0f;
    for (ptrdiff_t k = vecs * lanes; k < n; k++)
        acc = acc + x[k];
    for (int l = 0; l < lanes; l++)
        acc = acc + part[l];
    return acc;
}

/* out[j] = sum over the M rows of the contiguous (M, N) x, in ATen's order for sum(0). */
static void
column_sums(const float *x, ptrdiff_t M, ptrdiff_t N, float *out, int lanes)
{
    if (N == 1) {
        out[0] = inner_sum(x, M, lanes);
        return;
    }
    ptrdiff_t j = 0;
    if (N >= lanes) {
        for (; j + 4 * lanes <= N; j += 4 * lanes)
            for (ptrdiff_t c = j; c < j + 4 * lanes; c++)
                out[c] = cascade(x + c, N, M);
    } else {
        for (; j + 3 < N; j += 4)
            for (int k = 0; k < 4; k++)
                out[j + k] = cascade(x + j + k, N, M);
    }
    for (; j < N; j++)
        out[j] = row_sum(x + j, N, M);
}

/* ------------------------------------------------------------------------------------------
 * torch.mm(A, B) into a new contiguous (M, N) C, as ATen's addmm_impl_cpu_ hands it to BLAS:
 * C row-major is C^T column-major, so (for N > 1) the operands swap and each is passed as is
 * or transposed according to its strides. -1 where ATen would copy an operand first. */
static int
torch_gemm(const float *A, ptrdiff_t sa0, ptrdiff_t sa1, const float *B, ptrdiff_t sb0,
           ptrdiff_t sb1, float *C, ptrdiff_t M, ptrdiff_t K, ptrdiff_t N, float beta)
{
    ptrdiff_t rs0 = N, rs1 = 1;
    int tc;
    if (rs0 == 1 && (N == 1 || rs1 >= (M > 1 ? M : 1)))
        tc = 0;
    else if (rs1 == 1 && (M == 1 || rs0 >= (N > 1 ? N : 1)))
        tc = 1;
    else
        return -1;
    const float *m1 = A, *m2 = B;
    ptrdiff_t t1[2] = {sa0, sa1}, t2[2] = {sb0, sb1};
    if (tc) {
        m1 = B;
        m2 = A;
        t1[0] = sb0; t1[1] = sb1;
        t2[0] = sa0; t2[1] = sa1;
    }
    ptrdiff_t m = tc ? N : M, n = tc ? M : N, k = K;
    int i0 = tc ? 1 : 0, i1 = tc ? 0 : 1;
    int ta, tb;
    if (t1[i0] == 1 && t1[i1] >= (m > 1 ? m : 1))
        ta = 0;
    else if (t1[i1] == 1 && t1[i0] >= (k > 1 ? k : 1))
        ta = 1;
    else
        return -1;
    if (t2[i0] == 1 && t2[i1] >= (k > 1 ? k : 1))
        tb = 0;
    else if (t2[i1] == 1 && t2[i0] >= (n > 1 ? n : 1))
        tb = 1;
    else
        return -1;
    ptrdiff_t la = t1[(ta == tc) ? 1 : 0], lb = t2[(tb == tc) ? 1 : 0];
    ptrdiff_t lc = tc ? rs0 : rs1;
    /* cpublas's normalize_last_dims: leading dimensions of size-1 sides made valid */
    if (n == 1)
        lc = m;
    if (ta) {
        if (m == 1)
            la = k;
    } else if (k == 1) {
        la = m;
    }
    if (tb) {
        if (k == 1)
            lb = n;
    } else if (n == 1) {
        lb = k;
    }
    int lda = (int)la, ldb = (int)lb, ldc = (int)lc;
    int im = (int)m, in = (int)n, ik = (int)k;
    float alpha = 1.0f;
    char ca = ta ? 't' : 'n', cb = tb ? 't' : 'n';
    if (m == 0 || n == 0)
        return 0;
    if (k == 0) {
        if (beta == 0.0f)
            memset(C, 0, (size_t)(M * N) * sizeof(float));
        return 0;
    }
    the_sgemm(&ca, &cb, &im, &in, &ik, &alpha, m1, &lda, m2, &ldb, &beta, C, &ldc);
    return 0;
}

static int
torch_mm(const float *A, ptrdiff_t sa0, ptrdiff_t sa1, const float *B, ptrdiff_t sb0,
         ptrdiff_t sb1, float *C, ptrdiff_t M, ptrdiff_t K, ptrdiff_t N)
{
    return torch_gemm(A, sa0, sa1, B, sb0, sb1, C, M, K, N, 0.0f);
}

/* F.linear(x, W, b) of rows x (M, K) and W (N, K): ATen's addmm(b, x, W^T), the bias rows
 * copied into C and the product added by sgemm with beta 1 (torch.mm without a bias). */
static int
torch_linear(const float *x, const float *w, const float *b, float *y, ptrdiff_t M,
             ptrdiff_t N, ptrdiff_t K)
{
    if (b == NULL)
        return torch_mm(x, K, 1, w, 1, K, y, M, K, N);
    for (ptrdiff_t m = 0; m < M; m++)
        memcpy(y + m * N, b, (size_t)N * sizeof(float));
    return torch_gemm(x, K, 1, w, 1, K, y, M, K, N, 1.0f);
}

/* ------------------------------------------------------------------------------------------
 * Softmax over the last axis of (M, C), C < 8, as ATen's _vec_softmax_lastdim on AVX2. */

static float
vec_maximum(float a, float b)
{
    /* _mm256_max_ps(a, b) (b where they compare equal or either is NaN), NaN made all ones */
    if (isnan(a) || isnan(b)) {
        uint32_t ones = 0xFFFFFFFFu;
        float r;
        memcpy(&r, &ones, sizeof r);
        return r;
    }
    return a > b ? a : b;
}

#if TS_X86
typedef __m256 (*expf8_fn)(__m256);

__attribute__((target("avx2,fma"))) static void
exp8(const float *in, float *out)
{
    _mm256_storeu_ps(out, ((expf8_fn)the_expf8)(_mm256_loadu_ps(in)));
}
#endif

static int
softmax_rows(const float *x, float *p, ptrdiff_t M, ptrdiff_t C)
{
#if TS_X86
    for (ptrdiff_t r = 0; r < M; r++) {
        const float *xr = x + r * C;
        float *pr = p + r * C;
        float mx = xr[0];
        for (ptrdiff_t j = 1; j < C; j++)
            mx = vec_maximum(mx, xr[j]);
        float in[8] = {0}, e[8];
        for (ptrdiff_t j = 0; j < C; j++)
            in[j] = xr[j] - mx;
        exp8(in, e);
        float sum = e[0];
        for (ptrdiff_t j = 1; j < C; j++)
            sum = sum + e[j];
        float inv = 1.0f / sum;
        for (ptrdiff_t j = 0; j < C; j++)
            pr[j] = e[j] * inv;
    }
    return 0;
#else
    (void)x; (void)p; (void)M; (void)C;
    return -1;
#endif
}

/* ------------------------------------------------------------------------------------------
 * Elementwise functions as torch's CPU kernels compute them. */

/* Caffe's sigmoid (caffe_sigmoid): 0.5 * tanh(0.5 x) + 0.5 in double, torch.tanh of float64
 * being MKL's vdTanh; rounded to float32. t: n doubles of scratch. */
static void
sigmoid_forward(const float *x, float *y, ptrdiff_t n, double *t)
{
    for (ptrdiff_t i = 0; i < n; i++)
        t[i] = 0.5 * (double)x[i];
    if (n > 0)
        the_vdtanh((int)n, t, t);
    for (ptrdiff_t i = 0; i < n; i++) {
        double v = 0.5 * t[i];
        v = v + 0.5;
        y[i] = (float)v;
    }
}

/* ATen's tanh_backward of float32: grad * (1 - y * y) with 1 - y * y one fused operation
 * (what its vector and scalar loops compute where the compiler contracted them; checked). */
static void
tanh_backward(const float *dy, const float *y, float *dx, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++)
        dx[i] = dy[i] * fmaf(-y[i], y[i], 1.0f);
}

/* ------------------------------------------------------------------------------------------
 * The layers. */

#define FLT_MIN_VALUE 1.17549435e-38f

/* Caffe's static_cast<int>(label) in range [0, C): the class, or -1. */
static ptrdiff_t
label_class(float v, ptrdiff_t C)
{
    if (!(v > -1.0f && v < (float)C))
        return -1;
    return (ptrdiff_t)v;      /* truncation toward zero */
}

/* Whether all M labels are classes of [0, C). */
static int
labels_in_range(const float *label, ptrdiff_t M, ptrdiff_t C)
{
    for (ptrdiff_t m = 0; m < M; m++)
        if (label_class(label[m], C) < 0)
            return 0;
    return 1;
}

static int
ip_forward(const float *x, const float *w, const float *b, float *y, ptrdiff_t M,
           ptrdiff_t N, ptrdiff_t K, int64_t kind, int64_t transpose)
{
    int rc = 0;
    if (transpose)             /* y = x W, W (K, N) */
        rc = the_eg->gemm(x, K, 1, w, N, 1, y, N, M, N, K, kind == 0, 1);
    else if (kind == 2)        /* OpenBLAS's small TN kernel */
        the_eg->tn_small(w, K, 1, x, K, 1, y, N, N, M, K);
    else                       /* y = x W^T, W (N, K) */
        rc = the_eg->gemm(x, K, 1, w, 1, K, y, N, M, N, K, 1, 1);
    if (rc != 0)
        return -1;
    if (b != NULL)
        for (ptrdiff_t m = 0; m < M; m++)
            for (ptrdiff_t n = 0; n < N; n++)
                y[m * N + n] = y[m * N + n] + b[n];
    return 0;
}

static int
ip_backward(const float *dy, const float *x, const float *w, float *gx, float *gw, float *gb,
            float *tw, float *tb, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, int64_t transpose,
            int lanes)
{
    if (gx != NULL) {
        /* torch.mm(grad, weight.t()) with transpose (W (K, N)), torch.mm(grad, weight) else */
        int rc = transpose ? torch_mm(dy, N, 1, w, 1, N, gx, M, N, K)
                           : torch_mm(dy, N, 1, w, K, 1, gx, M, N, K);
        if (rc != 0)
            return -1;
    }
    if (gw != NULL) {
        ptrdiff_t rows = transpose ? K : N, cols = transpose ? N : K;
        /* torch.mm(x.t(), grad) -> (K, N) with transpose; torch.mm(grad.t(), x) -> (N, K) */
        int rc = transpose ? torch_mm(x, 1, K, dy, N, 1, tw, K, M, N)
                           : torch_mm(dy, 1, N, x, K, 1, tw, N, M, K);
        if (rc != 0)
            return -1;
        for (ptrdiff_t i = 0; i < rows * cols; i++)
            gw[i] = gw[i] + tw[i];
    }
    if (gb != NULL) {
        column_sums(dy, M, N, tb, lanes);
        for (ptrdiff_t n = 0; n < N; n++)
            gb[n] = gb[n] + tb[n];
    }
    return 0;
}


/* ------------------------------------------------------------------------------------------
 * The array engine's forms, Caffe's arithmetic with C's float functions (glibc's expf and
 * logf are what Caffe's std::exp and std::log of float call). */

/* SoftmaxWithLoss over (M, C) rows with every label in [0, C): per row the maximum, expf of
 * each difference, their sum one after the other, each exponential divided by it (Caffe's
 * SoftmaxLayer); then -(sum of logf(max(p[label], FLT_MIN)) one row after the other) / norm
 * (Caffe's loop `loss -= log(...)`). Returns the loss. */
static float
softmax_loss_rows(const float *x, const float *label, float *prob, ptrdiff_t M, ptrdiff_t C,
                  float norm)
{
    float total = 0.0f;
    for (ptrdiff_t m = 0; m < M; m++) {
        const float *xr = x + m * C;
        float *pr = prob + m * C;
        float mx = xr[0];
        for (ptrdiff_t j = 1; j < C; j++)
            if (xr[j] > mx || isnan(xr[j]))
                mx = isnan(mx) ? mx : xr[j];
        float sum = 0.0f;
        for (ptrdiff_t j = 0; j < C; j++) {
            float d = xr[j] - mx;
            pr[j] = expf(d);
            sum = sum + pr[j];
        }
        for (ptrdiff_t j = 0; j < C; j++)
            pr[j] = pr[j] / sum;
        float v = pr[(ptrdiff_t)label[m]];
        total = total - logf(v < FLT_MIN_VALUE ? FLT_MIN_VALUE : v);
    }
    return total / norm;
}

/* InnerProduct backward of small products (M N K <= 1e6: OpenBLAS's small-matrix kernels,
 * one sequential sum per output) through _exact_gemm: gx = dy W (W^T with transpose), gw +=
 * dy^T x (x^T dy with transpose), gb += the rows of dy summed one after the other; what
 * array_net/layers/inner_product.py computes for the same sizes. */
static int
array_ip_backward(const float *dy, const float *x, const float *w, float *gx, float *gw,
                  float *gb, float *tw, float *tb, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                  int64_t transpose)
{
    if (gx != NULL) {
        int rc = transpose ? the_eg->gemm(dy, N, 1, w, 1, N, gx, K, M, K, N, 0, 1)
                           : the_eg->gemm(dy, N, 1, w, K, 1, gx, K, M, K, N, 0, 1);
        if (rc != 0)
            return -1;
    }
    if (gw != NULL) {
        int rc = transpose ? the_eg->gemm(x, 1, K, dy, N, 1, tw, N, K, N, M, 0, 1)
                           : the_eg->gemm(dy, 1, N, x, K, 1, tw, K, N, K, M, 0, 1);
        if (rc != 0)
            return -1;
        for (ptrdiff_t i = 0; i < N * K; i++)
            gw[i] = gw[i] + tw[i];
    }
    if (gb != NULL && M > 0) {
        memcpy(tb, dy, (size_t)N * sizeof(float));
        for (ptrdiff_t m = 1; m < M; m++)
            for (ptrdiff_t n = 0; n < N; n++)
                tb[n] = tb[n] + dy[m * N + n];
        for (ptrdiff_t n = 0; n < N; n++)
            gb[n] = gb[n] + tb[n];
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * The loop. */

#define P(i) ((i) < 0 ? NULL : (float *)(uintptr_t)ptrs[(i)])      /* optional: -1 = none */
#define R(i) ((float *)(uintptr_t)ptrs[(i)])                        /* required */
/* the torch engine's operations call torch's routines: bound by bind() only */
#define NEED_TORCH do { if (!torch_bound) return -1; } while (0)

/* One pass over the program for iteration it; 0, or 1 where it must stop before this
 * iteration (nothing of it committed: the update and the cursors come last), -1 on error. */
static int
run_once(const int64_t *ops, Py_ssize_t nops, const int64_t *ptrs, const double *consts,
         Py_ssize_t it, float *losses, const float *rates, int64_t *cursors, int lanes)
{
    Py_ssize_t pc = 0;
    while (pc < nops) {
        int64_t op = ops[pc];
        const int64_t *a = ops + pc + 1;
        switch (op) {
        case OP_ZERO:
            memset(R(a[0]), 0, (size_t)a[1] * sizeof(float));
            pc += 3;
            break;
        case OP_DATA: {
            const float *src = R(a[0]) + cursors[a[1]] * a[2];
            memcpy(R(a[3]), src, (size_t)(a[2] * a[4]) * sizeof(float));
            pc += 6;
            break;
        }
        case OP_IP_FWD:
            if (ip_forward(P(a[0]), P(a[1]), P(a[2]), P(a[3]), a[4], a[5], a[6], a[7],
                           a[8]) != 0)
                return -1;
            pc += 10;
            break;
        case OP_RELU_FWD: {
            const float *x = P(a[0]);
            float *y = P(a[1]);
            for (int64_t i = 0; i < a[2]; i++)
                y[i] = 0.0f > x[i] ? 0.0f : x[i];     /* max(0, x): -0 and NaN kept */
            pc += 4;
            break;
        }
        case OP_SMLOSS_FWD: {
            NEED_TORCH;
            const float *x = P(a[0]), *label = P(a[1]);
            float *prob = P(a[2]), *loss = P(a[3]), *logs = P(a[4]);
            ptrdiff_t M = a[5], C = a[6];
            if (!labels_in_range(label, M, C))
                return 1;
            if (softmax_rows(x, prob, M, C) != 0)
                return -1;
            for (ptrdiff_t m = 0; m < M; m++) {
                float v = prob[m * C + label_class(label[m], C)];
                logs[m] = v < FLT_MIN_VALUE ? FLT_MIN_VALUE : v;
            }
            the_vsln((int)M, logs, logs);
            float s = 0.0f + inner_sum(logs, M, lanes);
            loss[0] = s / (float)consts[a[7]];
            pc += 9;
            break;
        }
        case OP_LOSS: {
            int64_t count = a[0];
            double total = 0.0;
            for (int64_t i = 0; i < count; i++)
                total += consts[a[2 + 2 * i]] * (double)P(a[1 + 2 * i])[0];
            float l = (float)total;
            l = 0.0f + l;
            losses[it] = l / 1.0f;
            pc += 2 + 2 * count;
            break;
        }
        case OP_SMLOSS_BWD: {
            const float *prob = P(a[0]), *label = P(a[1]), *dloss = P(a[2]);
            float *dx = P(a[3]);
            ptrdiff_t M = a[4], C = a[5];
            float scale = dloss[0] / (float)consts[a[6]];
            for (ptrdiff_t m = 0; m < M; m++) {
                ptrdiff_t c = label_class(label[m], C);
                for (ptrdiff_t j = 0; j < C; j++) {
                    float g = prob[m * C + j];
                    if (j == c)
                        g = g + -1.0f;
                    dx[m * C + j] = g * scale;
                }
            }
            pc += 8;
            break;
        }
        case OP_ADD: {
            const float *x = P(a[0]), *y = P(a[1]);
            float *out = P(a[2]);
            for (int64_t i = 0; i < a[3]; i++)
                out[i] = x[i] + y[i];
            pc += 5;
            break;
        }
        case OP_COPY:
            memmove(R(a[1]), R(a[0]), (size_t)a[2] * sizeof(float));
            pc += 4;
            break;
        case OP_RELU_BWD: {
            const float *dy = P(a[0]), *y = P(a[1]);
            float *dx = P(a[2]);
            for (int64_t i = 0; i < a[3]; i++)
                dx[i] = y[i] <= 0.0f ? 0.0f : dy[i];
            pc += 5;
            break;
        }
        case OP_IP_BWD:
            NEED_TORCH;
            if (ip_backward(P(a[0]), P(a[1]), P(a[2]), P(a[3]), P(a[4]), P(a[5]), P(a[6]),
                            P(a[7]), a[8], a[9], a[10], a[11], lanes) != 0)
                return -1;
            pc += 13;
            break;
        case OP_UPDATE: {
            int64_t count = a[0];
            float momentum = (float)consts[a[1]];
            su_update_fn fn = a[2] ? the_su->fused : the_su->unfused;
            for (int64_t i = 0; i < count; i++) {
                const int64_t *b = a + 3 + 5 * i;
                fn(P(b[0]), P(b[1]), P(b[2]), b[3], (float)consts[b[4]],
                   rates[it * count + i], momentum);
            }
            pc += 4 + 5 * count;
            break;
        }
        case OP_ADVANCE:
            cursors[a[0]] += a[1];
            pc += 3;
            break;
        case OP_SIGMOID_FWD:
            NEED_TORCH;
            sigmoid_forward(R(a[0]), R(a[1]), a[2], (double *)R(a[3]));
            pc += 5;
            break;
        case OP_SIGMOID_BWD: {
            /* _bwd of Sigmoid: dy * y * (1 - y), three float32 operations */
            const float *dy = R(a[0]), *y = R(a[1]);
            float *dx = R(a[2]);
            for (int64_t i = 0; i < a[3]; i++) {
                float p = dy[i] * y[i];
                float q = 1.0f - y[i];
                dx[i] = p * q;
            }
            pc += 5;
            break;
        }
        case OP_TANH_FWD:
            NEED_TORCH;
            if (a[2] > 0)
                the_vstanh((int)a[2], R(a[0]), R(a[1]));
            pc += 4;
            break;
        case OP_TANH_BWD:
            tanh_backward(R(a[0]), R(a[1]), R(a[2]), a[3]);
            pc += 5;
            break;
        case OP_EUCLID_FWD: {
            /* EuclideanLoss.forward: d = a - b, sum(d * d) / N / 2 */
            const float *x = R(a[0]), *t = R(a[1]);
            float *d = R(a[2]), *sq = R(a[3]), *loss = R(a[4]);
            ptrdiff_t count = a[5] * a[6];
            for (ptrdiff_t i = 0; i < count; i++) {
                d[i] = x[i] - t[i];
                sq[i] = d[i] * d[i];
            }
            float s = 0.0f + inner_sum(sq, count, lanes);
            s = s / (float)a[5];
            loss[0] = s / 2.0f;
            pc += 8;
            break;
        }
        case OP_EUCLID_BWD: {
            /* autograd's chain for it: g / 2 / N, then d's two products summed, and the
             * negation for the second input */
            const float *d = R(a[0]), *dloss = R(a[1]);
            float *da = P(a[2]), *db = P(a[3]);
            ptrdiff_t count = a[4] * a[5];
            float g = dloss[0] / 2.0f;
            g = g / (float)a[4];
            for (ptrdiff_t i = 0; i < count; i++) {
                float t = g * d[i];
                float v = t + t;
                if (da != NULL)
                    da[i] = v;
                if (db != NULL)
                    db[i] = -v;
            }
            pc += 7;
            break;
        }
        case OP_LINEAR: {
            NEED_TORCH;
            const float *x = R(a[0]), *w = R(a[1]), *b = P(a[2]);
            float *y = R(a[3]);
            ptrdiff_t M = a[4], N = a[5], K = a[6], block = a[7];
            if (block <= 0 || M <= block)
                block = M;
            for (ptrdiff_t r = 0; r < M; r += block) {
                ptrdiff_t rows = M - r < block ? M - r : block;
                if (torch_linear(x + r * K, w, b, y + r * N, rows, N, K) != 0)
                    return -1;
            }
            pc += 9;
            break;
        }
        case OP_ACCURACY: {
            /* Accuracy._numpy_accuracy for (M, C) scores: the classes scoring >= the true
             * one, less itself, below top_k; the count over M as float32 */
            const float *x = R(a[0]), *label = R(a[1]);
            float *out = R(a[2]);
            ptrdiff_t M = a[3], C = a[4];
            int64_t correct = 0;
            for (ptrdiff_t m = 0; m < M; m++) {
                ptrdiff_t c = label_class(label[m], C);
                if (c < 0)
                    return 1;
                float t = x[m * C + c];
                int64_t better = -1;
                for (ptrdiff_t j = 0; j < C; j++)
                    better += x[m * C + j] >= t;
                correct += better < a[5];
            }
            out[0] = (float)correct / (float)M;
            pc += 7;
            break;
        }
        case OP_OUTPUT: {
            const float *src = R(a[0]);
            float *dst = R(a[1]) + it * a[4] + a[3];
            memcpy(dst, src, (size_t)a[2] * sizeof(float));
            pc += 6;
            break;
        }
        case OP_LOSS_VALUE: {
            int64_t count = a[0];
            double total = 0.0;
            for (int64_t i = 0; i < count; i++)
                total += consts[a[2 + 2 * i]] * (double)P(a[1 + 2 * i])[0];
            losses[it] = (float)total;
            pc += 2 + 2 * count;
            break;
        }
        case OP_ASMLOSS_FWD: {
            const float *x = R(a[0]), *label = R(a[1]);
            ptrdiff_t M = a[4], C = a[5];
            if (!labels_in_range(label, M, C))
                return 1;
            R(a[3])[0] = softmax_loss_rows(x, label, R(a[2]), M, C, (float)consts[a[6]]);
            pc += 8;
            break;
        }
        case OP_ARELU_FWD: {
            /* numpy's maximum(x, 0): x where x > 0 or NaN, else +0 */
            const float *x = R(a[0]);
            float *y = R(a[1]);
            for (int64_t i = 0; i < a[2]; i++)
                y[i] = (x[i] > 0.0f || isnan(x[i])) ? x[i] : 0.0f;
            pc += 4;
            break;
        }
        case OP_ARELU_BWD: {
            /* Caffe's dy * (x > 0): a product, so -0 and NaN as it gives them */
            const float *dy = R(a[0]), *x = R(a[1]);
            float *dx = R(a[2]);
            for (int64_t i = 0; i < a[3]; i++)
                dx[i] = dy[i] * (x[i] > 0.0f ? 1.0f : 0.0f);
            pc += 5;
            break;
        }
        case OP_AIP_BWD:
            if (array_ip_backward(P(a[0]), P(a[1]), P(a[2]), P(a[3]), P(a[4]), P(a[5]),
                                  P(a[6]), P(a[7]), a[8], a[9], a[10], a[11]) != 0)
                return -1;
            pc += 13;
            break;
        case OP_ALOSS: {
            /* ArrayNet.forward's loss: each loss top times its float32 weight, in float32,
             * summed in double; then the solver's float32 (0 + loss) / iter_size (1) */
            int64_t count = a[1];
            double total = 0.0;
            for (int64_t i = 0; i < count; i++) {
                float term = (float)consts[a[3 + 2 * i]] * R(a[2 + 2 * i])[0];
                total += (double)term;
            }
            float l = (float)total;
            if (a[0]) {
                l = 0.0f + l;
                l = l / 1.0f;
            }
            losses[it] = l;
            pc += 3 + 2 * count;
            break;
        }
        default:
            return -1;
        }
    }
    return 0;
}

static int
get_buffer(PyObject *o, Py_buffer *v, int writable, const char *format, Py_ssize_t itemsize,
           const char *what)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(o, v, flags) != 0)
        return -1;
    if (v->itemsize != itemsize || v->format == NULL || strchr(format, v->format[0]) == NULL) {
        PyErr_Format(PyExc_TypeError, "_tiny_solve.run: %s has the wrong item type", what);
        PyBuffer_Release(v);
        return -1;
    }
    return 0;
}

static PyObject *
py_run(PyObject *self, PyObject *args)
{
    PyObject *oops, *optrs, *oconsts, *olosses, *orates, *ocursors, *olimits;
    Py_ssize_t iterations;
    int lanes;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOnOOOOi:run", &oops, &optrs, &oconsts, &iterations,
                          &olosses, &orates, &ocursors, &olimits, &lanes))
        return NULL;
    if (the_eg == NULL || the_su == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_tiny_solve.run: neither bind() nor "
                        "bind_arrays() was called");
        return NULL;
    }
    if (lanes < 1 || lanes > 16) {
        PyErr_SetString(PyExc_ValueError, "_tiny_solve.run: lanes must be 1 to 16");
        return NULL;
    }
    Py_buffer bops, bptrs, bconsts, blosses, brates, bcursors, blimits;
    PyObject *objs[7] = {oops, optrs, oconsts, olosses, orates, ocursors, olimits};
    Py_buffer *bufs[7] = {&bops, &bptrs, &bconsts, &blosses, &brates, &bcursors, &blimits};
    const char *fmts[7] = {"qlL", "qlL", "d", "f", "f", "qlL", "qlL"};
    Py_ssize_t sizes[7] = {8, 8, 8, 4, 4, 8, 8};
    int writable[7] = {0, 0, 0, 1, 0, 1, 0};
    const char *names[7] = {"ops", "ptrs", "consts", "losses", "rates", "cursors", "limits"};
    int held = 0;
    PyObject *result = NULL;
    for (; held < 7; held++)
        if (get_buffer(objs[held], bufs[held], writable[held], fmts[held], sizes[held],
                       names[held]) != 0)
            goto done;
    if (blosses.len / 4 < iterations) {
        PyErr_SetString(PyExc_ValueError, "_tiny_solve.run: losses holds too few values");
        goto done;
    }
    const int64_t *ops = bops.buf, *ptrs = bptrs.buf, *limits = blimits.buf;
    int64_t *cursors = bcursors.buf;
    Py_ssize_t nops = bops.len / 8, nsources = bcursors.len / 8;
    Py_ssize_t done_count = 0;
    int rc = 0;
    Py_BEGIN_ALLOW_THREADS
    for (; done_count < iterations; done_count++) {
        int room = 1;
        for (Py_ssize_t s = 0; s < nsources / 2; s++)
            if (cursors[2 * s] + cursors[2 * s + 1] >= limits[s])
                room = 0;
        if (!room)
            break;
        rc = run_once(ops, nops, ptrs, bconsts.buf, done_count, blosses.buf, brates.buf,
                      cursors, lanes);
        if (rc != 0)
            break;
    }
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyErr_SetString(PyExc_RuntimeError, "_tiny_solve.run: a product failed (out of memory "
                        "or operands it cannot take), or an operation of the torch engine ran "
                        "without bind()");
        goto done;
    }
    result = PyLong_FromSsize_t(done_count);
done:
    for (int i = 0; i < held; i++)
        PyBuffer_Release(bufs[i]);
    return result;
}

static PyObject *
py_bind(PyObject *self, PyObject *args)
{
    unsigned long long sgemm, vsln, expf8, vstanh, vdtanh;
    (void)self;
    if (!PyArg_ParseTuple(args, "KKKKK:bind", &sgemm, &vsln, &expf8, &vstanh, &vdtanh))
        return NULL;
    if (!sgemm || !vsln || !expf8 || !vstanh || !vdtanh) {
        PyErr_SetString(PyExc_ValueError, "_tiny_solve.bind: null address");
        return NULL;
    }
    const eg_api *eg = PyCapsule_Import("caffe_compat.kernels._exact_gemm._C_API", 0);
    if (eg == NULL)
        return NULL;
    const su_api *su = PyCapsule_Import("caffe_compat.kernels._sgd_update._C_API", 0);
    if (su == NULL)
        return NULL;
    the_sgemm = (sgemm_fn)(uintptr_t)sgemm;
    the_vsln = (vsln_fn)(uintptr_t)vsln;
    the_expf8 = (void *)(uintptr_t)expf8;
    the_vstanh = (vsln_fn)(uintptr_t)vstanh;
    the_vdtanh = (vdtanh_fn)(uintptr_t)vdtanh;
    the_eg = eg;
    the_su = su;
    torch_bound = 1;
    Py_RETURN_NONE;
}

/* The capsules only: the array engine's operations need none of torch's routines. */
static PyObject *
py_bind_arrays(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    const eg_api *eg = PyCapsule_Import("caffe_compat.kernels._exact_gemm._C_API", 0);
    if (eg == NULL)
        return NULL;
    const su_api *su = PyCapsule_Import("caffe_compat.kernels._sgd_update._C_API", 0);
    if (su == NULL)
        return NULL;
    the_eg = eg;
    the_su = su;
    Py_RETURN_NONE;
}

/* Single primitives on arrays, for the probe that compares them with torch's calls. */
static PyObject *
py_primitive(PyObject *self, PyObject *args)
{
    const char *name;
    Py_buffer x, y;
    Py_ssize_t d0, d1, d2, d3;
    (void)self;
    if (!PyArg_ParseTuple(args, "sy*w*nnnn:primitive", &name, &x, &y, &d0, &d1, &d2, &d3))
        return NULL;
    int rc = 0;
    const float *in = x.buf;
    float *out = y.buf;
    if (strcmp(name, "softmax") == 0) {              /* (d0, d1) */
        rc = (x.len < d0 * d1 * 4 || y.len < d0 * d1 * 4) ? -1 : softmax_rows(in, out, d0, d1);
    } else if (strcmp(name, "softmax_loss") == 0) {
        /* x holds the (d0, d1) scores then d0 labels in [0, d1); y: the probabilities then
         * the loss; d2: the normalizer */
        ptrdiff_t M = d0, C = d1;
        rc = (x.len < (M * C + M) * 4 || y.len < (M * C + 1) * 4 || M < 1 || C < 1 ||
              !labels_in_range(in + M * C, M, C)) ? -1 : 0;
        if (!rc)
            out[M * C] = softmax_loss_rows(in, in + M * C, out, M, C, (float)d2);
    } else if (strcmp(name, "linear") == 0) {
        /* x holds X (M, K), W (N, K) then b (N) (d3: 1 with a bias) */
        ptrdiff_t M = d0, K = d1, N = d2;
        if (x.len < (M * K + N * K + N) * 4 || y.len < M * N * 4)
            rc = -1;
        else
            rc = torch_linear(in, in + M * K, d3 ? in + M * K + N * K : NULL, out, M, N, K);
    } else if (strcmp(name, "sigmoid") == 0) {       /* d0 values */
        double *t = PyMem_Malloc((size_t)(d0 > 0 ? d0 : 1) * sizeof(double));
        rc = t == NULL || x.len < d0 * 4 || y.len < d0 * 4 ? -1 : 0;
        if (!rc)
            sigmoid_forward(in, out, d0, t);
        PyMem_Free(t);
    } else if (strcmp(name, "tanh") == 0) {          /* d0 values */
        rc = x.len < d0 * 4 || y.len < d0 * 4 ? -1 : 0;
        if (!rc && d0 > 0)
            the_vstanh((int)d0, in, out);
    } else if (strcmp(name, "tanh_backward") == 0) { /* x: dy then y, d0 each */
        rc = x.len < 2 * d0 * 4 || y.len < d0 * 4 ? -1 : 0;
        if (!rc)
            tanh_backward(in, in + d0, out, d0);
    } else if (strcmp(name, "relu") == 0) {          /* d0 values */
        rc = x.len < d0 * 4 || y.len < d0 * 4 ? -1 : 0;
        for (Py_ssize_t i = 0; !rc && i < d0; i++)
            out[i] = 0.0f > in[i] ? 0.0f : in[i];
    } else if (strcmp(name, "log") == 0) {           /* d0 values */
        if (x.len < d0 * 4 || y.len < d0 * 4)
            rc = -1;
        else
            the_vsln((int)d0, in, out);
    } else if (strcmp(name, "sum") == 0) {           /* d0 values, d1 lanes */
        rc = x.len < d0 * 4 || y.len < 4 ? -1 : 0;
        if (!rc)
            out[0] = 0.0f + inner_sum(in, d0, (int)d1);
    } else if (strcmp(name, "colsum") == 0) {        /* (d0, d1), d2 lanes */
        rc = x.len < d0 * d1 * 4 || y.len < d1 * 4 ? -1 : 0;
        if (!rc)
            column_sums(in, d0, d1, out, (int)d2);
    } else if (strcmp(name, "mm") == 0) {
        /* x holds A (M, K) then B (K, N), contiguous; d3 bit 0: A given as A^T's storage,
         * bit 1: B given as B^T's storage (the transposed views of the backward passes) */
        ptrdiff_t M = d0, K = d1, N = d2;
        if (x.len < (M * K + K * N) * 4 || y.len < M * N * 4)
            rc = -1;
        else {
            const float *A = in, *B = in + M * K;
            ptrdiff_t sa0 = (d3 & 1) ? 1 : K, sa1 = (d3 & 1) ? M : 1;
            ptrdiff_t sb0 = (d3 & 2) ? 1 : N, sb1 = (d3 & 2) ? K : 1;
            rc = torch_mm(A, sa0, sa1, B, sb0, sb1, out, M, K, N);
        }
    } else {
        rc = -2;
    }
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    if (rc == -2) {
        PyErr_Format(PyExc_ValueError, "_tiny_solve.primitive: unknown '%s'", name);
        return NULL;
    }
    if (rc != 0) {
        PyErr_Format(PyExc_ValueError, "_tiny_solve.primitive: '%s' cannot take these "
                     "operands", name);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Caffe's UpdateSmoothedLoss over n losses, in float32 (DisplayMixin._update_smoothed_loss):
 * while fewer than average are kept, the mean of those kept; then the oldest replaced and the
 * mean moved by (new - old) / average. ring: the kept losses (average slots), size of them
 * filled; offset: iter - start_iter of the first loss. Returns (smoothed, size). */
static PyObject *
py_smooth(PyObject *self, PyObject *args)
{
    Py_buffer losses, ring;
    Py_ssize_t size, offset, average;
    float smoothed;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*w*nfnn:smooth", &losses, &ring, &size, &smoothed, &offset,
                          &average))
        return NULL;
    const float *l = losses.buf;
    float *r = ring.buf;
    Py_ssize_t n = losses.len / 4;
    if (average < 1 || ring.len / 4 < average || size < 0 || size > average) {
        PyBuffer_Release(&losses);
        PyBuffer_Release(&ring);
        PyErr_SetString(PyExc_ValueError, "_tiny_solve.smooth: bad ring");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        float loss = l[i];
        if (size < average) {
            r[size++] = loss;
            float prod = smoothed * (float)(size - 1);
            float sum = prod + loss;
            smoothed = sum / (float)size;
        } else {
            Py_ssize_t idx = (offset + i) % average;
            float step = (loss - r[idx]) / (float)average;
            smoothed = smoothed + step;
            r[idx] = loss;
        }
    }
    PyBuffer_Release(&losses);
    PyBuffer_Release(&ring);
    return Py_BuildValue("fn", smoothed, size);
}

static PyMethodDef methods[] = {
    {"smooth", py_smooth, METH_VARARGS,
     "smooth(losses, ring, size, smoothed, offset, average) -> (smoothed, size): Caffe's "
     "smoothed loss over the losses, the ring of kept losses updated in place."},
    {"bind", py_bind, METH_VARARGS,
     "bind(sgemm, vsln, expf8, vstanh, vdtanh): the addresses of torch's MKL sgemm_, vsLn, "
     "vsTanh, vdTanh and Sleef_expf8_u10."},
    {"bind_arrays", py_bind_arrays, METH_NOARGS,
     "bind_arrays(): the capsules of _exact_gemm and _sgd_update, for the array engine's "
     "operations (no torch routine)."},
    {"run", py_run, METH_VARARGS,
     "run(ops, ptrs, consts, iterations, losses, rates, cursors, limits, lanes): iterations "
     "of a program; returns how many ran."},
    {"primitive", py_primitive, METH_VARARGS,
     "primitive(name, x, y, d0, d1, d2, d3): one of the loop's computations on arrays."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_tiny_solve",
    "Many training iterations of a small net in one call.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__tiny_solve(void)
{
    return PyModule_Create(&module);
}
