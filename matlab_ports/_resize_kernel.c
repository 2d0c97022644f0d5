/*
 * The 1-D passes of matlab_ports.imresize, in C.
 *
 *     resize_pass(src, dst, weights, indices, nthreads)
 *     resize_fused(src, dst, weights1, indices1, weights2, indices2, nthreads)
 *
 * resize_pass: src is a 3-D array (A, L, M) of double, single, uint8, int8, uint16, int16,
 * uint32 or int32 with any strides; dst a writable 3-D double array (A, L', M) with any
 * strides; weights (L', K) double and indices (L', K) int64, C-contiguous, indices 0-based into
 * L. For every a, o, m:
 *
 *     acc = x_0 * w_0;  acc = acc + x_1 * w_1;  ...;  acc = acc + x_{K-1} * w_{K-1}
 *     dst[a, o, m] = acc,      x_k = (double) src[a, indices[o, k], m],  w_k = weights[o, k]
 *
 * which is, operation for operation, what the numpy path of imresize.py computes: the first
 * product starts the sum (starting from 0.0 would turn a -0.0 result into +0.0), each product
 * is rounded to double before it is added, taps are added left to right. Vector code computes
 * several m at once, each lane doing exactly the scalar sequence above; nothing is reassociated
 * and nothing is fused. The module must be built with -ffp-contract=off and without
 * -ffast-math, so that the compiler never turns a multiply followed by an add into a fused
 * multiply-add (one rounding instead of two); AVX-512F has fused multiply-adds, so the flag
 * matters for its variant. Variants for SSE2, AVX and AVX-512F are compiled with target
 * attributes (no -march) and picked at run time; tests/matlab_ports/test_imresize_kernel.py
 * disassembles the built module and checks that it contains no FMA instruction at all. (Which
 * NaN an addition keeps when both operands are different NaNs is left to the hardware and the
 * compiler, here as in numpy's own loops, whose choice even varies with the element's position
 * in the loop; NaN results are NaN in the same places.)
 *
 * resize_fused: both passes of a resize whose result is (A, P', L') and contiguous along L':
 * src (A, P, L) -> (A, P, L') along L with weights1/indices1 -> (A, P', L') along P with
 * weights2/indices2, each pass as resize_pass computes it, the intermediate kept in cache.
 *
 * Work is cut into units (runs of output rows, tiles of columns, bands of the result) that
 * threads take in turn; each output element is computed by exactly one thread, in the order
 * above, so results do not depend on the number of threads. The GIL is released meanwhile.
 *
 * result_buffer(nbytes) gives memory for a large result, reusing that of a dropped result when
 * one fits (see "Result buffers" below); release_results() frees what is kept.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <float.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define RK_X86 1
#include <immintrin.h>
#else
#define RK_X86 0
#endif

#if defined(__FAST_MATH__)
#error "_resize_kernel must be compiled without -ffast-math (IEEE double arithmetic required)"
#endif
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "_resize_kernel needs double arithmetic evaluated in double (e.g. SSE2, not x87)"
#endif

/* ------------------------------------------------------------------------------------------
 * Rows: out row (o - o0) = sum_k w[o, k] * src row idx[o, k], over n contiguous doubles. */

typedef void (*rows_fn)(double *out, ptrdiff_t ostride, const double *src, ptrdiff_t sstride,
                        const double *w, const int64_t *idx, ptrdiff_t K, ptrdiff_t o0,
                        ptrdiff_t o1, ptrdiff_t n);

#define RK_SCALAR_TAIL                                                                   \
    for (; b < n; b++) {                                                                 \
        double acc = src[io[0] * sstride + b] * wo[0];                                   \
        for (ptrdiff_t k = 1; k < K; k++)                                                \
            acc = acc + src[io[k] * sstride + b] * wo[k];                                \
        d[b] = acc;                                                                      \
    }

static void
rows_scalar(double *out, ptrdiff_t ostride, const double *src, ptrdiff_t sstride,
            const double *w, const int64_t *idx, ptrdiff_t K, ptrdiff_t o0, ptrdiff_t o1,
            ptrdiff_t n)
{
    for (ptrdiff_t o = o0; o < o1; o++) {
        const double *wo = w + o * K;
        const int64_t *io = idx + o * K;
        double *d = out + (o - o0) * ostride;
        ptrdiff_t b = 0;
        RK_SCALAR_TAIL
    }
}

/* q is an (no, B) block, row o holding columns 0..nb-1; column b goes to dst + coff[b] as a
 * contiguous run of no doubles (dst's stride along o is 1). Data movement only. */
typedef void (*tstore_fn)(double *dst, const ptrdiff_t *coff, const double *q, ptrdiff_t B,
                          ptrdiff_t nb, ptrdiff_t no);

#define RK_TSTORE_TAIL(B0, O0)                                                           \
    for (ptrdiff_t tb = (B0); tb < nb; tb++)                                             \
        for (ptrdiff_t to = 0; to < no; to++)                                            \
            dst[coff[tb] + to] = q[to * B + tb];                                         \
    for (ptrdiff_t tb = 0; tb < (B0); tb++)                                              \
        for (ptrdiff_t to = (O0); to < no; to++)                                         \
            dst[coff[tb] + to] = q[to * B + tb];

static void
tstore_scalar(double *dst, const ptrdiff_t *coff, const double *q, ptrdiff_t B, ptrdiff_t nb,
              ptrdiff_t no)
{
    RK_TSTORE_TAIL(0, 0)
}

#if RK_X86
/* VT: vector type, V: lanes. Each lane: acc = x0*w0, then acc = acc + xk*wk for k = 1..K-1.
 * TAIL finishes columns b..n-1 of a row (masked vector or scalar, same operations). */
#define RK_DEFINE_ROWS(NAME, ATTR, VT, V, LOADU, STOREU, SET1, MUL, ADD, TAIL)            \
    ATTR static void                                                                     \
    NAME(double *out, ptrdiff_t ostride, const double *src, ptrdiff_t sstride,           \
         const double *w, const int64_t *idx, ptrdiff_t K, ptrdiff_t o0, ptrdiff_t o1,   \
         ptrdiff_t n)                                                                    \
    {                                                                                    \
        for (ptrdiff_t o = o0; o < o1; o++) {                                            \
            const double *wo = w + o * K;                                                \
            const int64_t *io = idx + o * K;                                             \
            double *d = out + (o - o0) * ostride;                                        \
            ptrdiff_t b = 0;                                                             \
            for (; b + 4 * (V) <= n; b += 4 * (V)) {                                     \
                const double *x = src + io[0] * sstride + b;                             \
                VT wk = SET1(wo[0]);                                                     \
                VT a0 = MUL(LOADU(x), wk);                                               \
                VT a1 = MUL(LOADU(x + (V)), wk);                                         \
                VT a2 = MUL(LOADU(x + 2 * (V)), wk);                                     \
                VT a3 = MUL(LOADU(x + 3 * (V)), wk);                                     \
                for (ptrdiff_t k = 1; k < K; k++) {                                      \
                    x = src + io[k] * sstride + b;                                       \
                    wk = SET1(wo[k]);                                                    \
                    a0 = ADD(a0, MUL(LOADU(x), wk));                                     \
                    a1 = ADD(a1, MUL(LOADU(x + (V)), wk));                               \
                    a2 = ADD(a2, MUL(LOADU(x + 2 * (V)), wk));                           \
                    a3 = ADD(a3, MUL(LOADU(x + 3 * (V)), wk));                           \
                }                                                                        \
                STOREU(d + b, a0);                                                       \
                STOREU(d + b + (V), a1);                                                 \
                STOREU(d + b + 2 * (V), a2);                                             \
                STOREU(d + b + 3 * (V), a3);                                             \
            }                                                                            \
            for (; b + (V) <= n; b += (V)) {                                             \
                VT a0 = MUL(LOADU(src + io[0] * sstride + b), SET1(wo[0]));              \
                for (ptrdiff_t k = 1; k < K; k++)                                        \
                    a0 = ADD(a0, MUL(LOADU(src + io[k] * sstride + b), SET1(wo[k])));    \
                STOREU(d + b, a0);                                                       \
            }                                                                            \
            TAIL                                                                         \
        }                                                                                \
    }

/* lanes past n are neither read nor written (masked loads and stores) */
#define RK_TAIL_AVX                                                                      \
    if (b < n) {                                                                         \
        static const int64_t lanes[8] = {-1, -1, -1, -1, 0, 0, 0, 0};                    \
        __m256i m = _mm256_loadu_si256((const __m256i *)(lanes + 4 - (n - b)));          \
        __m256d a0 = _mm256_mul_pd(_mm256_maskload_pd(src + io[0] * sstride + b, m),     \
                                   _mm256_set1_pd(wo[0]));                               \
        for (ptrdiff_t k = 1; k < K; k++)                                                \
            a0 = _mm256_add_pd(a0, _mm256_mul_pd(                                        \
                _mm256_maskload_pd(src + io[k] * sstride + b, m), _mm256_set1_pd(wo[k]))); \
        _mm256_maskstore_pd(d + b, m, a0);                                               \
    }

#define RK_TAIL_AVX512                                                                   \
    if (b < n) {                                                                         \
        __mmask8 m = (__mmask8)((1u << (n - b)) - 1u);                                   \
        __m512d a0 = _mm512_mul_pd(_mm512_maskz_loadu_pd(m, src + io[0] * sstride + b),  \
                                   _mm512_set1_pd(wo[0]));                               \
        for (ptrdiff_t k = 1; k < K; k++)                                                \
            a0 = _mm512_add_pd(a0, _mm512_mul_pd(                                        \
                _mm512_maskz_loadu_pd(m, src + io[k] * sstride + b), _mm512_set1_pd(wo[k]))); \
        _mm512_mask_storeu_pd(d + b, m, a0);                                             \
    }

RK_DEFINE_ROWS(rows_sse2, , __m128d, 2, _mm_loadu_pd, _mm_storeu_pd, _mm_set1_pd, _mm_mul_pd,
               _mm_add_pd, RK_SCALAR_TAIL)
RK_DEFINE_ROWS(rows_avx, __attribute__((target("avx"))), __m256d, 4, _mm256_loadu_pd,
               _mm256_storeu_pd, _mm256_set1_pd, _mm256_mul_pd, _mm256_add_pd, RK_TAIL_AVX)
RK_DEFINE_ROWS(rows_avx512, __attribute__((target("avx512f"))), __m512d, 8, _mm512_loadu_pd,
               _mm512_storeu_pd, _mm512_set1_pd, _mm512_mul_pd, _mm512_add_pd,
               RK_TAIL_AVX512)

/* Block transposes: 2x2, 4x4 and 8x8 blocks through registers, the rest one by one. */
static void
tstore_sse2(double *dst, const ptrdiff_t *coff, const double *q, ptrdiff_t B, ptrdiff_t nb,
            ptrdiff_t no)
{
    ptrdiff_t b0 = 0;
    for (; b0 + 2 <= nb; b0 += 2)
        for (ptrdiff_t o = 0; o + 2 <= no; o += 2) {
            __m128d r0 = _mm_loadu_pd(q + o * B + b0);
            __m128d r1 = _mm_loadu_pd(q + (o + 1) * B + b0);
            _mm_storeu_pd(dst + coff[b0] + o, _mm_unpacklo_pd(r0, r1));
            _mm_storeu_pd(dst + coff[b0 + 1] + o, _mm_unpackhi_pd(r0, r1));
        }
    RK_TSTORE_TAIL(b0, no / 2 * 2)
}

__attribute__((target("avx"))) static void
tstore_avx(double *dst, const ptrdiff_t *coff, const double *q, ptrdiff_t B, ptrdiff_t nb,
           ptrdiff_t no)
{
    ptrdiff_t b0 = 0;
    for (; b0 + 4 <= nb; b0 += 4)
        for (ptrdiff_t o = 0; o + 4 <= no; o += 4) {
            const double *s = q + o * B + b0;
            __m256d r0 = _mm256_loadu_pd(s), r1 = _mm256_loadu_pd(s + B);
            __m256d r2 = _mm256_loadu_pd(s + 2 * B), r3 = _mm256_loadu_pd(s + 3 * B);
            __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
            __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
            _mm256_storeu_pd(dst + coff[b0] + o, _mm256_permute2f128_pd(t0, t2, 0x20));
            _mm256_storeu_pd(dst + coff[b0 + 1] + o, _mm256_permute2f128_pd(t1, t3, 0x20));
            _mm256_storeu_pd(dst + coff[b0 + 2] + o, _mm256_permute2f128_pd(t0, t2, 0x31));
            _mm256_storeu_pd(dst + coff[b0 + 3] + o, _mm256_permute2f128_pd(t1, t3, 0x31));
        }
    RK_TSTORE_TAIL(b0, no / 4 * 4)
}

__attribute__((target("avx512f"))) static void
tstore_avx512(double *dst, const ptrdiff_t *coff, const double *q, ptrdiff_t B, ptrdiff_t nb,
              ptrdiff_t no)
{
    const __m512i lo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
    const __m512i hi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    ptrdiff_t b0 = 0;
    for (; b0 + 8 <= nb; b0 += 8)
        for (ptrdiff_t o = 0; o + 8 <= no; o += 8) {
            const double *s = q + o * B + b0;
            __m512d r0 = _mm512_loadu_pd(s), r1 = _mm512_loadu_pd(s + B);
            __m512d r2 = _mm512_loadu_pd(s + 2 * B), r3 = _mm512_loadu_pd(s + 3 * B);
            __m512d r4 = _mm512_loadu_pd(s + 4 * B), r5 = _mm512_loadu_pd(s + 5 * B);
            __m512d r6 = _mm512_loadu_pd(s + 6 * B), r7 = _mm512_loadu_pd(s + 7 * B);
            /* t0 = r0_0 r1_0 r0_2 r1_2 r0_4 r1_4 r0_6 r1_6, t1 the odd columns, ... */
            __m512d t0 = _mm512_unpacklo_pd(r0, r1), t1 = _mm512_unpackhi_pd(r0, r1);
            __m512d t2 = _mm512_unpacklo_pd(r2, r3), t3 = _mm512_unpackhi_pd(r2, r3);
            __m512d t4 = _mm512_unpacklo_pd(r4, r5), t5 = _mm512_unpackhi_pd(r4, r5);
            __m512d t6 = _mm512_unpacklo_pd(r6, r7), t7 = _mm512_unpackhi_pd(r6, r7);
            /* u0 = r0_0 r1_0 r2_0 r3_0 r0_4 r1_4 r2_4 r3_4, u1 = columns 2 and 6, ... */
            __m512d u0 = _mm512_permutex2var_pd(t0, lo, t2);
            __m512d u1 = _mm512_permutex2var_pd(t0, hi, t2);
            __m512d u2 = _mm512_permutex2var_pd(t1, lo, t3);
            __m512d u3 = _mm512_permutex2var_pd(t1, hi, t3);
            __m512d u4 = _mm512_permutex2var_pd(t4, lo, t6);
            __m512d u5 = _mm512_permutex2var_pd(t4, hi, t6);
            __m512d u6 = _mm512_permutex2var_pd(t5, lo, t7);
            __m512d u7 = _mm512_permutex2var_pd(t5, hi, t7);
            /* low halves of u0 and u4 make column 0, high halves column 4, ... */
            _mm512_storeu_pd(dst + coff[b0] + o, _mm512_shuffle_f64x2(u0, u4, 0x44));
            _mm512_storeu_pd(dst + coff[b0 + 4] + o, _mm512_shuffle_f64x2(u0, u4, 0xEE));
            _mm512_storeu_pd(dst + coff[b0 + 2] + o, _mm512_shuffle_f64x2(u1, u5, 0x44));
            _mm512_storeu_pd(dst + coff[b0 + 6] + o, _mm512_shuffle_f64x2(u1, u5, 0xEE));
            _mm512_storeu_pd(dst + coff[b0 + 1] + o, _mm512_shuffle_f64x2(u2, u6, 0x44));
            _mm512_storeu_pd(dst + coff[b0 + 5] + o, _mm512_shuffle_f64x2(u2, u6, 0xEE));
            _mm512_storeu_pd(dst + coff[b0 + 3] + o, _mm512_shuffle_f64x2(u3, u7, 0x44));
            _mm512_storeu_pd(dst + coff[b0 + 7] + o, _mm512_shuffle_f64x2(u3, u7, 0xEE));
        }
    RK_TSTORE_TAIL(b0, no / 8 * 8)
}
#endif

typedef struct {
    const char *name;
    rows_fn rows;
    tstore_fn tstore;
} level_t;

static const level_t levels[] = {
    {"scalar", rows_scalar, tstore_scalar},
#if RK_X86
    {"sse2", rows_sse2, tstore_sse2},
    {"avx", rows_avx, tstore_avx},
    {"avx512f", rows_avx512, tstore_avx512},
#endif
};
static int max_level = 0;
static int cur_level = 0;

static int
detect_level(void)
{
#if RK_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return 3;
    if (__builtin_cpu_supports("avx"))
        return 2;
    return 1;
#else
    return 0;
#endif
}

/* ------------------------------------------------------------------------------------------
 * Strided 3-D copies with conversion to double: dst[i0, i1, i2] = (double) src[i0, i1, i2].
 * dst strides in doubles, src strides in bytes; the caller orders the axes so that the
 * innermost one has the smallest stride on the side that matters. */

enum { T_F64, T_F32, T_U8, T_I8, T_U16, T_I16, T_U32, T_I32 };

#define RK_DEFINE_COPY(NAME, T)                                                          \
    static void                                                                          \
    NAME(double *dst, const ptrdiff_t *ds, const char *src, const ptrdiff_t *ss,         \
         const ptrdiff_t *n)                                                             \
    {                                                                                    \
        for (ptrdiff_t i0 = 0; i0 < n[0]; i0++)                                          \
            for (ptrdiff_t i1 = 0; i1 < n[1]; i1++) {                                    \
                double *d = dst + i0 * ds[0] + i1 * ds[1];                               \
                const char *s = src + i0 * ss[0] + i1 * ss[1];                           \
                for (ptrdiff_t i2 = 0; i2 < n[2]; i2++)                                  \
                    d[i2 * ds[2]] = (double)*(const T *)(s + i2 * ss[2]);                \
            }                                                                            \
    }

RK_DEFINE_COPY(copy_f64, double)
RK_DEFINE_COPY(copy_f32, float)
RK_DEFINE_COPY(copy_u8, uint8_t)
RK_DEFINE_COPY(copy_i8, int8_t)
RK_DEFINE_COPY(copy_u16, uint16_t)
RK_DEFINE_COPY(copy_i16, int16_t)
RK_DEFINE_COPY(copy_u32, uint32_t)
RK_DEFINE_COPY(copy_i32, int32_t)

typedef void (*copy_fn)(double *, const ptrdiff_t *, const char *, const ptrdiff_t *,
                        const ptrdiff_t *);
static const copy_fn copy_fns[] = {copy_f64, copy_f32, copy_u8,  copy_i8,
                                   copy_u16, copy_i16, copy_u32, copy_i32};

static ptrdiff_t
absd(ptrdiff_t v)
{
    return v < 0 ? -v : v;
}

/* Copy with the axes reordered so the one with the smallest key stride is innermost (axes of
 * extent 1 count as largest). */
static void
copy3(copy_fn fn, double *dst, const ptrdiff_t *ds, const char *src, const ptrdiff_t *ss,
      const ptrdiff_t *n, const ptrdiff_t *key)
{
    int p[3] = {0, 1, 2};
    ptrdiff_t kk[3];
    for (int i = 0; i < 3; i++)
        kk[i] = n[i] > 1 ? absd(key[i]) : PTRDIFF_MAX;
    for (int i = 0; i < 3; i++) /* sort by descending key: innermost (last) is smallest */
        for (int j = i + 1; j < 3; j++)
            if (kk[p[j]] > kk[p[i]]) {
                int t = p[i];
                p[i] = p[j];
                p[j] = t;
            }
    ptrdiff_t pd[3], ps[3], pn[3];
    for (int i = 0; i < 3; i++) {
        pd[i] = ds[p[i]];
        ps[i] = ss[p[i]];
        pn[i] = n[p[i]];
    }
    fn(dst, pd, src, ps, pn);
}

/* ------------------------------------------------------------------------------------------
 * One pass: src (A, L, M) -> dst (A, Lo, M), resizing the middle axis.
 *
 * Columns are the (a, m) pairs. When src keeps the A values of each m next to each other (a
 * stride = itemsize, m stride = A * itemsize) the pass runs on the virtual array (1, L, A * M)
 * whose column m * A + a is contiguous in src; otherwise on (A, L, M) as given.
 *
 * Direct mode (src double and contiguous along the columns, dst too): a unit is a run of output
 * rows of one a, computed from src rows straight into dst rows.
 * Tile mode (all else): a unit is a tile of B columns of a group of a. The tile's src rows are
 * read in place when contiguous, else gathered (and converted to double) into a panel. Results
 * go straight to dst when it is contiguous along the columns; else qrows output rows at a time
 * go into a block q that is then stored column by column, each column being a contiguous run
 * of dst when the resized axis is dst's contiguous one (a transposing pass). */

#define RK_BMAX 64                   /* most columns per tile */
#define RK_OC 32                     /* output rows per block when the block goes to cache */
#define RK_QBYTES ((ptrdiff_t)1 << 19) /* block size when it goes to memory in long runs */
#define RK_PANEL_BYTES ((ptrdiff_t)1 << 18)
#define RK_MID_BYTES ((ptrdiff_t)3 << 18)
#define RK_MAX_THREADS 64

typedef struct {
    const char *src;      /* element (0, 0, 0) */
    ptrdiff_t sA, sL, sM; /* bytes; sM of the virtual geometry */
    int stype;
    double *dst;          /* element (0, 0, 0) */
    ptrdiff_t dA, dL, dM; /* doubles, real geometry */
    ptrdiff_t A, M;       /* real extents */
    ptrdiff_t VA, VM;     /* virtual extents */
    int merged;           /* virtual column c = m * A + a, VA = 1 */
    ptrdiff_t L, Lo, K;
    const double *w;
    const int64_t *idx;
    rows_fn rows;
    tstore_fn tstore;
    int direct_src, direct_dst;
    ptrdiff_t ochunk, nochunks; /* direct mode */
    ptrdiff_t B, ga, ntiles;    /* tile mode */
    ptrdiff_t qrows;
    int store_cols_outer;
    ptrdiff_t nunits;
    ptrdiff_t panel_len, q_len; /* doubles of scratch a thread needs */
} pass_t;

static ptrdiff_t
min_p(ptrdiff_t a, ptrdiff_t b)
{
    return a < b ? a : b;
}

static ptrdiff_t
round8(ptrdiff_t n)
{
    return (n + 7) / 8 * 8;
}

/* Geometry, mode and units of a pass. Strides: src in bytes, dst in doubles. long_runs: dst
 * is in memory (blocks cover all output rows, so each column is stored in one long run) rather
 * than in cache (blocks of RK_OC rows). */
static void
setup_pass(pass_t *p, const char *src, int stype, ptrdiff_t itemsize, ptrdiff_t A, ptrdiff_t L,
           ptrdiff_t M, ptrdiff_t sA, ptrdiff_t sL, ptrdiff_t sM, double *dst, ptrdiff_t Lo,
           ptrdiff_t dA, ptrdiff_t dL, ptrdiff_t dM, const double *w, const int64_t *idx,
           ptrdiff_t K, int long_runs)
{
    memset(p, 0, sizeof *p);
    p->src = src;
    p->stype = stype;
    p->A = A;
    p->L = L;
    p->M = M;
    p->sA = A == 1 ? itemsize : sA;
    p->sL = sL;
    p->sM = M == 1 ? itemsize * A : sM;
    p->dst = dst;
    p->Lo = Lo;
    p->dA = A == 1 ? 1 : dA;
    p->dL = dL;
    p->dM = M == 1 ? A : dM;
    p->w = w;
    p->idx = idx;
    p->K = K;
    p->rows = levels[cur_level].rows;
    p->tstore = levels[cur_level].tstore;
    /* merge a into the columns when that makes more of src and dst contiguous along them
     * (in a tie the pass stays as given; a pass that is direct as given stays so) */
    int src0 = stype == T_F64 && (M == 1 || p->sM == 8);
    int dst0 = M == 1 || p->dM == 1;
    int src1 = stype == T_F64;
    int dst1 = p->dA == 1 && p->dM == A;
    p->merged = A > 1 && p->sA == itemsize && p->sM == A * itemsize && src1 + dst1 > src0 + dst0;
    if (p->merged) {
        p->VA = 1;
        p->VM = A * M;
        p->sM = itemsize;
        p->direct_src = src1;
        p->direct_dst = dst1;
    }
    else {
        p->VA = A;
        p->VM = M;
        p->direct_src = src0;
        p->direct_dst = dst0;
    }

    if (p->direct_src && p->direct_dst) {
        p->ochunk = min_p(((ptrdiff_t)1 << 15) / (p->VM * K) + 1, Lo);
        p->nochunks = (Lo + p->ochunk - 1) / p->ochunk;
        p->nunits = p->VA * p->nochunks;
        return;
    }
    ptrdiff_t bw = p->direct_src ? RK_BMAX : 16;
    if (!p->direct_dst && long_runs) {
        ptrdiff_t fit = RK_QBYTES / (Lo * 8) / 8 * 8;
        bw = fit < 8 ? 8 : min_p(fit, bw);
    }
    p->B = min_p(p->VM, bw);
    p->ga = p->direct_src ? 1 : RK_PANEL_BYTES / (L * p->B * 8);
    p->ga = p->ga < 1 ? 1 : min_p(p->ga, p->VA);
    p->ntiles = (p->VM + p->B - 1) / p->B;
    p->nunits = ((p->VA + p->ga - 1) / p->ga) * p->ntiles;
    p->panel_len = p->direct_src ? 0 : round8(p->ga * L * p->B);
    p->qrows = p->direct_dst ? 0 : (long_runs ? Lo : min_p(RK_OC, Lo));
    p->q_len = round8(p->qrows * p->B);
    ptrdiff_t col = p->merged ? min_p(absd(p->dA), absd(p->dM)) : absd(p->dM);
    p->store_cols_outer = absd(p->dL) <= col;
}

/* dst element (virtual a, o, virtual column c) */
static double *
dst_at(const pass_t *p, ptrdiff_t a, ptrdiff_t o, ptrdiff_t c)
{
    if (p->merged)
        return p->dst + (c % p->A) * p->dA + o * p->dL + (c / p->A) * p->dM;
    return p->dst + a * p->dA + o * p->dL + c * p->dM;
}

static void
run_unit(const pass_t *p, ptrdiff_t u, double *panel, double *q)
{
    if (p->direct_src && p->direct_dst) {
        ptrdiff_t a = u / p->nochunks;
        ptrdiff_t o0 = (u % p->nochunks) * p->ochunk;
        ptrdiff_t o1 = min_p(o0 + p->ochunk, p->Lo);
        const double *s = (const double *)(p->src + a * p->sA);
        p->rows(dst_at(p, a, o0, 0), p->dL, s, p->sL / 8, p->w, p->idx, p->K, o0, o1, p->VM);
        return;
    }
    ptrdiff_t c0 = (u % p->ntiles) * p->B;
    ptrdiff_t nb = min_p(p->B, p->VM - c0);
    ptrdiff_t a0 = (u / p->ntiles) * p->ga;
    ptrdiff_t na = min_p(p->ga, p->VA - a0);
    if (!p->direct_src) {
        /* panel[a][j][b] = src[a0 + a, j, c0 + b] */
        ptrdiff_t ds[3] = {p->L * p->B, p->B, 1};
        ptrdiff_t ss[3] = {p->sA, p->sL, p->sM};
        ptrdiff_t n[3] = {na, p->L, nb};
        copy3(copy_fns[p->stype], panel, ds, p->src + a0 * p->sA + c0 * p->sM, ss, n, ss);
    }
    ptrdiff_t coff[RK_BMAX];
    for (ptrdiff_t a = 0; a < na; a++) {
        const double *s;
        ptrdiff_t ss;
        if (p->direct_src) {
            s = (const double *)(p->src + (a0 + a) * p->sA + c0 * p->sM);
            ss = p->sL / 8;
        }
        else {
            s = panel + a * p->L * p->B;
            ss = p->B;
        }
        if (p->direct_dst) {
            p->rows(dst_at(p, a0 + a, 0, c0), p->dL, s, ss, p->w, p->idx, p->K, 0, p->Lo, nb);
            continue;
        }
        for (ptrdiff_t b = 0; b < nb; b++)
            coff[b] = dst_at(p, a0 + a, 0, c0 + b) - p->dst;
        const ptrdiff_t dL = p->dL, B = p->B;
        for (ptrdiff_t o0 = 0; o0 < p->Lo; o0 += p->qrows) {
            ptrdiff_t no = min_p(p->qrows, p->Lo - o0);
            p->rows(q, B, s, ss, p->w, p->idx, p->K, o0, o0 + no, nb);
            double *dst = p->dst + o0 * dL;
            if (p->store_cols_outer && dL == 1) {
                p->tstore(dst, coff, q, B, nb, no);
            }
            else if (p->store_cols_outer) {
                for (ptrdiff_t b = 0; b < nb; b++)
                    for (ptrdiff_t o = 0; o < no; o++)
                        dst[o * dL + coff[b]] = q[o * B + b];
            }
            else {
                for (ptrdiff_t o = 0; o < no; o++)
                    for (ptrdiff_t b = 0; b < nb; b++)
                        dst[o * dL + coff[b]] = q[o * B + b];
            }
        }
    }
}

/* ------------------------------------------------------------------------------------------
 * Two passes in one: src (A, P, L) -> mid (A, P, Lo) along L -> dst (A, Po, Lo) along P, with
 * dst contiguous along Lo. A unit is a band of dst rows along P; it computes the rows of mid
 * that the band reads (a few are shared with the neighbouring bands and computed by both, with
 * the same operations) into a per-thread buffer that stays in cache, then the band from them.
 * mid never goes to memory, and dst is written in long contiguous runs. */

typedef struct {
    const char *src;
    int stype;
    ptrdiff_t itemsize;
    ptrdiff_t sA, sP, sL; /* bytes */
    double *dst;
    ptrdiff_t dA, dP; /* doubles; Lo stride is 1 */
    ptrdiff_t A, P, L, Po, Lo;
    const double *w1, *w2;
    const int64_t *idx1, *idx2;
    ptrdiff_t K1, K2;
    ptrdiff_t band, midrows, nunits;
    ptrdiff_t mid_len, idx_len, panel_len, q_len; /* doubles */
} fused_t;

static void
band_rows(const fused_t *f, ptrdiff_t u, ptrdiff_t *q0, ptrdiff_t *q1, ptrdiff_t *plo,
          ptrdiff_t *phi)
{
    *q0 = u * f->band;
    *q1 = min_p(*q0 + f->band, f->Po);
    const int64_t *ind = f->idx2 + *q0 * f->K2;
    ptrdiff_t lo = ind[0], hi = ind[0];
    for (ptrdiff_t i = 1; i < (*q1 - *q0) * f->K2; i++) {
        lo = ind[i] < lo ? ind[i] : lo;
        hi = ind[i] > hi ? ind[i] : hi;
    }
    *plo = lo;
    *phi = hi;
}

static void
run_band(const fused_t *f, ptrdiff_t u, double *scratch)
{
    ptrdiff_t q0, q1, plo, phi;
    band_rows(f, u, &q0, &q1, &plo, &phi);
    ptrdiff_t np = phi - plo + 1;
    double *mid = scratch;
    int64_t *lidx = (int64_t *)(mid + f->mid_len);
    double *panel = (double *)(lidx) + f->idx_len;
    double *q = panel + f->panel_len;
    pass_t p;
    /* mid[a][p][o] = pass along L of src[a, plo + p, :], as a (A, L, np) -> (A, Lo, np) pass */
    setup_pass(&p, f->src + plo * f->sP, f->stype, f->itemsize, f->A, f->L, np, f->sA, f->sL,
               f->sP, mid, f->Lo, np * f->Lo, 1, f->Lo, f->w1, f->idx1, f->K1, 0);
    for (ptrdiff_t v = 0; v < p.nunits; v++)
        run_unit(&p, v, panel, q);
    for (ptrdiff_t i = 0; i < (q1 - q0) * f->K2; i++)
        lidx[i] = f->idx2[q0 * f->K2 + i] - plo;
    /* dst[a, q0 + r, :] = pass along P of mid: (A, np, Lo) -> (A, q1 - q0, Lo), direct */
    setup_pass(&p, (const char *)mid, T_F64, 8, f->A, np, f->Lo, np * f->Lo * 8, f->Lo * 8, 8,
               f->dst + q0 * f->dP, q1 - q0, f->dA, f->dP, 1, f->w2 + q0 * f->K2, lidx, f->K2,
               0);
    for (ptrdiff_t v = 0; v < p.nunits; v++)
        run_unit(&p, v, NULL, NULL);
}

/* Band size and scratch sizes. */
static void
setup_fused(fused_t *f)
{
    ptrdiff_t row = f->A * f->Lo * 8;
    ptrdiff_t rows = RK_MID_BYTES / (row > 0 ? row : 1);
    if (rows < 4 * f->K2)
        rows = 4 * f->K2;
    ptrdiff_t band = (ptrdiff_t)((double)(rows - f->K2) * (double)f->Po / (double)f->P);
    f->band = band < 1 ? 1 : min_p(band, f->Po);
    f->nunits = (f->Po + f->band - 1) / f->band;
    f->midrows = 1;
    for (ptrdiff_t u = 0; u < f->nunits; u++) {
        ptrdiff_t q0, q1, plo, phi;
        band_rows(f, u, &q0, &q1, &plo, &phi);
        if (phi - plo + 1 > f->midrows)
            f->midrows = phi - plo + 1;
    }
    f->mid_len = round8(f->A * f->midrows * f->Lo);
    f->idx_len = round8(f->band * f->K2);
    /* the pass-1 scratch of the widest band bounds that of every band */
    pass_t p;
    setup_pass(&p, f->src, f->stype, f->itemsize, f->A, f->L, f->midrows, f->sA, f->sL, f->sP,
               NULL, f->Lo, f->midrows * f->Lo, 1, f->Lo, f->w1, f->idx1, f->K1, 0);
    ptrdiff_t panel_max = round8(f->L * RK_BMAX);
    if (panel_max < RK_PANEL_BYTES / 8)
        panel_max = RK_PANEL_BYTES / 8;
    f->panel_len = p.direct_src ? 0 : panel_max;
    f->q_len = round8(RK_OC * RK_BMAX);
}

/* ------------------------------------------------------------------------------------------
 * Threads. A job's units are split into one contiguous range per thread; a thread works
 * through its own range, then helps with the others'. Each unit is run by exactly one thread,
 * so results do not depend on the threads. The calling thread works too and returns once every
 * unit is done; helper threads are detached, and one that starts late finds nothing left to do
 * and only drops its reference to the job. */

typedef struct {
    ptrdiff_t next;
    ptrdiff_t end;
    char pad[64 - 2 * sizeof(ptrdiff_t)];
} range_t;

typedef struct {
    int fused;
    pass_t pass;
    fused_t band;
    ptrdiff_t nunits;
    size_t scratch_len; /* doubles */
    int nranges;
    int next_id;
    int refs;
    ptrdiff_t done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    range_t ranges[RK_MAX_THREADS];
} job_t;

static double *
alloc_scratch(size_t n)
{
    void *mem = NULL;
    if (n == 0)
        n = 8;
    if (posix_memalign(&mem, 64, n * sizeof(double)))
        return NULL;
    return (double *)mem;
}

static void
job_release(job_t *j)
{
    if (__atomic_sub_fetch(&j->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cv);
        free(j);
    }
}

/* Run units until none is left; a helper (scratch NULL) allocates its scratch on its first
 * unit and stops if it cannot. */
static void
job_work(job_t *j, int id, double *scratch)
{
    int own = scratch == NULL;
    for (int i = 0; i < j->nranges; i++) {
        range_t *r = &j->ranges[(id + i) % j->nranges];
        for (;;) {
            if (__atomic_load_n(&r->next, __ATOMIC_RELAXED) >= r->end)
                break;
            if (!scratch && !(scratch = alloc_scratch(j->scratch_len)))
                return;
            ptrdiff_t u = __atomic_fetch_add(&r->next, 1, __ATOMIC_RELAXED);
            if (u >= r->end)
                break;
            if (j->fused)
                run_band(&j->band, u, scratch);
            else
                run_unit(&j->pass, u, scratch, scratch + j->pass.panel_len);
            if (__atomic_add_fetch(&j->done, 1, __ATOMIC_ACQ_REL) == j->nunits) {
                pthread_mutex_lock(&j->mu);
                pthread_cond_broadcast(&j->cv);
                pthread_mutex_unlock(&j->mu);
            }
        }
    }
    if (own)
        free(scratch);
}

static void *
job_helper(void *arg)
{
    job_t *j = (job_t *)arg;
    int id = __atomic_fetch_add(&j->next_id, 1, __ATOMIC_RELAXED);
    job_work(j, id, NULL);
    job_release(j);
    return NULL;
}

/* Called without the GIL. Returns 0, or -1 when the calling thread's scratch cannot be had
 * (nothing has been written then). */
static int
job_run(job_t *j, int nthreads)
{
    double *scratch = alloc_scratch(j->scratch_len);
    if (!scratch) {
        job_release(j);
        return -1;
    }
    int n = nthreads < 1 ? 1 : (nthreads > RK_MAX_THREADS ? RK_MAX_THREADS : nthreads);
    if (n > j->nunits)
        n = j->nunits > 0 ? (int)j->nunits : 1;
    j->nranges = n;
    for (int t = 0; t < n; t++) {
        j->ranges[t].next = j->nunits * t / n;
        j->ranges[t].end = j->nunits * (t + 1) / n;
    }
    j->next_id = 1;
    pthread_attr_t attr;
    int have_attr = n > 1 && pthread_attr_init(&attr) == 0;
    if (have_attr)
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int t = 1; t < n && have_attr; t++) {
        pthread_t tid;
        __atomic_add_fetch(&j->refs, 1, __ATOMIC_ACQ_REL);
        if (pthread_create(&tid, &attr, job_helper, j) != 0) {
            __atomic_sub_fetch(&j->refs, 1, __ATOMIC_ACQ_REL);
            break; /* the threads running share the rest */
        }
    }
    if (have_attr)
        pthread_attr_destroy(&attr);
    job_work(j, 0, scratch);
    free(scratch);
    pthread_mutex_lock(&j->mu);
    while (__atomic_load_n(&j->done, __ATOMIC_ACQUIRE) < j->nunits)
        pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
    job_release(j);
    return 0;
}

static job_t *
job_new(void)
{
    job_t *j = (job_t *)calloc(1, sizeof(job_t));
    if (!j)
        return NULL;
    if (pthread_mutex_init(&j->mu, NULL) != 0) {
        free(j);
        return NULL;
    }
    if (pthread_cond_init(&j->cv, NULL) != 0) {
        pthread_mutex_destroy(&j->mu);
        free(j);
        return NULL;
    }
    j->refs = 1;
    return j;
}

/* ------------------------------------------------------------------------------------------
 * Argument checking. */

static int
src_type(const Py_buffer *v, int *type)
{
    const char *f = v->format ? v->format : "B";
    int standard = 0;
    if (*f == '@')
        f++;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    else if (*f == '=' || *f == '<') {
        f++;
        standard = 1;
    }
#else
    else if (*f == '=') {
        f++;
        standard = 1;
    }
#endif
    if (f[0] == '\0' || f[1] != '\0')
        return -1;
    ptrdiff_t size = v->itemsize;
    int t;
    switch (f[0]) {
    case 'd': t = T_F64; break;
    case 'f': t = T_F32; break;
    case 'B': t = T_U8; break;
    case 'b': t = T_I8; break;
    case 'H': t = T_U16; break;
    case 'h': t = T_I16; break;
    case 'I': t = T_U32; break;
    case 'i': t = T_I32; break;
    case 'L': t = (standard || sizeof(long) == 4) ? T_U32 : -1; break;
    case 'l': t = (standard || sizeof(long) == 4) ? T_I32 : -1; break;
    default: t = -1;
    }
    static const ptrdiff_t sizes[] = {8, 4, 1, 1, 2, 2, 4, 4};
    if (t < 0 || sizes[t] != size)
        return -1;
    *type = t;
    return 0;
}

static int
is_f64(const Py_buffer *v)
{
    const char *f = v->format ? v->format : "B";
    if (*f == '@' || *f == '=')
        f++;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    else if (*f == '<')
        f++;
#endif
    return v->itemsize == 8 && f[0] == 'd' && f[1] == '\0';
}

static int
is_i64(const Py_buffer *v)
{
    const char *f = v->format ? v->format : "B";
    int standard = 0;
    if (*f == '@')
        f++;
    else if (*f == '='
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
             || *f == '<'
#endif
    ) {
        f++;
        standard = 1;
    }
    if (v->itemsize != 8 || f[0] == '\0' || f[1] != '\0')
        return 0;
    return f[0] == 'q' || (f[0] == 'l' && !standard && sizeof(long) == 8);
}

static int
aligned_to(const void *ptr, const Py_ssize_t *strides, int ndim, Py_ssize_t size)
{
    if ((uintptr_t)ptr % (uintptr_t)size)
        return 0;
    for (int i = 0; i < ndim; i++)
        if (strides[i] % size)
            return 0;
    return 1;
}

typedef struct {
    Py_buffer v[6];
    int n;
} views_t;

static void
views_release(views_t *vs)
{
    while (vs->n > 0)
        PyBuffer_Release(&vs->v[--vs->n]);
}

/* The n-th buffer: 3-D src (any supported class), 3-D writable float64 dst, 2-D C-contiguous
 * float64 weights or int64 indices, all aligned. */
enum { V_SRC, V_DST, V_W, V_IDX };

static int
views_get(views_t *vs, PyObject *obj, int kind, const char *what)
{
    int flags = kind == V_SRC   ? PyBUF_STRIDES | PyBUF_FORMAT
                : kind == V_DST ? PyBUF_STRIDES | PyBUF_FORMAT | PyBUF_WRITABLE
                                : PyBUF_C_CONTIGUOUS | PyBUF_FORMAT;
    Py_buffer *b = &vs->v[vs->n];
    if (PyObject_GetBuffer(obj, b, flags) < 0)
        return -1;
    vs->n++;
    int type;
    int ok = kind == V_SRC ? src_type(b, &type) == 0 : kind == V_IDX ? is_i64(b) : is_f64(b);
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "%s: unsupported format '%s'", what,
                     b->format ? b->format : "B");
        return -1;
    }
    if (b->ndim != (kind <= V_DST ? 3 : 2)) {
        PyErr_Format(PyExc_ValueError, "%s: expected %d dimensions", what,
                     kind <= V_DST ? 3 : 2);
        return -1;
    }
    if (!aligned_to(b->buf, b->strides ? b->strides : NULL, b->strides ? b->ndim : 0,
                    b->itemsize)) {
        PyErr_Format(PyExc_ValueError, "%s: not aligned", what);
        return -1;
    }
    return 0;
}

static int
check_indices(const Py_buffer *idx, ptrdiff_t limit, const char *what)
{
    const int64_t *ind = (const int64_t *)idx->buf;
    ptrdiff_t n = idx->shape[0] * idx->shape[1];
    for (ptrdiff_t i = 0; i < n; i++)
        if (ind[i] < 0 || ind[i] >= limit) {
            PyErr_Format(PyExc_IndexError, "%s: index out of range", what);
            return -1;
        }
    return 0;
}

static int
check_weights(const Py_buffer *w, const Py_buffer *idx, ptrdiff_t rows, const char *what)
{
    if (w->shape[0] != rows || idx->shape[0] != rows || idx->shape[1] != w->shape[1] ||
        w->shape[1] < 1) {
        PyErr_Format(PyExc_ValueError, "%s: shapes do not agree", what);
        return -1;
    }
    return 0;
}

static int
run_or_raise(job_t *j, int nthreads)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = job_run(j, nthreads);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static PyObject *
resize_pass(PyObject *self, PyObject *args)
{
    PyObject *o[4];
    int nthreads;
    views_t vs = {.n = 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOi:resize_pass", &o[0], &o[1], &o[2], &o[3], &nthreads))
        return NULL;
    if (views_get(&vs, o[0], V_SRC, "src") < 0 || views_get(&vs, o[1], V_DST, "dst") < 0 ||
        views_get(&vs, o[2], V_W, "weights") < 0 || views_get(&vs, o[3], V_IDX, "indices") < 0)
        goto fail;
    const Py_buffer *sv = &vs.v[0], *dv = &vs.v[1], *wv = &vs.v[2], *iv = &vs.v[3];
    ptrdiff_t A = sv->shape[0], L = sv->shape[1], M = sv->shape[2], Lo = dv->shape[1];
    if (dv->shape[0] != A || dv->shape[2] != M) {
        PyErr_SetString(PyExc_ValueError, "resize_pass: src and dst shapes do not agree");
        goto fail;
    }
    if (check_weights(wv, iv, Lo, "resize_pass") < 0 || check_indices(iv, L, "resize_pass") < 0)
        goto fail;
    if (A > 0 && M > 0 && Lo > 0) {
        int type;
        src_type(sv, &type);
        job_t *j = job_new();
        if (!j) {
            PyErr_NoMemory();
            goto fail;
        }
        setup_pass(&j->pass, (const char *)sv->buf, type, sv->itemsize, A, L, M,
                   sv->strides[0], sv->strides[1], sv->strides[2], (double *)dv->buf, Lo,
                   dv->strides[0] / 8, dv->strides[1] / 8, dv->strides[2] / 8,
                   (const double *)wv->buf, (const int64_t *)iv->buf, wv->shape[1], 1);
        j->nunits = j->pass.nunits;
        j->scratch_len = (size_t)(j->pass.panel_len + j->pass.q_len);
        if (run_or_raise(j, nthreads) < 0)
            goto fail;
    }
    views_release(&vs);
    Py_RETURN_NONE;
fail:
    views_release(&vs);
    return NULL;
}

static PyObject *
resize_fused(PyObject *self, PyObject *args)
{
    PyObject *o[6];
    int nthreads;
    views_t vs = {.n = 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOOi:resize_fused", &o[0], &o[1], &o[2], &o[3], &o[4],
                          &o[5], &nthreads))
        return NULL;
    if (views_get(&vs, o[0], V_SRC, "src") < 0 || views_get(&vs, o[1], V_DST, "dst") < 0 ||
        views_get(&vs, o[2], V_W, "weights1") < 0 || views_get(&vs, o[3], V_IDX, "indices1") < 0 ||
        views_get(&vs, o[4], V_W, "weights2") < 0 || views_get(&vs, o[5], V_IDX, "indices2") < 0)
        goto fail;
    const Py_buffer *sv = &vs.v[0], *dv = &vs.v[1];
    ptrdiff_t A = sv->shape[0], P = sv->shape[1], L = sv->shape[2];
    ptrdiff_t Po = dv->shape[1], Lo = dv->shape[2];
    if (dv->shape[0] != A || (Lo > 1 && dv->strides[2] != 8)) {
        PyErr_SetString(PyExc_ValueError, "resize_fused: dst must be (A, P', L') and "
                                          "contiguous along L'");
        goto fail;
    }
    if (check_weights(&vs.v[2], &vs.v[3], Lo, "resize_fused") < 0 ||
        check_weights(&vs.v[4], &vs.v[5], Po, "resize_fused") < 0 ||
        check_indices(&vs.v[3], L, "resize_fused") < 0 ||
        check_indices(&vs.v[5], P, "resize_fused") < 0)
        goto fail;
    if (A > 0 && Po > 0 && Lo > 0) {
        job_t *j = job_new();
        if (!j) {
            PyErr_NoMemory();
            goto fail;
        }
        fused_t *f = &j->band;
        j->fused = 1;
        src_type(sv, &f->stype);
        f->src = (const char *)sv->buf;
        f->itemsize = sv->itemsize;
        f->sA = sv->strides[0];
        f->sP = sv->strides[1];
        f->sL = sv->strides[2];
        f->dst = (double *)dv->buf;
        f->dA = dv->strides[0] / 8;
        f->dP = dv->strides[1] / 8;
        f->A = A;
        f->P = P;
        f->L = L;
        f->Po = Po;
        f->Lo = Lo;
        f->w1 = (const double *)vs.v[2].buf;
        f->idx1 = (const int64_t *)vs.v[3].buf;
        f->K1 = vs.v[2].shape[1];
        f->w2 = (const double *)vs.v[4].buf;
        f->idx2 = (const int64_t *)vs.v[5].buf;
        f->K2 = vs.v[4].shape[1];
        setup_fused(f);
        j->nunits = f->nunits;
        j->scratch_len = (size_t)(f->mid_len + f->idx_len + f->panel_len + f->q_len);
        if (run_or_raise(j, nthreads) < 0)
            goto fail;
    }
    views_release(&vs);
    Py_RETURN_NONE;
fail:
    views_release(&vs);
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * Module. */

static PyObject *
simd_level(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyUnicode_FromString(levels[cur_level].name);
}

static PyObject *
simd_levels(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    PyObject *t = PyTuple_New(max_level + 1);
    if (!t)
        return NULL;
    for (int i = 0; i <= max_level; i++) {
        PyObject *s = PyUnicode_FromString(levels[i].name);
        if (!s) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    return t;
}

static PyObject *
set_simd_level(PyObject *self, PyObject *arg)
{
    (void)self;
    const char *name = PyUnicode_AsUTF8(arg);
    if (!name)
        return NULL;
    for (int i = 0; i <= max_level; i++)
        if (strcmp(name, levels[i].name) == 0) {
            cur_level = i;
            Py_RETURN_NONE;
        }
    PyErr_Format(PyExc_ValueError, "set_simd_level: '%s' is not available on this machine", name);
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * Result buffers. A large result lives in memory fresh from the system, which the system
 * clears page by page as it is first written: for a result of 50 MB that costs about as much
 * as computing it. A Block is such memory, exported through the buffer protocol (imresize wraps
 * it with numpy.frombuffer). When the last array using a block goes away the block is kept
 * (at most RK_CACHE_BLOCKS blocks, RK_CACHE_BYTES in all) and handed out again, already mapped,
 * by the next result_buffer call that it fits; release_results() gives the kept blocks back to
 * the system. All of this runs with the GIL held. */

#include <sys/mman.h>

#define RK_CACHE_BLOCKS 2
#define RK_CACHE_BYTES ((size_t)256 << 20)
#define RK_BLOCK_ROUND ((size_t)2 << 20)

typedef struct {
    PyObject_HEAD
    char *mem;
    size_t cap;       /* bytes mapped */
    Py_ssize_t size;  /* bytes exported */
} Block;

static struct {
    char *mem;
    size_t cap;
} block_cache[RK_CACHE_BLOCKS];
static int block_count;

static char *
block_map(size_t cap)
{
#if defined(MAP_ANONYMOUS)
    void *mem = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#else
    void *mem = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON, -1, 0);
#endif
    if (mem == MAP_FAILED)
        return NULL;
#if defined(MADV_HUGEPAGE)
    madvise(mem, cap, MADV_HUGEPAGE);
#endif
    return (char *)mem;
}

static void
block_cache_drop(int i)
{
    munmap(block_cache[i].mem, block_cache[i].cap);
    for (; i + 1 < block_count; i++)
        block_cache[i] = block_cache[i + 1];
    block_count--;
}

static void
block_dealloc(Block *self)
{
    if (self->mem) {
        size_t total = self->cap;
        for (int i = 0; i < block_count; i++)
            total += block_cache[i].cap;
        while (block_count > 0 && (block_count == RK_CACHE_BLOCKS || total > RK_CACHE_BYTES)) {
            total -= block_cache[0].cap;
            block_cache_drop(0); /* the oldest */
        }
        if (self->cap <= RK_CACHE_BYTES) {
            block_cache[block_count].mem = self->mem;
            block_cache[block_count].cap = self->cap;
            block_count++;
        }
        else {
            munmap(self->mem, self->cap);
        }
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
block_getbuffer(Block *self, Py_buffer *view, int flags)
{
    return PyBuffer_FillInfo(view, (PyObject *)self, self->mem, self->size, 0, flags);
}

static PyBufferProcs block_as_buffer = {(getbufferproc)block_getbuffer, NULL};

static PyTypeObject BlockType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "matlab_ports._resize_kernel.Block",
    .tp_basicsize = sizeof(Block),
    .tp_dealloc = (destructor)block_dealloc,
    .tp_as_buffer = &block_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Memory for a result array (see result_buffer).",
};

static PyObject *
result_buffer(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_ssize_t size = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    if (size == -1 && PyErr_Occurred())
        return NULL;
    if (size < 1) {
        PyErr_SetString(PyExc_ValueError, "result_buffer: size must be positive");
        return NULL;
    }
    Block *b = PyObject_New(Block, &BlockType);
    if (!b)
        return NULL;
    b->mem = NULL;
    b->size = size;
    /* the smallest kept block that fits, if it is not more than twice as large */
    size_t need = ((size_t)size + RK_BLOCK_ROUND - 1) / RK_BLOCK_ROUND * RK_BLOCK_ROUND;
    int best = -1;
    for (int i = 0; i < block_count; i++)
        if (block_cache[i].cap >= need && block_cache[i].cap / 2 <= need &&
            (best < 0 || block_cache[i].cap < block_cache[best].cap))
            best = i;
    if (best >= 0) {
        b->mem = block_cache[best].mem;
        b->cap = block_cache[best].cap;
        for (int i = best; i + 1 < block_count; i++)
            block_cache[i] = block_cache[i + 1];
        block_count--;
    }
    else {
        b->cap = need;
        b->mem = block_map(b->cap);
        if (!b->mem) {
            Py_DECREF(b);
            return PyErr_NoMemory();
        }
    }
    return (PyObject *)b;
}

static PyObject *
release_results(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    while (block_count > 0)
        block_cache_drop(block_count - 1);
    Py_RETURN_NONE;
}

static PyObject *
kept_results(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    size_t total = 0;
    for (int i = 0; i < block_count; i++)
        total += block_cache[i].cap;
    return Py_BuildValue("(in)", block_count, (Py_ssize_t)total);
}

static PyMethodDef methods[] = {
    {"resize_pass", resize_pass, METH_VARARGS,
     "resize_pass(src, dst, weights, indices, nthreads)\n\n"
     "dst[a, o, m] = sum_k weights[o, k] * src[a, indices[o, k], m], multiplying then adding "
     "in double in tap order, the sum started by the first product."},
    {"resize_fused", resize_fused, METH_VARARGS,
     "resize_fused(src, dst, weights1, indices1, weights2, indices2, nthreads)\n\n"
     "Two passes, src (A, P, L) -> (A, P, L') along L -> dst (A, P', L') along P, each as "
     "resize_pass computes it; dst must be contiguous along L'."},
    {"result_buffer", result_buffer, METH_O,
     "result_buffer(nbytes) -> writable buffer of nbytes, reused from a freed one if possible."},
    {"release_results", release_results, METH_NOARGS,
     "Give the freed result buffers kept for reuse back to the system."},
    {"kept_results", kept_results, METH_NOARGS,
     "(number, bytes) of freed result buffers kept for reuse."},
    {"simd_level", simd_level, METH_NOARGS, "Vector instruction set in use."},
    {"simd_levels", simd_levels, METH_NOARGS, "Vector instruction sets this machine can use."},
    {"set_simd_level", set_simd_level, METH_O,
     "Select the vector instruction set (one of simd_levels()); results are the same."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_resize_kernel",
    "The 1-D passes of matlab_ports.imresize in C (see resize_pass and resize_fused).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__resize_kernel(void)
{
    max_level = detect_level();
    cur_level = max_level;
    if (PyType_Ready(&BlockType) < 0)
        return NULL;
    return PyModule_Create(&module);
}
