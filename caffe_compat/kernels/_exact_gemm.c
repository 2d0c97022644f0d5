/*
 * Matrix products in the summation order of Caffe 1.0's CPU forward pass, and a convolution's
 * gradients in the order of its backward pass, in C.
 *
 *     gemm(A, B, C, blocked, nthreads)
 *     conv2d(x, w, y, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, group, blocked, nthreads)
 *     conv2d_grads(x, w, dy, gx, gw, sh, sw, ph, pw, dh, dw, group, nthreads)
 *     gemm_tn_small(W, X, C)
 *
 * Caffe computes every Convolution and InnerProduct output with cblas_sgemm (im2col for the
 * convolutions), and its reference build links OpenBLAS. OpenBLAS's level-3 driver cuts the
 * inner dimension K into blocks: while at least 2*Q values remain a block takes Q = 320 (the
 * sgemm GEMM_Q of its x86-64 kernels), otherwise the rest is split in two halves of
 * (rest + 1) / 2 and rest / 2 (one block when rest <= Q). Within a block its micro-kernel
 * starts each output's accumulator at zero and adds a[i,k] * b[k,j] for k in increasing order
 * with one fused multiply-add per term (a single rounding); each finished block is then added
 * to the output (C = block for the first, C = C + block after it). Every output element
 * here is computed by exactly that sequence of float32 operations, so the results are
 * bit-identical to Caffe's, whatever the vector width, the blocking of M and N and the number
 * of threads (tests/caffe_compat/kernels/test_exact_gemm.py checks them against Caffe's own blobs).
 * With blocked false, K is one block: OpenBLAS's small-matrix kernels for non-transposed A
 * (M * N * K <= 1e6) run the whole sum that way.
 *
 * gemm: A (M, K), B (K, N), C (M, N) float32 buffers with any strides; C = A B.
 * conv2d: x (N, C, H, W), w (O, C/group, kh, kw), y (N, O, OH, OW), all C-contiguous float32;
 * y = the convolution without bias, B being the im2col matrix of each image (rows in Caffe's
 * (c, i, j) order, columns in output-pixel order, zero outside the padded input) built
 * directly in packed form, never as a whole matrix.
 *
 * The fused multiply-add is the AVX2/FMA instruction where the processor has it and C's fmaf
 * otherwise (the same correctly rounded operation, slower; CAFFE_COMPAT_EXACT_GEMM_PORTABLE=1
 * selects it for testing). The module must be built without
 * -ffast-math and with -ffp-contract=off: the block sums are plain additions, never fused.
 * Work is cut into tiles of C that threads take in turn; the GIL is released meanwhile.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define EG_X86 1
#include <immintrin.h>
#else
#define EG_X86 0
#endif

#if defined(__FAST_MATH__)
#error "_exact_gemm must be compiled without -ffast-math"
#endif

#define EG_Q 320   /* OpenBLAS's sgemm GEMM_Q */
#define MR 6       /* micro-tile rows */
#define NR 16      /* micro-tile columns */
#define NC 192     /* columns of C per work unit */
#define MC 132     /* rows of C per work unit (a multiple of MR) */

/* OpenBLAS's K blocks: fills starts[] (nblocks + 1 entries), returns nblocks. */
static ptrdiff_t
k_blocks(ptrdiff_t K, int blocked, ptrdiff_t *starts)
{
    ptrdiff_t n = 0, ls = 0;
    while (ls < K) {
        ptrdiff_t min_l = K - ls;
        if (!blocked)
            ;
        else if (min_l >= 2 * EG_Q)
            min_l = EG_Q;
        else if (min_l > EG_Q)
            min_l = (min_l + 1) / 2;
        starts[n++] = ls;
        ls += min_l;
    }
    starts[n] = K;
    return n;
}

/* ------------------------------------------------------------------------------------------
 * Micro-kernels: acc[r][c] = sum over k of Ap[k*MR + r] * Bp[k*NR + c] (sequential fused
 * multiply-adds from zero), then T[r*ldt + c] = acc (first block) or T + acc. */

typedef void (*kernel_fn)(ptrdiff_t kc, const float *Ap, const float *Bp, float *T,
                          ptrdiff_t ldt, int first);

static void
kernel_scalar(ptrdiff_t kc, const float *Ap, const float *Bp, float *T, ptrdiff_t ldt,
              int first)
{
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (ptrdiff_t k = 0; k < kc; k++) {
        const float *a = Ap + k * MR, *b = Bp + k * NR;
        for (int r = 0; r < MR; r++)
            for (int c = 0; c < NR; c++)
                acc[r][c] = fmaf(a[r], b[c], acc[r][c]);
    }
    for (int r = 0; r < MR; r++)
        for (int c = 0; c < NR; c++)
            T[r * ldt + c] = first ? acc[r][c] : T[r * ldt + c] + acc[r][c];
}

#if EG_X86
__attribute__((target("avx2,fma"))) static void
kernel_avx2(ptrdiff_t kc, const float *Ap, const float *Bp, float *T, ptrdiff_t ldt, int first)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (ptrdiff_t k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(Bp), b1 = _mm256_load_ps(Bp + 8), a;
        a = _mm256_broadcast_ss(Ap + 0);
        c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(Ap + 1);
        c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(Ap + 2);
        c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(Ap + 3);
        c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31);
        a = _mm256_broadcast_ss(Ap + 4);
        c40 = _mm256_fmadd_ps(a, b0, c40); c41 = _mm256_fmadd_ps(a, b1, c41);
        a = _mm256_broadcast_ss(Ap + 5);
        c50 = _mm256_fmadd_ps(a, b0, c50); c51 = _mm256_fmadd_ps(a, b1, c51);
        Ap += MR;
        Bp += NR;
    }
#define EG_STORE(r, lo, hi)                                                                 \
    do {                                                                                    \
        float *t = T + (r) * ldt;                                                           \
        if (first) {                                                                        \
            _mm256_storeu_ps(t, lo); _mm256_storeu_ps(t + 8, hi);                           \
        } else {                                                                            \
            _mm256_storeu_ps(t, _mm256_add_ps(_mm256_loadu_ps(t), lo));                     \
            _mm256_storeu_ps(t + 8, _mm256_add_ps(_mm256_loadu_ps(t + 8), hi));             \
        }                                                                                   \
    } while (0)
    EG_STORE(0, c00, c01); EG_STORE(1, c10, c11); EG_STORE(2, c20, c21);
    EG_STORE(3, c30, c31); EG_STORE(4, c40, c41); EG_STORE(5, c50, c51);
#undef EG_STORE
}
#endif

static kernel_fn
pick_kernel(void)
{
    const char *portable = getenv("CAFFE_COMPAT_EXACT_GEMM_PORTABLE");
    if (portable != NULL && strcmp(portable, "1") == 0)
        return kernel_scalar;
#if EG_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return kernel_avx2;
#endif
    return kernel_scalar;
}

static kernel_fn the_kernel;

/* ------------------------------------------------------------------------------------------
 * Packing. A panel: rows [m0, m0 + mc) and columns [k0, k1) of A, MR rows at a time, each
 * k giving MR consecutive values (zero beyond M). B panel: columns [n0, n0 + nc), NR at a
 * time, each k giving NR consecutive values (zero beyond N). */

static void
pack_a(const float *A, ptrdiff_t sm, ptrdiff_t sk, ptrdiff_t M, ptrdiff_t m0, ptrdiff_t mc,
       ptrdiff_t k0, ptrdiff_t k1, float *Ap)
{
    ptrdiff_t kc = k1 - k0;
    for (ptrdiff_t p = 0; p < mc; p += MR) {
        float *dst = Ap + p * kc;
        for (int r = 0; r < MR; r++) {
            ptrdiff_t m = m0 + p + r;
            if (m < M) {
                const float *src = A + m * sm + k0 * sk;
                for (ptrdiff_t k = 0; k < kc; k++)
                    dst[k * MR + r] = src[k * sk];
            } else {
                for (ptrdiff_t k = 0; k < kc; k++)
                    dst[k * MR + r] = 0.0f;
            }
        }
    }
}

typedef struct {
    /* strided B */
    const float *B;
    ptrdiff_t sk, sn;
    /* implicit im2col of one image and group (B == NULL) */
    const float *x;        /* first channel of the group, in that image */
    ptrdiff_t H, W, kh, kw, OW, sh, sw, ph, pw, dh, dw;
} bsrc;

static void
pack_b(const bsrc *s, ptrdiff_t N, ptrdiff_t n0, ptrdiff_t nc, ptrdiff_t k0, ptrdiff_t k1,
       float *Bp)
{
    ptrdiff_t kc = k1 - k0, ncp = (nc + NR - 1) / NR * NR;
    if (s->B != NULL && s->sn == 1) {
        /* rows of B contiguous: whole panels copied */
        for (ptrdiff_t k = k0; k < k1; k++) {
            const float *src = s->B + k * s->sk;
            float *dst = Bp + (k - k0) * NR;
            for (ptrdiff_t q = 0; q < ncp; q += NR, dst += kc * NR) {
                ptrdiff_t n = n0 + q, valid = N - n < NR ? N - n : NR;
                if (valid > nc - q)
                    valid = nc - q;
                if (valid < 0)
                    valid = 0;
                memcpy(dst, src + n, (size_t)valid * sizeof(float));
                for (ptrdiff_t t = valid; t < NR; t++)
                    dst[t] = 0.0f;
            }
        }
        return;
    }
    if (s->B != NULL && s->sk == 1) {
        /* columns of B contiguous: each read along k */
        for (ptrdiff_t q = 0; q < ncp; q++) {
            ptrdiff_t n = n0 + q;
            float *dst = Bp + (q / NR) * kc * NR + q % NR;
            if (q < nc && n < N) {
                const float *src = s->B + n * s->sn + k0;
                for (ptrdiff_t t = 0; t < kc; t++)
                    dst[t * NR] = src[t];
            } else {
                for (ptrdiff_t t = 0; t < kc; t++)
                    dst[t * NR] = 0.0f;
            }
        }
        return;
    }
    if (s->B != NULL) {
        for (ptrdiff_t k = k0; k < k1; k++) {
            const float *src = s->B + k * s->sk;
            float *dst = Bp + (k - k0) * NR;
            for (ptrdiff_t q = 0; q < ncp; q++) {
                ptrdiff_t n = n0 + q;
                dst[(q / NR) * kc * NR + q % NR] = n < N ? src[n * s->sn] : 0.0f;
            }
        }
        return;
    }
    ptrdiff_t ksz = s->kh * s->kw, panel = kc * NR;
    for (ptrdiff_t k = k0; k < k1; k++) {
        ptrdiff_t c = k / ksz, r = k % ksz, i = r / s->kw, j = r % s->kw;
        const float *xc = s->x + c * s->H * s->W;
        float *base = Bp + (k - k0) * NR;
        ptrdiff_t oy = n0 / s->OW, ox = n0 % s->OW;
        ptrdiff_t q = 0, valid = N - n0 < nc ? N - n0 : nc;
        while (q < valid) {
            ptrdiff_t iy = oy * s->sh - s->ph + i * s->dh;
            /* the rest of this output row, or of the chunk */
            ptrdiff_t run = s->OW - ox;
            if (run > valid - q)
                run = valid - q;
            const float *row = (iy >= 0 && iy < s->H) ? xc + iy * s->W : NULL;
            ptrdiff_t ix = ox * s->sw - s->pw + j * s->dw;
            ptrdiff_t end = q + run;
            while (q < end) {
                ptrdiff_t lane = q % NR, len = NR - lane;
                if (len > end - q)
                    len = end - q;
                float *d = base + (q / NR) * panel + lane;
                if (row == NULL) {
                    memset(d, 0, (size_t)len * sizeof(float));
                } else if (s->sw == 1 && ix >= 0 && ix + len <= s->W) {
                    memcpy(d, row + ix, (size_t)len * sizeof(float));
                } else {
                    for (ptrdiff_t t = 0; t < len; t++) {
                        ptrdiff_t xx = ix + t * s->sw;
                        d[t] = (xx >= 0 && xx < s->W) ? row[xx] : 0.0f;
                    }
                }
                q += len;
                ix += len * s->sw;
            }
            ox += run;
            if (ox >= s->OW) {
                ox = 0;
                oy++;
            }
        }
        for (; q < ncp; q++)
            base[(q / NR) * panel + q % NR] = 0.0f;
    }
}

/* ------------------------------------------------------------------------------------------
 * One product C (M, N) = A (M, K) B (K, N), C with row stride ldc and unit column stride,
 * restricted to rows [m0, m0 + mc) and columns [n0, n0 + nc). */

typedef struct {
    float *Bp;
    float tile[MR * NR];
} scratch;

/* One K block of a product into C (row stride ldc): rows [0, mc) and columns [0, nc) from
 * the packed panels Ap (mc rounded up to MR rows) and Bp (nc rounded up to NR columns);
 * C = block (first) or C + block. */
static void
block_product(const float *Ap, const float *Bp, ptrdiff_t kc, float *C, ptrdiff_t ldc,
              ptrdiff_t mc, ptrdiff_t nc, int first, scratch *s)
{
    ptrdiff_t mcp = (mc + MR - 1) / MR * MR, ncp = (nc + NR - 1) / NR * NR;
    for (ptrdiff_t q = 0; q < ncp; q += NR) {
        ptrdiff_t nv = nc - q < NR ? nc - q : NR;
        for (ptrdiff_t p = 0; p < mcp; p += MR) {
            ptrdiff_t mv = mc - p < MR ? mc - p : MR;
            float *c = C + p * ldc + q;
            if (mv == MR && nv == NR) {
                the_kernel(kc, Ap + p * kc, Bp + q * kc, c, ldc, first);
            } else {
                the_kernel(kc, Ap + p * kc, Bp + q * kc, s->tile, NR, 1);
                for (ptrdiff_t r = 0; r < mv; r++)
                    for (ptrdiff_t t = 0; t < nv; t++)
                        c[r * ldc + t] = first ? s->tile[r * NR + t]
                                               : c[r * ldc + t] + s->tile[r * NR + t];
            }
        }
    }
}

static void
product_tile(const float *Apacked, const bsrc *b, float *C, ptrdiff_t ldc, ptrdiff_t N,
             const ptrdiff_t *starts, ptrdiff_t nblocks, ptrdiff_t m0, ptrdiff_t mc,
             ptrdiff_t n0, ptrdiff_t nc, scratch *s)
{
    ptrdiff_t mcp = (mc + MR - 1) / MR * MR;
    for (ptrdiff_t bi = 0; bi < nblocks; bi++) {
        ptrdiff_t k0 = starts[bi], k1 = starts[bi + 1], kc = k1 - k0;
        pack_b(b, N, n0, nc, k0, k1, s->Bp);
        block_product(Apacked + mcp * k0, s->Bp, kc, C + m0 * ldc + n0, ldc, mc, nc, bi == 0,
                      s);
    }
}

/* ------------------------------------------------------------------------------------------
 * Work: units (item, m chunk, n chunk) taken in turn by threads. */

typedef struct {
    /* the product of item u: A, B source, C */
    const float *A;
    ptrdiff_t sam, sak;
    const float *B;
    ptrdiff_t sbk, sbn;
    float *C;
    ptrdiff_t ldc, M, N, K;
    ptrdiff_t *starts;
    int blocked;
    ptrdiff_t nblocks;
    /* conv2d: items are (image, group) */
    int conv;
    const float *x, *w;
    float *y;
    ptrdiff_t Cin, H, W, O, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, group;
    /* A packed once: per group, per m chunk, the blocks one after the other */
    float *Apacked;
    ptrdiff_t groups_a;
    /* scheduling */
    ptrdiff_t items, mchunks, nchunks, units;
    ptrdiff_t next;
    pthread_mutex_t lock;
    int failed;
} job;

/* Where the packed rows [mi * MC, ...) of group g's A start. */
static const float *
packed_chunk(const job *j, ptrdiff_t g, ptrdiff_t mi)
{
    ptrdiff_t mpad = (j->M + MR - 1) / MR * MR;
    return j->Apacked + g * mpad * j->K + mi * MC * j->K;
}

/* The operands of product `item`: B's source, the group (index of A's packing), A unpacked
 * (row stride, column stride) and C (row stride). */
static ptrdiff_t
item_operands(const job *j, ptrdiff_t item, bsrc *b, const float **A, ptrdiff_t *sam,
              ptrdiff_t *sak, float **C, ptrdiff_t *ldc)
{
    memset(b, 0, sizeof *b);
    if (!j->conv) {
        b->B = j->B;
        b->sk = j->sbk;
        b->sn = j->sbn;
        *A = j->A; *sam = j->sam; *sak = j->sak;
        *C = j->C; *ldc = j->ldc;
        return 0;
    }
    ptrdiff_t n = item / j->group, g = item % j->group, cg = j->Cin / j->group;
    b->x = j->x + (n * j->Cin + g * cg) * j->H * j->W;
    b->H = j->H; b->W = j->W; b->kh = j->kh; b->kw = j->kw; b->OW = j->OW;
    b->sh = j->sh; b->sw = j->sw; b->ph = j->ph; b->pw = j->pw; b->dh = j->dh; b->dw = j->dw;
    *A = j->w + g * j->M * j->K; *sam = j->K; *sak = 1;
    *C = j->y + (n * j->O + g * j->M) * j->OH * j->OW; *ldc = j->N;
    return g;
}

static void
run_unit(job *j, ptrdiff_t u, scratch *s)
{
    ptrdiff_t per_item = j->mchunks * j->nchunks;
    ptrdiff_t item = u / per_item, rest = u % per_item;
    ptrdiff_t mi = rest / j->nchunks, ni = rest % j->nchunks;
    ptrdiff_t m0 = mi * MC, n0 = ni * NC;
    ptrdiff_t mc = j->M - m0 < MC ? j->M - m0 : MC;
    ptrdiff_t nc = j->N - n0 < NC ? j->N - n0 : NC;
    bsrc b;
    const float *A;
    float *C;
    ptrdiff_t sam, sak, ldc;
    ptrdiff_t g = item_operands(j, item, &b, &A, &sam, &sak, &C, &ldc);
    product_tile(packed_chunk(j, g, mi), &b, C, ldc, j->N, j->starts, j->nblocks, m0, mc, n0,
                 nc, s);
}

/* Packs every group's A (M rows, K columns) for every m chunk and block. */
static int
pack_all_a(job *j)
{
    ptrdiff_t mpad = (j->M + MR - 1) / MR * MR;
    j->Apacked = aligned_alloc(64, ((size_t)(j->groups_a * mpad * j->K) * sizeof(float) + 63)
                                       / 64 * 64);
    if (j->Apacked == NULL)
        return -1;
    for (ptrdiff_t g = 0; g < j->groups_a; g++) {
        bsrc b;
        const float *A;
        float *C;
        ptrdiff_t sam, sak, ldc;
        item_operands(j, g, &b, &A, &sam, &sak, &C, &ldc);   /* item g: image 0, group g */
        for (ptrdiff_t mi = 0; mi < j->mchunks; mi++) {
            ptrdiff_t m0 = mi * MC, mc = j->M - m0 < MC ? j->M - m0 : MC;
            ptrdiff_t mcp = (mc + MR - 1) / MR * MR;
            float *dst = (float *)packed_chunk(j, g, mi);
            for (ptrdiff_t bi = 0; bi < j->nblocks; bi++)
                pack_a(A, sam, sak, j->M, m0, mcp, j->starts[bi], j->starts[bi + 1],
                       dst + mcp * j->starts[bi]);
        }
    }
    return 0;
}

static int
scratch_init(scratch *s, ptrdiff_t kmax)
{
    s->Bp = aligned_alloc(64, ((size_t)NC * kmax * sizeof(float) + 63) / 64 * 64);
    return s->Bp == NULL ? -1 : 0;
}

static void
scratch_free(scratch *s)
{
    free(s->Bp);
}

static void *
worker(void *arg)
{
    job *j = arg;
    scratch s;
    ptrdiff_t kmax = 0;
    for (ptrdiff_t b = 0; b < j->nblocks; b++)
        if (j->starts[b + 1] - j->starts[b] > kmax)
            kmax = j->starts[b + 1] - j->starts[b];
    if (scratch_init(&s, kmax) != 0) {
        pthread_mutex_lock(&j->lock);
        j->failed = 1;
        pthread_mutex_unlock(&j->lock);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&j->lock);
        ptrdiff_t u = j->next++;
        int stop = j->failed;
        pthread_mutex_unlock(&j->lock);
        if (stop || u >= j->units)
            break;
        run_unit(j, u, &s);
    }
    scratch_free(&s);
    return NULL;
}

/* Runs the job on nthreads threads (this one included); 0 on success. */
static int
run_job(job *j, int nthreads)
{
    j->mchunks = (j->M + MC - 1) / MC;
    j->nchunks = (j->N + NC - 1) / NC;
    j->units = j->items * j->mchunks * j->nchunks;
    j->next = 0;
    j->failed = 0;
    if (j->units == 0)
        return 0;
    j->starts = malloc(((size_t)j->K / EG_Q + 3) * sizeof(ptrdiff_t));
    if (j->starts == NULL)
        return -1;
    j->nblocks = k_blocks(j->K, j->blocked, j->starts);
    if (pack_all_a(j) != 0) {
        free(j->starts);
        return -1;
    }
    if (nthreads > j->units)
        nthreads = (int)j->units;
    if (nthreads < 1)
        nthreads = 1;
    pthread_mutex_init(&j->lock, NULL);
    pthread_t tids[64];
    int started = 0;
    for (int t = 1; t < nthreads && t < 64; t++) {
        if (pthread_create(&tids[started], NULL, worker, j) == 0)
            started++;
    }
    worker(j);
    for (int t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
    pthread_mutex_destroy(&j->lock);
    free(j->starts);
    free(j->Apacked);
    return j->failed ? -1 : 0;
}

/* ------------------------------------------------------------------------------------------
 * OpenBLAS's small-matrix "TN" kernel (Skylake-X), which Caffe's InnerProduct reaches when
 * M * N * K <= 1e6, num_output * batch <= 1200 and K >= 32: for output (i = unit, j = item)
 * sixteen lanes accumulate k = l, l + 16, l + 32, ... with fused multiply-adds, and the lanes
 * are then summed by one of two fixed trees: the 4x4 transpose-and-add of its REDUCE_4 when
 * the output lies in a group of four rows or four columns, else GCC's _mm512_reduce_add_ps
 * (halves, quarters, pairs). C[j, i] = sum_k W[i, k] X[j, k]. */

static float
reduce4_tree(const float *v)
{
    float s[4];
    for (int b = 0; b < 4; b++)
        s[b] = (v[4 * b] + v[4 * b + 1]) + (v[4 * b + 2] + v[4 * b + 3]);
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static float
reduce_add_tree(const float *v)
{
    float t3[8], t6[4];
    for (int i = 0; i < 8; i++)
        t3[i] = v[i + 8] + v[i];
    for (int i = 0; i < 4; i++)
        t6[i] = t3[i + 4] + t3[i];
    return (t6[0] + t6[2]) + (t6[1] + t6[3]);
}

static void
tn_small(const float *W, ptrdiff_t swi, ptrdiff_t swk, const float *X, ptrdiff_t sxj,
         ptrdiff_t sxk, float *C, ptrdiff_t ldc, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K)
{
    for (ptrdiff_t i = 0; i < M; i++) {
        for (ptrdiff_t j = 0; j < N; j++) {
            float v[16];
            memset(v, 0, sizeof v);
            const float *w = W + i * swi, *x = X + j * sxj;
            for (ptrdiff_t k = 0; k < K; k++)
                v[k & 15] = fmaf(w[k * swk], x[k * sxk], v[k & 15]);
            int four = i < (M & ~(ptrdiff_t)3) || j < (N & ~(ptrdiff_t)3);
            C[j * ldc + i] = four ? reduce4_tree(v) : reduce_add_tree(v);
        }
    }
}

/* OpenBLAS's small-matrix "NN" kernel (M * N * K <= 1e6) sums sequentially, except for the
 * last M % 16 rows of its column-major C when they are at most 8 and K >= 32: those go through
 * the same sixteen-lane accumulation and trees as tn_small. Its rows are our columns (our C
 * is row-major), so this recomputes columns [N & ~15, N) of one product that way. */
static int
small_nn_tail(const float *A, ptrdiff_t sam, ptrdiff_t sak, const bsrc *b, float *C,
              ptrdiff_t ldc, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K)
{
    ptrdiff_t n0 = N & ~(ptrdiff_t)15, nc = N - n0;
    float *Bp = malloc((size_t)K * NR * sizeof(float));
    if (Bp == NULL)
        return -1;
    pack_b(b, N, n0, nc, 0, K, Bp);
    for (ptrdiff_t m = 0; m < M; m++) {
        for (ptrdiff_t q = 0; q < nc; q++) {
            float v[16];
            memset(v, 0, sizeof v);
            for (ptrdiff_t k = 0; k < K; k++)
                v[k & 15] = fmaf(A[m * sam + k * sak], Bp[k * NR + q], v[k & 15]);
            int four = n0 + q < (N & ~(ptrdiff_t)3) || m < (M & ~(ptrdiff_t)3);
            C[m * ldc + n0 + q] = four ? reduce4_tree(v) : reduce_add_tree(v);
        }
    }
    free(Bp);
    return 0;
}

static int
needs_small_nn_tail(const job *j)
{
    return !j->blocked && j->K >= 32 && j->N % 16 >= 1 && j->N % 16 <= 8;
}

/* Applies small_nn_tail to every product of the job. */
static int
run_small_nn_tail(job *j)
{
    if (!needs_small_nn_tail(j))
        return 0;
    for (ptrdiff_t item = 0; item < j->items; item++) {
        bsrc b;
        const float *A;
        float *C;
        ptrdiff_t sam, sak, ldc;
        item_operands(j, item, &b, &A, &sam, &sak, &C, &ldc);
        if (small_nn_tail(A, sam, sak, &b, C, ldc, j->M, j->N, j->K) != 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Convolution gradients in the order of Caffe's BaseConvolutionLayer.
 *
 * Weight gradient (weight_cpu_gemm, beta 1): for each image n in turn and each group g,
 *     gw_g += dY[n, g] (Og, P) x col[n, g]^T (P, Kc),
 * P = OH * OW output pixels, Kc = C/group * kh * kw; OpenBLAS's K blocks over P, each block
 * summed from zero by fused multiply-adds and then added to gw. Every element of gw is thus
 * one fixed sequence over (image, block).
 * Input gradient (backward_cpu_gemm, then col2im_cpu): col = W_g^T (Kc, Og) x dY[n, g]
 * (Og, P) with K blocks over Og; the input's gradient zeroed, then each column value added at
 * its input position, kernel row and column in increasing order.
 * Units own their outputs (tiles of gw over all images; (image, group, chunk of channels) of
 * gx) and threads take them in turn, so any thread count gives the same bits, and a thread
 * whose core is taken by another process takes fewer units instead of holding up the rest. */

#define GX_ROWS 128        /* about this many col rows per input-gradient unit ... */
#define GX_BYTES (2 << 20) /* ... within this much memory for its columns */
#define GW_BYTES (32 << 20) /* packed dY^T of one round of images, at most (one image at least) */
#define GW_TILES_PER_THREAD 12 /* weight-gradient tiles per thread, at least (rows allowing) */

typedef struct {
    const float *x, *w, *dy;
    float *gx, *gw;
    ptrdiff_t N, Cin, H, W, O, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, group;
    ptrdiff_t Og, Cg, kk, Kc, P;
    int do_input, do_weight;  /* the gradients asked for */
    ptrdiff_t *in_starts, in_nblocks, *w_starts, w_nblocks, kmax;  /* K blocks: Og, P */
    ptrdiff_t ntiles, ninput; /* units of a round: npack packs, ntiles tiles, ninput inputs */
    /* weight: tiles of gw^T (Kc, Og) per group, over the images [img0, img1) of a round,
     * after the round's packing units (one per image and group) */
    float *gwt, *Bpacked;
    ptrdiff_t mchunks, nchunks, mcw, ncw, og_pad, img0, img1, npack, packed;
    pthread_cond_t all_packed;
    /* input: channels per unit, chunks per group, packed W_g^T rows */
    ptrdiff_t ch, cchunks, rows_pad;
    float *Apacked;
    ptrdiff_t units, next;
    pthread_mutex_t lock;
    int failed;
} gjob;

typedef struct {
    scratch base;
    float *Ap;     /* weight: dY rows packed for one block */
    float *T;      /* input: the unit's columns (its rows, P wide) */
} gscratch;

/* A panel of the weight gradient, taken as gw_g^T = col (Kc, P) x dY^T (P, Og): rows
 * [m0, m0 + mcp) of the image's im2col matrix (row (c, i, j), column the output pixel; zero
 * in the padding and beyond Kc), pixels [k0, k1), laid out as pack_a lays out A. */
static void
pack_a_im2col(const gjob *j, const float *xg, ptrdiff_t m0, ptrdiff_t mcp, ptrdiff_t k0,
              ptrdiff_t k1, float *Ap)
{
    ptrdiff_t kc = k1 - k0;
    for (ptrdiff_t p = 0; p < mcp; p += MR) {
        for (int r = 0; r < MR; r++) {
            float *dst = Ap + p * kc + r;
            ptrdiff_t m = m0 + p + r;
            if (m >= j->Kc) {
                for (ptrdiff_t t = 0; t < kc; t++)
                    dst[t * MR] = 0.0f;
                continue;
            }
            ptrdiff_t c = m / j->kk, rr = m % j->kk, i = rr / j->kw, jj = rr % j->kw;
            const float *xc = xg + c * j->H * j->W;
            ptrdiff_t oy = k0 / j->OW, ox = k0 % j->OW, t = 0;
            while (t < kc) {
                ptrdiff_t run = j->OW - ox;
                if (run > kc - t)
                    run = kc - t;
                ptrdiff_t iy = oy * j->sh - j->ph + i * j->dh;
                float *d = dst + t * MR;
                if (iy < 0 || iy >= j->H) {
                    for (ptrdiff_t u = 0; u < run; u++)
                        d[u * MR] = 0.0f;
                } else {
                    const float *row = xc + iy * j->W;
                    ptrdiff_t ix = ox * j->sw - j->pw + jj * j->dw;
                    if (j->sw == 1 && ix >= 0 && ix + run <= j->W) {
                        for (ptrdiff_t u = 0; u < run; u++)
                            d[u * MR] = row[ix + u];
                    } else {
                        for (ptrdiff_t u = 0; u < run; u++, ix += j->sw)
                            d[u * MR] = (ix >= 0 && ix < j->W) ? row[ix] : 0.0f;
                    }
                }
                t += run;
                ox = 0;
                oy++;
            }
        }
    }
}

/* Where image n's (of this round) packed dY^T of group g starts. */
static float *
packed_dy(const gjob *j, ptrdiff_t n, ptrdiff_t g)
{
    return j->Bpacked + ((n - j->img0) * j->group + g) * j->og_pad * j->P;
}

/* Packing unit: image n's dY_g^T (P, Og) as B panels, every K block. */
static void
pack_dy_unit(const gjob *j, ptrdiff_t u)
{
    ptrdiff_t n = j->img0 + u / j->group, g = u % j->group;
    bsrc b;
    memset(&b, 0, sizeof b);
    b.B = j->dy + (n * j->O + g * j->Og) * j->P;
    b.sk = 1;
    b.sn = j->P;
    float *dst = packed_dy(j, n, g);
    for (ptrdiff_t bi = 0; bi < j->w_nblocks; bi++)
        pack_b(&b, j->Og, 0, j->Og, j->w_starts[bi], j->w_starts[bi + 1],
               dst + j->og_pad * j->w_starts[bi]);
}

/* Tile (group, m chunk, n chunk) of gw_g^T, over this round's images in turn. */
static void
weight_unit(const gjob *j, ptrdiff_t u, gscratch *s)
{
    ptrdiff_t per_group = j->mchunks * j->nchunks;
    ptrdiff_t g = u / per_group, rest = u % per_group;
    ptrdiff_t m0 = (rest / j->nchunks) * j->mcw, n0 = (rest % j->nchunks) * j->ncw;
    ptrdiff_t mc = j->Kc - m0 < j->mcw ? j->Kc - m0 : j->mcw;
    ptrdiff_t nc = j->Og - n0 < j->ncw ? j->Og - n0 : j->ncw;
    ptrdiff_t mcp = (mc + MR - 1) / MR * MR;
    float *C = j->gwt + (g * j->Kc + m0) * j->Og + n0;
    for (ptrdiff_t n = j->img0; n < j->img1; n++) {
        const float *xg = j->x + (n * j->Cin + g * j->Cg) * j->H * j->W;
        const float *Bimg = packed_dy(j, n, g);
        for (ptrdiff_t bi = 0; bi < j->w_nblocks; bi++) {
            ptrdiff_t k0 = j->w_starts[bi], k1 = j->w_starts[bi + 1], kc = k1 - k0;
            pack_a_im2col(j, xg, m0, mcp, k0, k1, s->Ap);
            block_product(s->Ap, Bimg + j->og_pad * k0 + n0 * kc, kc, C, j->Og, mc, nc,
                          n == 0 && bi == 0, &s->base);
        }
    }
}

/* Where the packed W_g^T rows of (group g, chunk cc) start. */
static float *
packed_rows(const gjob *j, ptrdiff_t g, ptrdiff_t cc)
{
    return j->Apacked + (g * j->cchunks + cc) * j->rows_pad * j->Og;
}

/* dst[t] += src[t] for t < n (the two never overlap): one rounded addition each, the same
 * bits vectorised or not. */
static void
add_row_scalar(float *restrict dst, const float *restrict src, ptrdiff_t n)
{
    for (ptrdiff_t t = 0; t < n; t++)
        dst[t] += src[t];
}

#if EG_X86
__attribute__((target("avx"))) static void
add_row_avx(float *restrict dst, const float *restrict src, ptrdiff_t n)
{
    ptrdiff_t t = 0;
    for (; t + 8 <= n; t += 8)
        _mm256_storeu_ps(dst + t, _mm256_add_ps(_mm256_loadu_ps(dst + t),
                                                _mm256_loadu_ps(src + t)));
    for (; t < n; t++)
        dst[t] += src[t];
}
#endif

static void
add_row(float *dst, const float *src, ptrdiff_t n)
{
#if EG_X86
    if (the_kernel == kernel_avx2) {
        add_row_avx(dst, src, n);
        return;
    }
#endif
    add_row_scalar(dst, src, n);
}

/* Channels [c0, c0 + ch) of group g of image n: their columns, then col2im. */
static void
input_unit(const gjob *j, ptrdiff_t u, gscratch *s)
{
    ptrdiff_t per_image = j->group * j->cchunks;
    ptrdiff_t n = u / per_image, rest = u % per_image;
    ptrdiff_t g = rest / j->cchunks, cc = rest % j->cchunks;
    ptrdiff_t c0 = cc * j->ch, chn = j->Cg - c0 < j->ch ? j->Cg - c0 : j->ch;
    ptrdiff_t rows = chn * j->kk;
    const float *Ap = packed_rows(j, g, cc);
    bsrc b;
    memset(&b, 0, sizeof b);
    b.B = j->dy + (n * j->O + g * j->Og) * j->P;
    b.sk = j->P;
    b.sn = 1;
    for (ptrdiff_t n0 = 0; n0 < j->P; n0 += NC) {
        ptrdiff_t nc = j->P - n0 < NC ? j->P - n0 : NC;
        for (ptrdiff_t bi = 0; bi < j->in_nblocks; bi++) {
            ptrdiff_t k0 = j->in_starts[bi], k1 = j->in_starts[bi + 1];
            pack_b(&b, j->P, n0, nc, k0, k1, s->base.Bp);
            block_product(Ap + j->rows_pad * k0, s->base.Bp, k1 - k0, s->T + n0, j->P, rows, nc,
                          bi == 0, &s->base);
        }
    }
    ptrdiff_t hw = j->H * j->W;
    for (ptrdiff_t c = 0; c < chn; c++) {
        float *im = j->gx + (n * j->Cin + g * j->Cg + c0 + c) * hw;
        memset(im, 0, (size_t)hw * sizeof(float));
        for (ptrdiff_t i = 0; i < j->kh; i++) {
            for (ptrdiff_t jj = 0; jj < j->kw; jj++) {
                const float *col = s->T + (c * j->kk + i * j->kw + jj) * j->P;
                /* output columns whose input column lies inside: [lo, hi) */
                ptrdiff_t ix0 = jj * j->dw - j->pw, lo = 0, hi = j->OW;
                if (ix0 < 0)
                    lo = (-ix0 + j->sw - 1) / j->sw;
                if (ix0 + (hi - 1) * j->sw >= j->W)
                    hi = (j->W - 1 - ix0) / j->sw + 1;
                if (ix0 > j->W - 1)
                    hi = 0;
                for (ptrdiff_t oy = 0; oy < j->OH; oy++, col += j->OW) {
                    ptrdiff_t iy = oy * j->sh - j->ph + i * j->dh;
                    if (iy < 0 || iy >= j->H || lo >= hi)
                        continue;
                    float *row = im + iy * j->W + ix0;
                    if (j->sw == 1) {
                        add_row(row + lo, col + lo, hi - lo);
                    } else {
                        for (ptrdiff_t ox = lo; ox < hi; ox++)
                            row[ox * j->sw] += col[ox];
                    }
                }
            }
        }
    }
}

static void
gscratch_free(gscratch *s)
{
    free(s->base.Bp);
    free(s->Ap);
    free(s->T);
}

static int
gscratch_init(const gjob *j, gscratch *s)
{
    memset(s, 0, sizeof *s);
    size_t kmax = (size_t)j->kmax;
    s->base.Bp = aligned_alloc(64, ((size_t)NC * kmax * sizeof(float) + 63) / 64 * 64);
    if (j->do_input)
        s->T = aligned_alloc(64, ((size_t)j->rows_pad * j->P * sizeof(float) + 63) / 64 * 64);
    if (j->do_weight)
        s->Ap = aligned_alloc(64, ((size_t)(MC + MR) * kmax * sizeof(float) + 63) / 64 * 64);
    if (s->base.Bp == NULL || (j->do_input && s->T == NULL) ||
        (j->do_weight && s->Ap == NULL)) {
        gscratch_free(s);
        return -1;
    }
    return 0;
}

static void *
gworker(void *arg)
{
    gjob *j = arg;
    gscratch s;
    if (gscratch_init(j, &s) != 0) {
        pthread_mutex_lock(&j->lock);
        j->failed = 1;
        pthread_cond_broadcast(&j->all_packed);
        pthread_mutex_unlock(&j->lock);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&j->lock);
        ptrdiff_t u = j->next++;
        /* a tile waits for every packing unit of its round */
        while (u >= j->npack && u < j->npack + j->ntiles && j->packed < j->npack &&
               !j->failed)
            pthread_cond_wait(&j->all_packed, &j->lock);
        int stop = j->failed;
        pthread_mutex_unlock(&j->lock);
        if (stop || u >= j->units)
            break;
        if (u < j->npack) {
            pack_dy_unit(j, u);
            pthread_mutex_lock(&j->lock);
            if (++j->packed == j->npack)
                pthread_cond_broadcast(&j->all_packed);
            pthread_mutex_unlock(&j->lock);
        } else if (u < j->npack + j->ntiles) {
            weight_unit(j, u - j->npack, &s);
        } else {
            input_unit(j, u - j->npack - j->ntiles, &s);
        }
    }
    gscratch_free(&s);
    return NULL;
}

/* Runs the planned units on nthreads threads (this one included). */
static void
run_units(gjob *j, int nthreads)
{
    j->next = 0;
    j->packed = 0;
    if (nthreads > j->units)
        nthreads = (int)j->units;
    if (nthreads < 1)
        nthreads = 1;
    pthread_t tids[64];
    int started = 0;
    for (int t = 1; t < nthreads && t < 64; t++) {
        if (pthread_create(&tids[started], NULL, gworker, j) == 0)
            started++;
    }
    gworker(j);
    for (int t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
}

/* OpenBLAS's K blocks of a K-long sum into *starts (allocated); the longest block. */
static ptrdiff_t
plan_blocks(ptrdiff_t K, ptrdiff_t **starts, ptrdiff_t *nblocks)
{
    *starts = malloc(((size_t)K / EG_Q + 3) * sizeof(ptrdiff_t));
    if (*starts == NULL)
        return -1;
    *nblocks = k_blocks(K, 1, *starts);
    ptrdiff_t kmax = 0;
    for (ptrdiff_t b = 0; b < *nblocks; b++)
        if ((*starts)[b + 1] - (*starts)[b] > kmax)
            kmax = (*starts)[b + 1] - (*starts)[b];
    return kmax;
}

/* The input gradient's units: whole channels per unit (col2im adds all of a channel's taps
 * in order), a multiple of MR rows where that is small enough; W_g^T packed. 0 on success. */
static int
plan_input(gjob *j)
{
    ptrdiff_t a = j->kk, bb = MR;
    while (bb) {
        ptrdiff_t t = a % bb;
        a = bb;
        bb = t;
    }
    ptrdiff_t step = MR / a, ch = step;
    while ((ch + step) * j->kk <= GX_ROWS &&
           (size_t)(ch + step) * j->kk * j->P * sizeof(float) <= GX_BYTES)
        ch += step;
    if ((size_t)ch * j->kk * j->P * sizeof(float) > 4 * (size_t)GX_BYTES)
        ch = 1;
    if (ch > j->Cg)
        ch = j->Cg;
    j->ch = ch;
    j->cchunks = (j->Cg + ch - 1) / ch;
    j->rows_pad = (ch * j->kk + MR - 1) / MR * MR;
    j->ninput = j->N * j->group * j->cchunks;
    j->Apacked = aligned_alloc(64, ((size_t)j->group * j->cchunks * j->rows_pad * j->Og *
                                    sizeof(float) + 63) / 64 * 64);
    if (j->Apacked == NULL)
        return -1;
    for (ptrdiff_t g = 0; g < j->group; g++) {
        const float *wt = j->w + g * j->Og * j->Kc;   /* W_g^T: strides 1, Kc */
        for (ptrdiff_t cc = 0; cc < j->cchunks; cc++) {
            float *dst = packed_rows(j, g, cc);
            for (ptrdiff_t bi = 0; bi < j->in_nblocks; bi++)
                pack_a(wt, 1, j->Kc, j->Kc, cc * ch * j->kk, j->rows_pad, j->in_starts[bi],
                       j->in_starts[bi + 1], dst + j->rows_pad * j->in_starts[bi]);
        }
    }
    return 0;
}

/* The weight gradient's tiles: all of Og per tile where it fits (each im2col value is
 * gathered once per tile), rows in chunks small enough that every thread has several tiles
 * to take; images in rounds whose packed dY^T fits GW_BYTES. Returns the round's length. */
static ptrdiff_t
plan_weight(gjob *j, int nthreads)
{
    j->ncw = NC;
    j->nchunks = (j->Og + j->ncw - 1) / j->ncw;
    j->mcw = MC;
    while (j->mcw > MR && j->group * j->nchunks * ((j->Kc + j->mcw - 1) / j->mcw) <
                              GW_TILES_PER_THREAD * (ptrdiff_t)nthreads)
        j->mcw -= MR;
    j->mchunks = (j->Kc + j->mcw - 1) / j->mcw;
    j->og_pad = (j->Og + NR - 1) / NR * NR;
    size_t per_image = (size_t)j->group * j->og_pad * j->P * sizeof(float);
    ptrdiff_t round = (ptrdiff_t)(GW_BYTES / per_image);
    if (round < 1)
        round = 1;
    if (round > j->N)
        round = j->N;
    j->gwt = aligned_alloc(64, ((size_t)j->group * j->Kc * j->Og * sizeof(float) + 63) / 64 *
                                   64);
    j->Bpacked = aligned_alloc(64, (per_image * round + 63) / 64 * 64);
    return (j->gwt == NULL || j->Bpacked == NULL) ? -1 : round;
}

/* Plans the units, packs what they share and runs them on nthreads threads (this one
 * included): the weight gradient's rounds (packing units, then tiles), the input gradient's
 * units after the first round's tiles (its small units even out the threads' ends). 0 on
 * success. */
static int
run_grad(gjob *j, int nthreads)
{
    ptrdiff_t kin = 0, kw = 0, round = 0;
    j->failed = 0;
    if (j->do_input && (kin = plan_blocks(j->Og, &j->in_starts, &j->in_nblocks)) < 0)
        j->failed = 1;
    if (j->do_weight && (kw = plan_blocks(j->P, &j->w_starts, &j->w_nblocks)) < 0)
        j->failed = 1;
    j->kmax = kin > kw ? kin : kw;
    if (!j->failed && j->do_input && plan_input(j) != 0)
        j->failed = 1;
    if (!j->failed && j->do_weight && (round = plan_weight(j, nthreads)) < 0)
        j->failed = 1;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->all_packed, NULL);
    if (!j->failed && !j->do_weight) {
        j->npack = j->ntiles = 0;
        j->units = j->ninput;
        run_units(j, nthreads);
    }
    ptrdiff_t ninput = j->ninput;
    for (j->img0 = 0; j->do_weight && j->img0 < j->N && !j->failed; j->img0 = j->img1) {
        j->img1 = j->img0 + round < j->N ? j->img0 + round : j->N;
        j->npack = (j->img1 - j->img0) * j->group;
        j->ntiles = j->group * j->mchunks * j->nchunks;
        j->ninput = j->img0 == 0 ? ninput : 0;
        j->units = j->npack + j->ntiles + j->ninput;
        run_units(j, nthreads);
    }
    if (!j->failed && j->do_weight) {
        /* gw_g = (gw_g^T)^T */
        for (ptrdiff_t g = 0; g < j->group; g++)
            for (ptrdiff_t o = 0; o < j->Og; o++)
                for (ptrdiff_t k = 0; k < j->Kc; k++)
                    j->gw[(g * j->Og + o) * j->Kc + k] = j->gwt[(g * j->Kc + k) * j->Og + o];
    }
    pthread_cond_destroy(&j->all_packed);
    pthread_mutex_destroy(&j->lock);
    free(j->gwt);
    free(j->Bpacked);
    free(j->Apacked);
    free(j->in_starts);
    free(j->w_starts);
    return j->failed ? -1 : 0;
}

/* ------------------------------------------------------------------------------------------
 * Python interface. */

static int
get_f32(PyObject *o, Py_buffer *v, int writable, int ndim, const char *what)
{
    int flags = PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(o, v, flags) != 0)
        return -1;
    if (v->format == NULL || strcmp(v->format, "f") != 0 || v->itemsize != 4) {
        PyErr_Format(PyExc_TypeError, "%s must be float32", what);
        PyBuffer_Release(v);
        return -1;
    }
    if (v->ndim != ndim) {
        PyErr_Format(PyExc_ValueError, "%s must have %d dimensions, not %d", what, ndim,
                     v->ndim);
        PyBuffer_Release(v);
        return -1;
    }
    for (int d = 0; d < ndim; d++) {
        if (v->strides[d] % 4 != 0) {
            PyErr_Format(PyExc_ValueError, "%s: strides must be multiples of 4 bytes", what);
            PyBuffer_Release(v);
            return -1;
        }
    }
    return 0;
}

/* The buffers of inputs a, b and output c (writable), each float32 of the given rank; on
 * failure none is held. */
static int
get_f32_operands(PyObject *oa, PyObject *ob, PyObject *oc, int ndim, const char *names[3],
                 Py_buffer *a, Py_buffer *b, Py_buffer *c)
{
    if (get_f32(oa, a, 0, ndim, names[0]) != 0)
        return -1;
    if (get_f32(ob, b, 0, ndim, names[1]) != 0) {
        PyBuffer_Release(a);
        return -1;
    }
    if (get_f32(oc, c, 1, ndim, names[2]) != 0) {
        PyBuffer_Release(a);
        PyBuffer_Release(b);
        return -1;
    }
    return 0;
}

static int
is_contiguous(const Py_buffer *v)
{
    ptrdiff_t expect = 4;
    for (int d = v->ndim - 1; d >= 0; d--) {
        if (v->shape[d] != 1 && v->strides[d] != expect)
            return 0;
        expect *= v->shape[d];
    }
    return 1;
}

/* Runs every product of a job (with OpenBLAS's small-kernel tail where it applies), the GIL
 * released: None, or NULL with MemoryError. */
static PyObject *
run_products(job *j, int nthreads)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = run_job(j, nthreads);
    if (rc == 0)
        rc = run_small_nn_tail(j);
    Py_END_ALLOW_THREADS
    if (rc != 0)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyObject *
py_gemm(PyObject *self, PyObject *args)
{
    PyObject *oa, *ob, *oc;
    int nthreads, blocked;
    Py_buffer a, b, c;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOpi:gemm", &oa, &ob, &oc, &blocked, &nthreads))
        return NULL;
    static const char *names[3] = {"A", "B", "C"};
    if (get_f32_operands(oa, ob, oc, 2, names, &a, &b, &c) != 0)
        return NULL;
    PyObject *ret = NULL;
    if (a.shape[1] != b.shape[0] || c.shape[0] != a.shape[0] || c.shape[1] != b.shape[1]) {
        PyErr_Format(PyExc_ValueError, "shapes (%zd, %zd) x (%zd, %zd) -> (%zd, %zd) do not "
                     "match", a.shape[0], a.shape[1], b.shape[0], b.shape[1], c.shape[0],
                     c.shape[1]);
        goto done;
    }
    if (c.shape[1] > 1 && c.strides[1] != 4) {
        PyErr_SetString(PyExc_ValueError, "C must be contiguous along its rows");
        goto done;
    }
    job j;
    memset(&j, 0, sizeof j);
    j.A = a.buf; j.sam = a.strides[0] / 4; j.sak = a.strides[1] / 4;
    j.B = b.buf; j.sbk = b.strides[0] / 4; j.sbn = b.strides[1] / 4;
    j.C = c.buf; j.ldc = c.strides[0] / 4;
    j.M = a.shape[0]; j.N = b.shape[1]; j.K = a.shape[1];
    j.items = 1;
    j.groups_a = 1;
    j.blocked = blocked;
    if (j.K == 0) {
        for (ptrdiff_t m = 0; m < j.M; m++)
            memset(j.C + m * j.ldc, 0, (size_t)j.N * sizeof(float));
        ret = Py_None;
        Py_INCREF(ret);
        goto done;
    }
    ret = run_products(&j, nthreads);
done:
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    PyBuffer_Release(&c);
    return ret;
}

static PyObject *
py_conv2d(PyObject *self, PyObject *args)
{
    PyObject *ox, *ow, *oy;
    Py_ssize_t sh, sw, ph, pw, dh, dw, group;
    int nthreads, blocked;
    Py_buffer x, w, y;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOnnnnnnnpi:conv2d", &ox, &ow, &oy, &sh, &sw, &ph, &pw, &dh,
                          &dw, &group, &blocked, &nthreads))
        return NULL;
    static const char *names[3] = {"x", "w", "y"};
    if (get_f32_operands(ox, ow, oy, 4, names, &x, &w, &y) != 0)
        return NULL;
    PyObject *ret = NULL;
    if (!is_contiguous(&x) || !is_contiguous(&w) || !is_contiguous(&y)) {
        PyErr_SetString(PyExc_ValueError, "x, w and y must be C-contiguous");
        goto done;
    }
    if (sh < 1 || sw < 1 || ph < 0 || pw < 0 || dh < 1 || dw < 1 || group < 1 ||
        x.shape[1] % group || w.shape[0] % group || w.shape[1] * group != x.shape[1]) {
        PyErr_SetString(PyExc_ValueError, "invalid convolution geometry");
        goto done;
    }
    ptrdiff_t kh = w.shape[2], kw = w.shape[3];
    ptrdiff_t OH = (x.shape[2] + 2 * ph - (dh * (kh - 1) + 1)) / sh + 1;
    ptrdiff_t OW = (x.shape[3] + 2 * pw - (dw * (kw - 1) + 1)) / sw + 1;
    if (y.shape[0] != x.shape[0] || y.shape[1] != w.shape[0] || y.shape[2] != OH ||
        y.shape[3] != OW) {
        PyErr_SetString(PyExc_ValueError, "y has the wrong shape for this convolution");
        goto done;
    }
    job j;
    memset(&j, 0, sizeof j);
    j.conv = 1;
    j.x = x.buf; j.w = w.buf; j.y = y.buf;
    j.Cin = x.shape[1]; j.H = x.shape[2]; j.W = x.shape[3];
    j.O = w.shape[0]; j.OH = OH; j.OW = OW; j.kh = kh; j.kw = kw;
    j.sh = sh; j.sw = sw; j.ph = ph; j.pw = pw; j.dh = dh; j.dw = dw; j.group = group;
    j.M = j.O / group; j.N = OH * OW; j.K = w.shape[1] * kh * kw;
    j.items = x.shape[0] * group;
    j.groups_a = group;
    j.blocked = blocked;
    if (j.K == 0 || j.N <= 0) {
        if (j.N > 0)
            memset(y.buf, 0, (size_t)y.len);
        ret = Py_None;
        Py_INCREF(ret);
        goto done;
    }
    ret = run_products(&j, nthreads);
done:
    PyBuffer_Release(&x);
    PyBuffer_Release(&w);
    PyBuffer_Release(&y);
    return ret;
}

/* The geometry shared by both gradients: x (or gx) (N, C, H, W), w (or gw) (O, C/group, kh,
 * kw), dy (N, O, OH, OW), all C-contiguous; 0, or -1 with ValueError. */
static int
grad_geometry(gjob *j, const Py_buffer *x, const Py_buffer *w, const Py_buffer *dy,
              Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh,
              Py_ssize_t dw, Py_ssize_t group)
{
    if (!is_contiguous(x) || !is_contiguous(w) || !is_contiguous(dy)) {
        PyErr_SetString(PyExc_ValueError, "x, w and dy must be C-contiguous");
        return -1;
    }
    if (sh < 1 || sw < 1 || ph < 0 || pw < 0 || dh < 1 || dw < 1 || group < 1 ||
        x->shape[1] % group || w->shape[0] % group || w->shape[1] * group != x->shape[1]) {
        PyErr_SetString(PyExc_ValueError, "invalid convolution geometry");
        return -1;
    }
    ptrdiff_t kh = w->shape[2], kw = w->shape[3];
    ptrdiff_t OH = (x->shape[2] + 2 * ph - (dh * (kh - 1) + 1)) / sh + 1;
    ptrdiff_t OW = (x->shape[3] + 2 * pw - (dw * (kw - 1) + 1)) / sw + 1;
    if (OH < 1 || OW < 1 || dy->shape[0] != x->shape[0] || dy->shape[1] != w->shape[0] ||
        dy->shape[2] != OH || dy->shape[3] != OW) {
        PyErr_SetString(PyExc_ValueError, "dy has the wrong shape for this convolution");
        return -1;
    }
    memset(j, 0, sizeof *j);
    j->N = x->shape[0]; j->Cin = x->shape[1]; j->H = x->shape[2]; j->W = x->shape[3];
    j->O = w->shape[0]; j->OH = OH; j->OW = OW; j->kh = kh; j->kw = kw;
    j->sh = sh; j->sw = sw; j->ph = ph; j->pw = pw; j->dh = dh; j->dw = dw; j->group = group;
    j->Og = j->O / group; j->Cg = j->Cin / group; j->kk = kh * kw; j->Kc = j->Cg * j->kk;
    j->P = OH * OW;
    return 0;
}

static int
same_shape(const Py_buffer *a, const Py_buffer *b)
{
    for (int d = 0; d < 4; d++)
        if (a->shape[d] != b->shape[d])
            return 0;
    return 1;
}

/* conv2d_grads(x, w, dy, gx, gw, ...): gx and/or gw (None: not wanted) of one job. */
static PyObject *
py_conv2d_grads(PyObject *self, PyObject *args)
{
    PyObject *ox, *ow, *ody, *ogx, *ogw;
    Py_ssize_t sh, sw, ph, pw, dh, dw, group;
    int nthreads;
    Py_buffer x, w, dy, gx, gw;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOnnnnnnni:conv2d_grads", &ox, &ow, &ody, &ogx, &ogw, &sh,
                          &sw, &ph, &pw, &dh, &dw, &group, &nthreads))
        return NULL;
    int want_x = ogx != Py_None, want_w = ogw != Py_None, held = 0;
    PyObject *ret = NULL;
    if (get_f32(ox, &x, 0, 4, "x") != 0)
        return NULL;
    held = 1;
    if (get_f32(ow, &w, 0, 4, "w") != 0)
        goto done;
    held = 2;
    if (get_f32(ody, &dy, 0, 4, "dy") != 0)
        goto done;
    held = 3;
    if (want_x && get_f32(ogx, &gx, 1, 4, "gx") != 0)
        goto done;
    held = 4;
    if (want_w && get_f32(ogw, &gw, 1, 4, "gw") != 0)
        goto done;
    held = 5;
    if ((want_x && (!is_contiguous(&gx) || !same_shape(&gx, &x))) ||
        (want_w && (!is_contiguous(&gw) || !same_shape(&gw, &w)))) {
        PyErr_SetString(PyExc_ValueError, "gx and gw must be C-contiguous, shaped as x and w");
        goto done;
    }
    gjob j;
    if (grad_geometry(&j, &x, &w, &dy, sh, sw, ph, pw, dh, dw, group) != 0)
        goto done;
    j.x = x.buf; j.w = w.buf; j.dy = dy.buf;
    j.gx = want_x ? gx.buf : NULL;
    j.gw = want_w ? gw.buf : NULL;
    j.do_input = want_x;
    j.do_weight = want_w;
    int rc = 0;
    Py_BEGIN_ALLOW_THREADS
    if (j.N == 0 || j.Og == 0 || j.Kc == 0) {
        if (want_x)
            memset(gx.buf, 0, (size_t)gx.len);
        if (want_w)
            memset(gw.buf, 0, (size_t)gw.len);
    } else if (want_x || want_w) {
        rc = run_grad(&j, nthreads);
    }
    Py_END_ALLOW_THREADS
    if (rc != 0) {
        PyErr_NoMemory();
        goto done;
    }
    ret = Py_None;
    Py_INCREF(ret);
done:
    if (held >= 5 && want_w)
        PyBuffer_Release(&gw);
    if (held >= 4 && want_x)
        PyBuffer_Release(&gx);
    if (held >= 3)
        PyBuffer_Release(&dy);
    if (held >= 2)
        PyBuffer_Release(&w);
    PyBuffer_Release(&x);
    return ret;
}

static PyObject *
py_gemm_tn_small(PyObject *self, PyObject *args)
{
    PyObject *ow, *ox, *oc;
    Py_buffer w, x, c;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO:gemm_tn_small", &ow, &ox, &oc))
        return NULL;
    static const char *names[3] = {"W", "X", "C"};
    if (get_f32_operands(ow, ox, oc, 2, names, &w, &x, &c) != 0)
        return NULL;
    PyObject *ret = NULL;
    if (w.shape[1] != x.shape[1] || c.shape[0] != x.shape[0] || c.shape[1] != w.shape[0] ||
        (c.shape[1] > 1 && c.strides[1] != 4)) {
        PyErr_SetString(PyExc_ValueError, "gemm_tn_small: W (M, K), X (N, K), C (N, M) with "
                        "rows of C contiguous");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    tn_small(w.buf, w.strides[0] / 4, w.strides[1] / 4, x.buf, x.strides[0] / 4,
             x.strides[1] / 4, c.buf, c.strides[0] / 4, w.shape[0], x.shape[0], w.shape[1]);
    Py_END_ALLOW_THREADS
    ret = Py_None;
    Py_INCREF(ret);
done:
    PyBuffer_Release(&w);
    PyBuffer_Release(&x);
    PyBuffer_Release(&c);
    return ret;
}

static PyObject *
py_vector_kernel(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
#if EG_X86
    if (the_kernel == kernel_avx2)
        return PyUnicode_FromString("avx2-fma");
#endif
    return PyUnicode_FromString("scalar-fmaf");
}

static PyMethodDef methods[] = {
    {"gemm", py_gemm, METH_VARARGS,
     "gemm(A, B, C, blocked, nthreads): C = A @ B in OpenBLAS's (Caffe's) float32 summation "
     "order; blocked: the general driver's K blocks (else the small-matrix kernels)."},
    {"conv2d", py_conv2d, METH_VARARGS,
     "conv2d(x, w, y, sh, sw, ph, pw, dh, dw, group, blocked, nthreads): y = Caffe's im2col "
     "+ gemm convolution of x with w (no bias), in OpenBLAS's summation order."},
    {"conv2d_grads", py_conv2d_grads, METH_VARARGS,
     "conv2d_grads(x, w, dy, gx, gw, sh, sw, ph, pw, dh, dw, group, nthreads): the input "
     "gradient gx (as Caffe's backward_cpu_gemm and col2im_cpu sum it) and the weight gradient "
     "gw (summed image by image as Caffe's weight_cpu_gemm) of a convolution of x with w for "
     "the top gradient dy, written into gx and gw (None: not wanted), in one job."},
    {"gemm_tn_small", py_gemm_tn_small, METH_VARARGS,
     "gemm_tn_small(W, X, C): C[j, i] = sum_k W[i, k] X[j, k] as OpenBLAS's small TN kernel."},
    {"vector_kernel", py_vector_kernel, METH_NOARGS,
     "The micro-kernel in use: 'avx2-fma' or 'scalar-fmaf'."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_exact_gemm",
    "Matrix products in the summation order of Caffe 1.0's CPU forward pass.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__exact_gemm(void)
{
    the_kernel = pick_kernel();
    return PyModule_Create(&module);
}
