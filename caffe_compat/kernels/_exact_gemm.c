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
 * The fused multiply-add is the AVX-512 or AVX2/FMA instruction where the processor has it
 * and C's fmaf otherwise (the same correctly rounded operation, slower); the lane width only
 * changes how many outputs advance at once, never an output's own sequence, so every
 * processor gives the same bits. CAFFE_COMPAT_EXACT_GEMM_KERNEL=scalar|avx2 caps the choice
 * for testing (CAFFE_COMPAT_EXACT_GEMM_PORTABLE=1 is scalar). The module must be built without
 * -ffast-math and with -ffp-contract=off: the block sums are plain additions, never fused.
 * Work is cut into tiles of C that threads take in turn (this one and a parked team,
 * _team_pool.h); the GIL is released meanwhile.
 */
#include "_exact_gemm.h"
#include "_kernel_api.h"
#include "_team_cpus.h"
#include "_team_pool.h"

/* OpenBLAS's K blocks of a K-long sum (one block where !blocked): their starts into *starts
 * (allocated, *nblocks + 1 entries); returns the longest block, or -1 out of memory. */
ptrdiff_t
k_blocks(ptrdiff_t K, int blocked, ptrdiff_t **starts, ptrdiff_t *nblocks)
{
    ptrdiff_t n = 0, ls = 0, kmax = 0;
    ptrdiff_t *s = *starts = malloc(((size_t)K / EG_Q + 3) * sizeof(ptrdiff_t));
    if (s == NULL)
        return -1;
    while (ls < K) {
        ptrdiff_t min_l = K - ls;
        if (!blocked)
            ;
        else if (min_l >= 2 * EG_Q)
            min_l = EG_Q;
        else if (min_l > EG_Q)
            min_l = (min_l + 1) / 2;
        if (min_l > kmax)
            kmax = min_l;
        s[n++] = ls;
        ls += min_l;
    }
    s[n] = K;
    *nblocks = n;
    return kmax;
}

/* ------------------------------------------------------------------------------------------
 * Micro-kernels: acc[r][c] = sum over k of Ap[k*MR + r] * Bp[k*NR + c] (sequential fused
 * multiply-adds from zero), then T[r*ldt + c] = acc (first block) or T + acc. */


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

/* The vector micro-kernels: 6 rows of two registers of vector type V (intrinsics prefix P),
 * twelve accumulators from zero, one fused multiply-add per k and register, b0 read at B0 = Bp
 * and b1 at B1 = B1_AT (each advancing NR per k), then row r stored at T + r * ldt and + LANES.
 * kernel_avx2: one B panel, its 16 columns in two 8-lane registers. wide_avx512: the same
 * sums for two adjacent B panels (32 columns), Bp and Bp + kc * NR, one 16-lane register per
 * row and panel. Each output's sequence of operations is the scalar kernel's (one fused
 * multiply-add per k from zero, then the block added), so the bits are the same; twelve
 * independent accumulators keep AVX-512's two fused multiply-add pipes full where the narrow
 * kernel's twelve 8-lane ones fill half. */
#define EG_VECTOR_KERNEL(name, isa, V, P, LOAD, B1_AT, LANES)                               \
    __attribute__((target(isa))) static void                                                \
    name(ptrdiff_t kc, const float *Ap, const float *Bp, float *T, ptrdiff_t ldt, int first) \
    {                                                                                       \
        const float *B0 = Bp, *B1 = (B1_AT);                                                \
        V c00 = P##_setzero_ps(), c01 = P##_setzero_ps();                                   \
        V c10 = P##_setzero_ps(), c11 = P##_setzero_ps();                                   \
        V c20 = P##_setzero_ps(), c21 = P##_setzero_ps();                                   \
        V c30 = P##_setzero_ps(), c31 = P##_setzero_ps();                                   \
        V c40 = P##_setzero_ps(), c41 = P##_setzero_ps();                                   \
        V c50 = P##_setzero_ps(), c51 = P##_setzero_ps();                                   \
        for (ptrdiff_t k = 0; k < kc; k++) {                                                \
            V b0 = LOAD(B0), b1 = LOAD(B1), a;                                              \
            a = P##_set1_ps(Ap[0]);                                                         \
            c00 = P##_fmadd_ps(a, b0, c00); c01 = P##_fmadd_ps(a, b1, c01);                 \
            a = P##_set1_ps(Ap[1]);                                                         \
            c10 = P##_fmadd_ps(a, b0, c10); c11 = P##_fmadd_ps(a, b1, c11);                 \
            a = P##_set1_ps(Ap[2]);                                                         \
            c20 = P##_fmadd_ps(a, b0, c20); c21 = P##_fmadd_ps(a, b1, c21);                 \
            a = P##_set1_ps(Ap[3]);                                                         \
            c30 = P##_fmadd_ps(a, b0, c30); c31 = P##_fmadd_ps(a, b1, c31);                 \
            a = P##_set1_ps(Ap[4]);                                                         \
            c40 = P##_fmadd_ps(a, b0, c40); c41 = P##_fmadd_ps(a, b1, c41);                 \
            a = P##_set1_ps(Ap[5]);                                                         \
            c50 = P##_fmadd_ps(a, b0, c50); c51 = P##_fmadd_ps(a, b1, c51);                 \
            Ap += MR;                                                                       \
            B0 += NR;                                                                       \
            B1 += NR;                                                                       \
        }                                                                                   \
        EG_STORE(P, LANES, 0, c00, c01); EG_STORE(P, LANES, 1, c10, c11);                   \
        EG_STORE(P, LANES, 2, c20, c21); EG_STORE(P, LANES, 3, c30, c31);                   \
        EG_STORE(P, LANES, 4, c40, c41); EG_STORE(P, LANES, 5, c50, c51);                   \
    }
/* Row r of a vector micro-kernel's tile: lo at T + r * ldt, hi LANES after it. */
#define EG_STORE(P, LANES, r, lo, hi)                                                       \
    do {                                                                                    \
        float *t = T + (r) * ldt;                                                           \
        if (first) {                                                                        \
            P##_storeu_ps(t, lo); P##_storeu_ps(t + (LANES), hi);                           \
        } else {                                                                            \
            P##_storeu_ps(t, P##_add_ps(P##_loadu_ps(t), lo));                              \
            P##_storeu_ps(t + (LANES), P##_add_ps(P##_loadu_ps(t + (LANES)), hi));          \
        }                                                                                   \
    } while (0)

#if KC_X86
EG_VECTOR_KERNEL(kernel_avx2, "avx2,fma", __m256, _mm256, _mm256_load_ps, Bp + 8, 8)
EG_VECTOR_KERNEL(wide_avx512, "avx512f", __m512, _mm512, _mm512_loadu_ps, Bp + kc * NR, NR)
#endif
#undef EG_VECTOR_KERNEL
#undef EG_STORE

/* CAFFE_COMPAT_EXACT_GEMM_KERNEL: "scalar", "avx2" or "avx512" caps the kernels picked (for
 * tests: every choice gives the same bits); CAFFE_COMPAT_EXACT_GEMM_PORTABLE=1 is "scalar". */
static int
kernel_cap(void)
{
    const char *portable = getenv("CAFFE_COMPAT_EXACT_GEMM_PORTABLE");
    const char *cap = getenv("CAFFE_COMPAT_EXACT_GEMM_KERNEL");
    if (portable != NULL && strcmp(portable, "1") == 0)
        return 0;
    if (cap != NULL && strcmp(cap, "scalar") == 0)
        return 0;
    if (cap != NULL && strcmp(cap, "avx2") == 0)
        return 1;
    return 2;
}

static void
pick_kernels(void)
{
    int cap = kernel_cap();
    the_kernel = kernel_scalar;
    the_wide_kernel = NULL;
#if KC_X86
    __builtin_cpu_init();
    if (cap >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        the_kernel = kernel_avx2;
    if (cap >= 2 && the_kernel == kernel_avx2 && __builtin_cpu_supports("avx512f"))
        the_wide_kernel = wide_avx512;
#else
    (void)cap;
#endif
}

kernel_fn the_kernel;
kernel_fn the_wide_kernel;

int
eg_avx2(void)
{
#if KC_X86
    return the_kernel == kernel_avx2;
#else
    return 0;
#endif
}

/* ------------------------------------------------------------------------------------------
 * Packing. A panel: rows [m0, m0 + mc) and columns [k0, k1) of A, MR rows at a time, each
 * k giving MR consecutive values (zero beyond M). B panel: columns [n0, n0 + nc), NR at a
 * time, each k giving NR consecutive values (zero beyond N). */

void
pack_a(const float *A, ptrdiff_t sm, ptrdiff_t sk, ptrdiff_t M, ptrdiff_t m0, ptrdiff_t mc,
       ptrdiff_t k0, ptrdiff_t k1, float *Ap)
{
    ptrdiff_t kc = k1 - k0;
    for (ptrdiff_t p = 0; p < mc; p += MR) {
        float *dst = Ap + p * kc;
        if (sm == 1 && m0 + p + MR <= M) {
            /* a panel's rows side by side in memory (A read as the transpose of a row-major
             * matrix): each k's MR values are one contiguous read */
            const float *src = A + (m0 + p) + k0 * sk;
            for (ptrdiff_t k = 0; k < kc; k++, src += sk)
                memcpy(dst + k * MR, src, MR * sizeof(float));
            continue;
        }
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


void
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
                    if (len == NR)
                        memcpy(d, row + ix, NR * sizeof(float));   /* inlined: a constant size */
                    else
                        memcpy(d, row + ix, (size_t)len * sizeof(float));
                } else {
                    /* the lanes whose input column lies inside, [t0, t1); zeros around */
                    ptrdiff_t t0, t1;
                    inside_span(ix, s->sw, s->W, len, &t0, &t1);
                    for (ptrdiff_t t = 0; t < t0; t++)
                        d[t] = 0.0f;
                    if (s->sw == 1) {
                        memcpy(d + t0, row + ix + t0, (size_t)(t1 - t0) * sizeof(float));
                    } else {
                        const float *src = row + ix + t0 * s->sw;
                        for (ptrdiff_t t = t0; t < t1; t++, src += s->sw)
                            d[t] = *src;
                    }
                    for (ptrdiff_t t = t1; t < len; t++)
                        d[t] = 0.0f;
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

/* One micro-tile of `width` columns (NR or 2 NR) into c: straight into C when whole, else
 * through the thread's edge tile, of which only the mv x nv valid outputs are kept. */
static void
micro_tile(kernel_fn kernel, ptrdiff_t width, ptrdiff_t kc, const float *Ap, const float *Bp,
           float *c, ptrdiff_t ldc, ptrdiff_t mv, ptrdiff_t nv, int first, scratch *s)
{
    if (mv == MR && nv == width) {
        kernel(kc, Ap, Bp, c, ldc, first);
        return;
    }
    kernel(kc, Ap, Bp, s->tile, width, 1);
    for (ptrdiff_t r = 0; r < mv; r++)
        for (ptrdiff_t t = 0; t < nv; t++)
            c[r * ldc + t] = first ? s->tile[r * width + t]
                                   : c[r * ldc + t] + s->tile[r * width + t];
}

/* One K block of a product into C (row stride ldc): rows [0, mc) and columns [0, nc) from
 * the packed panels Ap (mc rounded up to MR rows) and Bp (nc rounded up to NR columns);
 * C = block (first) or C + block. */
void
block_product(const float *Ap, const float *Bp, ptrdiff_t kc, float *C, ptrdiff_t ldc,
              ptrdiff_t mc, ptrdiff_t nc, int first, scratch *s)
{
    ptrdiff_t mcp = (mc + MR - 1) / MR * MR, ncp = (nc + NR - 1) / NR * NR;
    ptrdiff_t q = 0;
    /* pairs of whole B panels through the wide kernel, where there is one; the rest (and
     * everything without it) one panel at a time */
    for (; the_wide_kernel != NULL && q + 2 * NR <= nc; q += 2 * NR)
        for (ptrdiff_t p = 0; p < mcp; p += MR)
            micro_tile(the_wide_kernel, 2 * NR, kc, Ap + p * kc, Bp + q * kc, C + p * ldc + q,
                       ldc, mc - p < MR ? mc - p : MR, 2 * NR, first, s);
    for (; q < ncp; q += NR)
        for (ptrdiff_t p = 0; p < mcp; p += MR)
            micro_tile(the_kernel, NR, kc, Ap + p * kc, Bp + q * kc, C + p * ldc + q, ldc,
                       mc - p < MR ? mc - p : MR, nc - q < NR ? nc - q : NR, first, s);
}

/* Columns [n0, n0 + nc) of C for m chunks [mi0, mi1) (rows [mi0 * MC, ...)): each K block
 * of B packed once and multiplied by every chunk's packed A. */
static void
product_tile(const float *Agroup, ptrdiff_t M, ptrdiff_t K, const bsrc *b, float *C,
             ptrdiff_t ldc, ptrdiff_t N, const ptrdiff_t *starts, ptrdiff_t nblocks,
             ptrdiff_t mi0, ptrdiff_t mi1, ptrdiff_t n0, ptrdiff_t nc, scratch *s)
{
    for (ptrdiff_t bi = 0; bi < nblocks; bi++) {
        ptrdiff_t k0 = starts[bi], k1 = starts[bi + 1], kc = k1 - k0;
        pack_b(b, N, n0, nc, k0, k1, s->Bp);
        for (ptrdiff_t mi = mi0; mi < mi1; mi++) {
            ptrdiff_t m0 = mi * MC, mc = M - m0 < MC ? M - m0 : MC;
            ptrdiff_t mcp = (mc + MR - 1) / MR * MR;
            block_product(Agroup + mi * MC * K + mcp * k0, s->Bp, kc, C + m0 * ldc + n0, ldc,
                          mc, nc, bi == 0, s);
        }
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
    ptrdiff_t nblocks, kmax;
    /* conv2d: items are (image, group) */
    int conv;
    const float *x, *w;
    float *y;
    ptrdiff_t Cin, H, W, O, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, group;
    /* A packed once: per group, per m chunk, the blocks one after the other */
    float *Apacked;
    ptrdiff_t groups_a;
    /* scheduling: a unit is (item, m span, n chunk), a span being mspan m chunks */
    ptrdiff_t items, mchunks, nchunks, ncw, mspan, mspans, units;
    ptrdiff_t next;
    pthread_mutex_t lock;
    int failed;
} job;

/* Where group g's packed A starts (chunk mi's rows at + mi * MC * K). */
static const float *
packed_group(const job *j, ptrdiff_t g)
{
    ptrdiff_t mpad = (j->M + MR - 1) / MR * MR;
    return j->Apacked + g * mpad * j->K;
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
    ptrdiff_t per_item = j->mspans * j->nchunks;
    ptrdiff_t item = u / per_item, rest = u % per_item;
    ptrdiff_t si = rest / j->nchunks, ni = rest % j->nchunks;
    ptrdiff_t mi0 = si * j->mspan;
    ptrdiff_t mi1 = mi0 + j->mspan < j->mchunks ? mi0 + j->mspan : j->mchunks;
    ptrdiff_t n0 = ni * j->ncw;
    ptrdiff_t nc = j->N - n0 < j->ncw ? j->N - n0 : j->ncw;
    bsrc b;
    const float *A;
    float *C;
    ptrdiff_t sam, sak, ldc;
    ptrdiff_t g = item_operands(j, item, &b, &A, &sam, &sak, &C, &ldc);
    product_tile(packed_group(j, g), j->M, j->K, &b, C, ldc, j->N, j->starts, j->nblocks,
                 mi0, mi1, n0, nc, s);
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
            float *dst = (float *)packed_group(j, g) + mi * MC * j->K;
            for (ptrdiff_t bi = 0; bi < j->nblocks; bi++)
                pack_a(A, sam, sak, j->M, m0, mcp, j->starts[bi], j->starts[bi + 1],
                       dst + mcp * j->starts[bi]);
        }
    }
    return 0;
}

static void *
worker(void *arg)
{
    job *j = arg;
    scratch s;
    s.Bp = aligned_alloc(64, ((size_t)NC * j->kmax * sizeof(float) + 63) / 64 * 64);
    if (s.Bp == NULL) {
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
    free(s.Bp);
    return NULL;
}

void
run_team(void *(*fn)(void *), void *arg, ptrdiff_t units, int nthreads)
{
    if (nthreads > units)
        nthreads = (int)units;
    team_run(fn, arg, nthreads);
}

#define UNITS_PER_THREAD 4  /* units per thread a job is cut into, at least (sizes allowing) */

/* Runs the job on nthreads threads (this one included); 0 on success. */
static int
run_job(job *j, int nthreads)
{
    j->mchunks = (j->M + MC - 1) / MC;
    /* B's packing (an im2col gather for a convolution) is paid once per unit: a unit takes
     * every m chunk, and where the items and NC-wide column chunks give the threads fewer
     * than UNITS_PER_THREAD units each, the columns are cut narrower (down to one tile)
     * so that they do, each column packed once; only where even that leaves a thread
     * without a unit are the rows split (packing B once per m chunk) */
    j->ncw = NC;
    if (nthreads > 1 && j->items * ((j->N + NC - 1) / NC) < UNITS_PER_THREAD * nthreads) {
        /* whole micro-tiles: pairs of panels where the wide kernel takes them */
        ptrdiff_t step = the_wide_kernel != NULL ? 2 * NR : NR;
        ptrdiff_t want = (UNITS_PER_THREAD * nthreads + j->items - 1) / j->items;
        ptrdiff_t w = ((j->N + want - 1) / want + step - 1) / step * step;
        j->ncw = w > NC ? NC : w;
    }
    j->nchunks = (j->N + j->ncw - 1) / j->ncw;
    j->mspan = j->items * j->nchunks >= (ptrdiff_t)nthreads || nthreads <= 1 ? j->mchunks : 1;
    j->mspans = (j->mchunks + j->mspan - 1) / j->mspan;
    j->units = j->items * j->mspans * j->nchunks;
    j->next = 0;
    j->failed = 0;
    if (j->units == 0)
        return 0;
    if ((j->kmax = k_blocks(j->K, j->blocked, &j->starts, &j->nblocks)) < 0)
        return -1;
    if (pack_all_a(j) != 0) {
        free(j->starts);
        return -1;
    }
    pthread_mutex_init(&j->lock, NULL);
    run_team(worker, j, j->units, nthreads);
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

/* The sixteen lanes of one output, W's row w and X's row x both contiguous in k: two 8-wide
 * fused multiply-adds per 16 values of k (lane l of the pair is k = l mod 16, in order), the
 * last K % 16 values one lane each; the same operations as the scalar loop of tn_small. */
#if KC_X86
__attribute__((target("avx2,fma"))) static void
tn_lanes_avx2(const float *w, const float *x, ptrdiff_t K, float *v)
{
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    ptrdiff_t k = 0;
    for (; k + 16 <= K; k += 16) {
        lo = _mm256_fmadd_ps(_mm256_loadu_ps(w + k), _mm256_loadu_ps(x + k), lo);
        hi = _mm256_fmadd_ps(_mm256_loadu_ps(w + k + 8), _mm256_loadu_ps(x + k + 8), hi);
    }
    _mm256_storeu_ps(v, lo);
    _mm256_storeu_ps(v + 8, hi);
    for (; k < K; k++) {
        __m128 r = _mm_fmadd_ss(_mm_set_ss(w[k]), _mm_set_ss(x[k]), _mm_set_ss(v[k & 15]));
        v[k & 15] = _mm_cvtss_f32(r);
    }
}
#endif

/* One output of the sixteen-lane accumulation: sum_k w[k * sw] x[k * sx] (lanes: both
 * contiguous, through tn_lanes_avx2), reduced by REDUCE_4's tree (four) or the other. */
static float
tn_output(const float *w, ptrdiff_t sw, const float *x, ptrdiff_t sx, ptrdiff_t K, int lanes,
          int four)
{
    float v[16];
#if KC_X86
    if (lanes)
        tn_lanes_avx2(w, x, K, v);
    else
#else
    (void)lanes;
#endif
    {
        memset(v, 0, sizeof v);
        for (ptrdiff_t k = 0; k < K; k++)
            v[k & 15] = fmaf(w[k * sw], x[k * sx], v[k & 15]);
    }
    return four ? reduce4_tree(v) : reduce_add_tree(v);
}

static void
tn_small(const float *W, ptrdiff_t swi, ptrdiff_t swk, const float *X, ptrdiff_t sxj,
         ptrdiff_t sxk, float *C, ptrdiff_t ldc, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K)
{
    int lanes = eg_avx2() && swk == 1 && sxk == 1;
    for (ptrdiff_t i = 0; i < M; i++) {
        for (ptrdiff_t j = 0; j < N; j++) {
            int four = i < (M & ~(ptrdiff_t)3) || j < (N & ~(ptrdiff_t)3);
            C[j * ldc + i] = tn_output(W + i * swi, swk, X + j * sxj, sxk, K, lanes, four);
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
    float *Bp = malloc((size_t)K * NR * sizeof(float) * 2);
    if (Bp == NULL)
        return -1;
    float *Bt = Bp + K * NR;        /* the tail's columns, each contiguous in k */
    pack_b(b, N, n0, nc, 0, K, Bp);
    for (ptrdiff_t q = 0; q < nc; q++)
        for (ptrdiff_t k = 0; k < K; k++)
            Bt[q * K + k] = Bp[k * NR + q];
    int lanes = eg_avx2() && sak == 1;
    for (ptrdiff_t m = 0; m < M; m++) {
        for (ptrdiff_t q = 0; q < nc; q++) {
            int four = n0 + q < (N & ~(ptrdiff_t)3) || m < (M & ~(ptrdiff_t)3);
            C[m * ldc + n0 + q] = tn_output(A + m * sam, sak, Bt + q * K, 1, K, lanes, four);
        }
    }
    free(Bp);
    return 0;
}

/* Applies small_nn_tail to every product of the job where OpenBLAS's kernel has that tail. */
static int
run_small_nn_tail(job *j)
{
    if (j->blocked || j->K < 32 || j->N % 16 < 1 || j->N % 16 > 8)
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
 * Python interface. */

int
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

/* The buffers of inputs o[0], o[1] and output o[2] (writable), each float32 of the given rank;
 * on failure none is held. */
static int
get_f32_operands(PyObject *const *o, int ndim, const char *names[3], Py_buffer *v)
{
    for (int i = 0; i < 3; i++) {
        if (get_f32(o[i], &v[i], i == 2, ndim, names[i]) != 0) {
            kc_release(v, i);
            return -1;
        }
    }
    return 0;
}

/* Every product of a job, with OpenBLAS's small-kernel tail where it applies: 0, or -1 out of
 * memory. */
static int
run_products(job *j, int nthreads)
{
    int rc = run_job(j, nthreads);
    return rc != 0 ? rc : run_small_nn_tail(j);
}

/* The products for other extensions (_kernel_api.h) and for gemm(). */
static int
capi_gemm(const float *A, ptrdiff_t sam, ptrdiff_t sak, const float *B, ptrdiff_t sbk,
          ptrdiff_t sbn, float *C, ptrdiff_t ldc, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
          int blocked, int nthreads)
{
    if (K == 0) {
        for (ptrdiff_t m = 0; m < M; m++)
            memset(C + m * ldc, 0, (size_t)N * sizeof(float));
        return 0;
    }
    job j;
    memset(&j, 0, sizeof j);
    j.A = A; j.sam = sam; j.sak = sak;
    j.B = B; j.sbk = sbk; j.sbn = sbn;
    j.C = C; j.ldc = ldc;
    j.M = M; j.N = N; j.K = K;
    j.items = 1;
    j.groups_a = 1;
    j.blocked = blocked;
    return run_products(&j, nthreads);
}

static const eg_api the_api = {capi_gemm, tn_small};

static PyObject *
py_gemm(PyObject *self, PyObject *args)
{
    PyObject *o[3];
    int nthreads, blocked, rc;
    Py_buffer v[3];
    static const char *names[3] = {"A", "B", "C"};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOpi:gemm", &o[0], &o[1], &o[2], &blocked, &nthreads) ||
        get_f32_operands(o, 2, names, v) != 0)
        return NULL;
    const Py_buffer *a = &v[0], *b = &v[1], *c = &v[2];
    PyObject *ret = NULL;
    if (a->shape[1] != b->shape[0] || c->shape[0] != a->shape[0] || c->shape[1] != b->shape[1]) {
        PyErr_Format(PyExc_ValueError, "shapes (%zd, %zd) x (%zd, %zd) -> (%zd, %zd) do not "
                     "match", a->shape[0], a->shape[1], b->shape[0], b->shape[1], c->shape[0],
                     c->shape[1]);
    } else if (c->shape[1] > 1 && c->strides[1] != 4) {
        PyErr_SetString(PyExc_ValueError, "C must be contiguous along its rows");
    } else {
        Py_BEGIN_ALLOW_THREADS
        rc = capi_gemm(a->buf, a->strides[0] / 4, a->strides[1] / 4, b->buf, b->strides[0] / 4,
                       b->strides[1] / 4, c->buf, c->strides[0] / 4, a->shape[0], b->shape[1],
                       a->shape[1], blocked, nthreads);
        Py_END_ALLOW_THREADS
        ret = rc != 0 ? PyErr_NoMemory() : Py_NewRef(Py_None);
    }
    kc_release(v, 3);
    return ret;
}

static PyObject *
py_conv2d(PyObject *self, PyObject *args)
{
    PyObject *o[3];
    Py_ssize_t sh, sw, ph, pw, dh, dw, group;
    int nthreads, blocked;
    Py_buffer v[3];
    static const char *names[3] = {"x", "w", "y"};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOnnnnnnnpi:conv2d", &o[0], &o[1], &o[2], &sh, &sw, &ph, &pw,
                          &dh, &dw, &group, &blocked, &nthreads) ||
        get_f32_operands(o, 4, names, v) != 0)
        return NULL;
    const Py_buffer *x = &v[0], *w = &v[1], *y = &v[2];
    PyObject *ret = NULL;
    if (!kc_contiguous(x, 4) || !kc_contiguous(w, 4) || !kc_contiguous(y, 4)) {
        PyErr_SetString(PyExc_ValueError, "x, w and y must be C-contiguous");
        goto done;
    }
    if (sh < 1 || sw < 1 || ph < 0 || pw < 0 || dh < 1 || dw < 1 || group < 1 ||
        x->shape[1] % group || w->shape[0] % group || w->shape[1] * group != x->shape[1]) {
        PyErr_SetString(PyExc_ValueError, "invalid convolution geometry");
        goto done;
    }
    ptrdiff_t kh = w->shape[2], kw = w->shape[3];
    ptrdiff_t OH = (x->shape[2] + 2 * ph - (dh * (kh - 1) + 1)) / sh + 1;
    ptrdiff_t OW = (x->shape[3] + 2 * pw - (dw * (kw - 1) + 1)) / sw + 1;
    if (y->shape[0] != x->shape[0] || y->shape[1] != w->shape[0] || y->shape[2] != OH ||
        y->shape[3] != OW) {
        PyErr_SetString(PyExc_ValueError, "y has the wrong shape for this convolution");
        goto done;
    }
    job j;
    memset(&j, 0, sizeof j);
    j.conv = 1;
    j.x = x->buf; j.w = w->buf; j.y = y->buf;
    j.Cin = x->shape[1]; j.H = x->shape[2]; j.W = x->shape[3];
    j.O = w->shape[0]; j.OH = OH; j.OW = OW; j.kh = kh; j.kw = kw;
    j.sh = sh; j.sw = sw; j.ph = ph; j.pw = pw; j.dh = dh; j.dw = dw; j.group = group;
    j.M = j.O / group; j.N = OH * OW; j.K = w->shape[1] * kh * kw;
    j.items = x->shape[0] * group;
    j.groups_a = group;
    j.blocked = blocked;
    int rc = 0;
    Py_BEGIN_ALLOW_THREADS
    if (j.K == 0 || j.N <= 0) {
        if (j.N > 0)
            memset(y->buf, 0, (size_t)y->len);
    } else {
        rc = run_products(&j, nthreads);
    }
    Py_END_ALLOW_THREADS
    ret = rc != 0 ? PyErr_NoMemory() : Py_NewRef(Py_None);
done:
    kc_release(v, 3);
    return ret;
}

static PyObject *
py_gemm_tn_small(PyObject *self, PyObject *args)
{
    PyObject *o[3];
    Py_buffer v[3];
    static const char *names[3] = {"W", "X", "C"};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO:gemm_tn_small", &o[0], &o[1], &o[2]) ||
        get_f32_operands(o, 2, names, v) != 0)
        return NULL;
    const Py_buffer *w = &v[0], *x = &v[1], *c = &v[2];
    PyObject *ret = NULL;
    if (w->shape[1] != x->shape[1] || c->shape[0] != x->shape[0] || c->shape[1] != w->shape[0] ||
        (c->shape[1] > 1 && c->strides[1] != 4)) {
        PyErr_SetString(PyExc_ValueError, "gemm_tn_small: W (M, K), X (N, K), C (N, M) with "
                        "rows of C contiguous");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    tn_small(w->buf, w->strides[0] / 4, w->strides[1] / 4, x->buf, x->strides[0] / 4,
             x->strides[1] / 4, c->buf, c->strides[0] / 4, w->shape[0], x->shape[0], w->shape[1]);
    Py_END_ALLOW_THREADS
    ret = Py_NewRef(Py_None);
done:
    kc_release(v, 3);
    return ret;
}

static PyObject *
py_vector_kernel(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
#if KC_X86
    if (the_wide_kernel == wide_avx512)
        return PyUnicode_FromString("avx512-fma");
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
     "The micro-kernel in use: 'avx512-fma', 'avx2-fma' or 'scalar-fmaf'."},
    TEAM_CPUS_METHOD,
    TEAM_POOL_METHOD,
    {NULL, NULL, 0, NULL},
};

KC_MODULE(_exact_gemm, "Matrix products in the summation order of Caffe 1.0's CPU forward pass.",
          (pick_kernels(), (void *)&the_api))
