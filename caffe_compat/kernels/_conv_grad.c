/*
 * A convolution's gradients in the order of Caffe 1.0's BaseConvolutionLayer, in C: the
 * conv2d_grads function of caffe_compat.kernels._exact_gemm (its module is _exact_gemm.c;
 * the micro-kernel, packing and K blocks are shared through _exact_gemm.h).
 *
 * Weight gradient (weight_cpu_gemm, beta 1): for each image n in turn and each group g,
 *     gw_g += dY[n, g] (Og, P) x col[n, g]^T (P, Kc),
 * P = OH * OW output pixels, Kc = C/group * kh * kw; OpenBLAS's K blocks over P, each block
 * summed from zero by fused multiply-adds and then added to gw. Every element of gw is thus
 * one fixed sequence over (image, block).
 * Input gradient (backward_cpu_gemm, then col2im_cpu): col = W_g^T (Kc, Og) x dY[n, g]
 * (Og, P) with K blocks over Og; the input's gradient zeroed, then each column value added at
 * its input position, kernel row and column in increasing order (a 1x1 convolution of stride 1
 * without padding: the product written into the input's gradient itself, Caffe's is_1x1).
 * Units own their outputs (tiles of gw over all images; (image, group, chunk of channels) of
 * gx) and threads take them in turn, so any thread count gives the same bits, and a thread
 * whose core is taken by another process takes fewer units instead of holding up the rest. */
#include "_exact_gemm.h"

#define GX_ROWS 128        /* about this many col rows per input-gradient unit ... */
#define GX_BYTES (2 << 20) /* ... within this much memory for its columns */
#define GW_BYTES (32 << 20) /* packed dY^T of one round of images, at most (one image at least) */
#define GW_TILES_PER_THREAD 12 /* weight-gradient tiles per thread, at least (rows allowing) */
#define GW_COLS 512        /* a weight-gradient tile spans all of Og up to this many columns */
#define TRANSPOSE_TILE 32  /* gw^T's tiles when it is turned into gw */

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

/* A run of a panel's im2col row that reaches into the padding or strides over the input
 * (d[u * MR] for u < run, from input columns ix, ix + sw, ...): the values inside copied,
 * zeros around them, without a test per value. Out of line, so that the loop around the
 * copy of a run wholly inside compiles as before. */
static __attribute__((noinline)) void
gather_run(float *d, const float *row, ptrdiff_t ix, ptrdiff_t sw, ptrdiff_t W, ptrdiff_t run)
{
    ptrdiff_t u0, u1;
    inside_span(ix, sw, W, run, &u0, &u1);
    for (ptrdiff_t u = 0; u < u0; u++)
        d[u * MR] = 0.0f;
    const float *src = row + ix + u0 * sw;
    for (ptrdiff_t u = u0; u < u1; u++, src += sw)
        d[u * MR] = *src;
    for (ptrdiff_t u = u1; u < run; u++)
        d[u * MR] = 0.0f;
}

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
                        const float *r = row + ix;
                        ptrdiff_t u = 0;
                        for (; u + 4 <= run; u += 4) {
                            d[u * MR] = r[u];
                            d[(u + 1) * MR] = r[u + 1];
                            d[(u + 2) * MR] = r[u + 2];
                            d[(u + 3) * MR] = r[u + 3];
                        }
                        for (; u < run; u++)
                            d[u * MR] = r[u];
                    } else if (ix >= 0 && ix + (run - 1) * j->sw < j->W) {
                        const float *r = row + ix;       /* strided, wholly inside */
                        for (ptrdiff_t u = 0; u < run; u++, r += j->sw)
                            d[u * MR] = *r;
                    } else {
                        gather_run(d, row, ix, j->sw, j->W, run);
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
 * bits vectorised or not; AVX takes the whole eights where the processor has it. */
#if KC_X86
__attribute__((target("avx"))) static ptrdiff_t
add_eights_avx(float *restrict dst, const float *restrict src, ptrdiff_t n)
{
    ptrdiff_t t = 0;
    for (; t + 8 <= n; t += 8)
        _mm256_storeu_ps(dst + t, _mm256_add_ps(_mm256_loadu_ps(dst + t),
                                                _mm256_loadu_ps(src + t)));
    return t;
}
#endif

static void
add_row(float *restrict dst, const float *restrict src, ptrdiff_t n)
{
    ptrdiff_t t = 0;
#if KC_X86
    if (eg_avx2())
        t = add_eights_avx(dst, src, n);
#endif
    for (; t < n; t++)
        dst[t] += src[t];
}

/* Whether the input gradient's columns are the gradient itself (1x1, stride 1, no pad). */
static int
direct_1x1(const gjob *j)
{
    return j->kh == 1 && j->kw == 1 && j->sh == 1 && j->sw == 1 && j->ph == 0 && j->pw == 0;
}

/* Channels [c0, c0 + ch) of group g of image n: their columns, then col2im. */
static void
input_unit(const gjob *j, ptrdiff_t u, gscratch *s)
{
    ptrdiff_t per_image = j->group * j->cchunks;
    ptrdiff_t n = u / per_image, rest = u % per_image;
    ptrdiff_t g = rest / j->cchunks, cc = rest % j->cchunks;
    ptrdiff_t c0 = cc * j->ch, chn = j->Cg - c0 < j->ch ? j->Cg - c0 : j->ch;
    ptrdiff_t rows = chn * j->kk, hw = j->H * j->W;
    const float *Ap = packed_rows(j, g, cc);
    /* a 1x1 convolution of stride 1 without padding: the columns are the input's gradient
     * itself (Caffe's is_1x1 path: the product written straight into bottom_diff; col2im of
     * zeros plus each value would give the same bits, the products never being -0) */
    float *T = direct_1x1(j) ? j->gx + (n * j->Cin + g * j->Cg + c0) * hw : s->T;
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
            block_product(Ap + j->rows_pad * k0, s->base.Bp, k1 - k0, T + n0, j->P, rows, nc,
                          bi == 0, &s->base);
        }
    }
    if (T != s->T)
        return;
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
    if (j->do_input) {        /* dY panels and the unit's columns */
        s->base.Bp = aligned_alloc(64, ((size_t)NC * kmax * sizeof(float) + 63) / 64 * 64);
        if (!direct_1x1(j))
            s->T = aligned_alloc(64, ((size_t)j->rows_pad * j->P * sizeof(float) + 63) / 64 *
                                         64);
    }
    if (j->do_weight)         /* im2col panels (dY^T is packed once per image) */
        s->Ap = aligned_alloc(64, ((size_t)(MC + MR) * kmax * sizeof(float) + 63) / 64 * 64);
    if ((j->do_input && (s->base.Bp == NULL || (s->T == NULL && !direct_1x1(j)))) ||
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
    run_team(gworker, j, j->units, nthreads);
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
    j->ncw = (j->Og + NR - 1) / NR * NR <= GW_COLS ? j->Og : NC;
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
    if (j->do_input && (kin = k_blocks(j->Og, 1, &j->in_starts, &j->in_nblocks)) < 0)
        j->failed = 1;
    if (j->do_weight && (kw = k_blocks(j->P, 1, &j->w_starts, &j->w_nblocks)) < 0)
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
        /* gw_g = (gw_g^T)^T, in square tiles so that both sides are read and written a
         * cache line at a time */
        for (ptrdiff_t g = 0; g < j->group; g++)
            for (ptrdiff_t o0 = 0; o0 < j->Og; o0 += TRANSPOSE_TILE)
                for (ptrdiff_t k0 = 0; k0 < j->Kc; k0 += TRANSPOSE_TILE) {
                    ptrdiff_t o1 = o0 + TRANSPOSE_TILE < j->Og ? o0 + TRANSPOSE_TILE : j->Og;
                    ptrdiff_t k1 = k0 + TRANSPOSE_TILE < j->Kc ? k0 + TRANSPOSE_TILE : j->Kc;
                    for (ptrdiff_t o = o0; o < o1; o++)
                        for (ptrdiff_t k = k0; k < k1; k++)
                            j->gw[(g * j->Og + o) * j->Kc + k] =
                                j->gwt[(g * j->Kc + k) * j->Og + o];
                }
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

/* The geometry shared by both gradients: x (or gx) (N, C, H, W), w (or gw) (O, C/group, kh,
 * kw), dy (N, O, OH, OW), all C-contiguous; 0, or -1 with ValueError. */
static int
grad_geometry(gjob *j, const Py_buffer *x, const Py_buffer *w, const Py_buffer *dy,
              Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh,
              Py_ssize_t dw, Py_ssize_t group)
{
    if (!kc_contiguous(x, 4) || !kc_contiguous(w, 4) || !kc_contiguous(dy, 4)) {
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

/* conv2d_grads(x, w, dy, gx, gw, ...): gx and/or gw (None: not wanted) of one job. */
PyObject *
py_conv2d_grads(PyObject *self, PyObject *args)
{
    PyObject *ox, *ow, *ody, *ogx, *ogw;
    Py_ssize_t sh, sw, ph, pw, dh, dw, group;
    int nthreads;
    Py_buffer x = {0}, w = {0}, dy = {0}, gx = {0}, gw = {0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOnnnnnnni:conv2d_grads", &ox, &ow, &ody, &ogx, &ogw, &sh,
                          &sw, &ph, &pw, &dh, &dw, &group, &nthreads))
        return NULL;
    int want_x = ogx != Py_None, want_w = ogw != Py_None;
    PyObject *ret = NULL;
    if (get_f32(ox, &x, 0, 4, "x") != 0 || get_f32(ow, &w, 0, 4, "w") != 0 ||
        get_f32(ody, &dy, 0, 4, "dy") != 0 || (want_x && get_f32(ogx, &gx, 1, 4, "gx") != 0) ||
        (want_w && get_f32(ogw, &gw, 1, 4, "gw") != 0))
        goto done;
    size_t shape = 4 * sizeof(Py_ssize_t);
    if ((want_x && (!kc_contiguous(&gx, 4) || memcmp(gx.shape, x.shape, shape) != 0)) ||
        (want_w && (!kc_contiguous(&gw, 4) || memcmp(gw.shape, w.shape, shape) != 0))) {
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
    ret = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&gw);
    PyBuffer_Release(&gx);
    PyBuffer_Release(&dy);
    PyBuffer_Release(&w);
    PyBuffer_Release(&x);
    return ret;
}

