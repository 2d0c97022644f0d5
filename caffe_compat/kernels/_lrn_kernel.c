/*
 * Caffe's ACROSS_CHANNELS LRN (LRNLayer::CrossChannelForward_cpu / CrossChannelBackward_cpu)
 * in C, operation for operation.
 *
 *     across_forward(x, scale, pow, y, size, alpha_over_size, neg_beta, k, nthreads)
 *     across_backward(x, y, scale, pow, dy, dx, size, cache_ratio, nthreads)
 *
 * All buffers (N, C, H, W) float32, C-contiguous. The constants are float32 values computed
 * as Caffe computes them (caffe_compat/layers/lrn.py): alpha_over_size = alpha / size in
 * float, neg_beta = -beta, cache_ratio = (float)(2.0 * alpha * beta / size) in double.
 *
 * Forward, per image and pixel, over the squares padded with (size - 1) / 2 zero channels at
 * both ends (caffe_sqr: x * x): scale[0] starts at k and takes size axpys of alpha_over_size
 * times the first size padded squares; scale[c] (c >= 1) is scale[c - 1], plus an axpy of the
 * head square c + size - 1, then an axpy of -alpha_over_size times the tail square c - 1.
 * Then y = pow(scale, -beta) * x (caffe_powx, caffe_mul; pow(scale, -beta) is kept in pow
 * for the backward, which computes the same powf of the same values). Backward: dx =
 * pow(scale, -beta) * dy; the ratios dy * y / scale (caffe_mul, caffe_div) padded with zero channels; a running
 * sum starting at zero takes the first size - 1 padded ratios, then for each channel c adds
 * ratio c + size - 1, writes dx[c] with an axpy of -cache_ratio times x[c] * sum, and
 * subtracts ratio c.
 *
 * Caffe's axpy is OpenBLAS's saxpy: a fused multiply-add (y = a * x + y, one rounding) for
 * the first (H * W) & -32 pixels of a plane, a product and a sum after them (see AXPY; with
 * a = +-1 both are the plain sum or difference);
 * caffe_powx is the C library's powf element by element. Every element's value is therefore
 * Caffe's bit for bit; pixels are independent, so the work is cut into pixel ranges of one
 * image that threads take in turn (this one and a parked team, _team_pool.h; the GIL is
 * released). Built with -ffp-contract=off: only the fmaf calls are fused; the loops are
 * compiled a second time for AVX2/FMA processors, where fmaf is one instruction (the same
 * correctly rounded operation).
 */
#include "_common.h"

#include "_team_cpus.h"

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "_team_pool.h"

#define PIXELS_PER_TAKE 512

typedef struct {
    const float *x, *y, *scale, *pow, *dy;
    float *scale_out, *pow_out, *y_out, *dx;
    ptrdiff_t N, C, HW, size, pre;
    float aos, neg_beta, k, cache_ratio;
    int backward, failed;
    ptrdiff_t next, takes_per_image;
    pthread_mutex_t lock;
} lrn_job;

/* OpenBLAS's saxpy (kernel/x86_64/saxpy.c) runs its FMA micro-kernel over the first n & -32
 * elements of a call and a plain C loop, y[i] += a * x[i] (a product rounded, then a sum),
 * over the rest; Caffe calls it once per channel plane, so pixel p of a plane is fused when
 * p < (H * W) & -32. AXPY(a, v, y) is that element's operation. */
#define AXPY(a, v, y) (p < fe ? fmaf((a), (v), (y)) : (y) + (a) * (v))

/* The forward of image n, pixels [p0, p1): see the file comment. */
#define LRN_FORWARD_BODY                                                                    \
    const ptrdiff_t C = j->C, HW = j->HW, size = j->size, pre = j->pre;                      \
    const ptrdiff_t fe = HW & ~(ptrdiff_t)31;                                                \
    const float aos = j->aos, k = j->k;                                                      \
    const float *x = j->x + n * C * HW;                                                      \
    float *s = j->scale_out + n * C * HW, *y = j->y_out + n * C * HW;                         \
    float *pw = j->pow_out + n * C * HW;                                                     \
    for (ptrdiff_t p = p0; p < p1; p++)                                                      \
        s[p] = k;                                                                            \
    for (ptrdiff_t c = 0; c < size; c++) {                                                   \
        ptrdiff_t src = c - pre;                                                             \
        const float *xc = (src >= 0 && src < C) ? x + src * HW : NULL;                       \
        for (ptrdiff_t p = p0; p < p1; p++) {                                                \
            float sq = xc ? xc[p] * xc[p] : 0.0f;                                            \
            s[p] = AXPY(aos, sq, s[p]);                                                      \
        }                                                                                    \
    }                                                                                        \
    for (ptrdiff_t c = 1; c < C; c++) {                                                      \
        const float *prev = s + (c - 1) * HW;                                                \
        float *cur = s + c * HW;                                                             \
        ptrdiff_t head = c + size - 1 - pre, tail = c - 1 - pre;                             \
        const float *xh = head < C ? x + head * HW : NULL;                                   \
        const float *xt = tail >= 0 ? x + tail * HW : NULL;                                  \
        for (ptrdiff_t p = p0; p < p1; p++) {                                                \
            float h = xh ? xh[p] * xh[p] : 0.0f, t = xt ? xt[p] * xt[p] : 0.0f;              \
            float v = AXPY(aos, h, prev[p]);                                                 \
            cur[p] = AXPY(-aos, t, v);                                                       \
        }                                                                                    \
    }                                                                                        \
    for (ptrdiff_t c = 0; c < C; c++) {                                                      \
        const float *sc = s + c * HW, *xc = x + c * HW;                                      \
        float *yc = y + c * HW, *pc = pw + c * HW;                                           \
        for (ptrdiff_t p = p0; p < p1; p++) {                                                \
            pc[p] = powf(sc[p], j->neg_beta);                                                \
            yc[p] = pc[p] * xc[p];                                                           \
        }                                                                                    \
    }

/* The backward of image n, pixels [p0, p1): see the file comment. pow(scale, -beta) is the
 * forward's (the same powf of the same value). The ratio dy * y / scale of each channel is
 * computed once into r (C rows of the take's pixels); padded channels are zero. */
#define LRN_BACKWARD_BODY                                                                   \
    const ptrdiff_t C = j->C, HW = j->HW, size = j->size, pre = j->pre;                      \
    const ptrdiff_t fe = HW & ~(ptrdiff_t)31;                                                \
    const ptrdiff_t off = n * C * HW, m = p1 - p0;                                           \
    const float *x = j->x + off, *y = j->y + off, *s = j->scale + off, *dy = j->dy + off;   \
    const float *pw = j->pow + off;                                                          \
    float *dx = j->dx + off;                                                                 \
    const float cr = j->cache_ratio;                                                         \
    float acc[PIXELS_PER_TAKE];                                                              \
    for (ptrdiff_t c = 0; c < C; c++) {                                                      \
        float *rc = r + c * PIXELS_PER_TAKE;                                                 \
        for (ptrdiff_t p = p0; p < p1; p++) {                                                \
            ptrdiff_t i = c * HW + p;                                                        \
            dx[i] = pw[i] * dy[i];                                                           \
            rc[p - p0] = (dy[i] * y[i]) / s[i];                                              \
        }                                                                                    \
    }                                                                                        \
    for (ptrdiff_t q = 0; q < m; q++)                                                        \
        acc[q] = 0.0f;                                                                       \
    for (ptrdiff_t c = 0; c < size - 1; c++) {                                               \
        ptrdiff_t src = c - pre;                                                             \
        if (src < 0 || src >= C)                                                             \
            continue; /* adding a zero ratio: acc + 0 is acc (acc is never -0) */            \
        const float *rc = r + src * PIXELS_PER_TAKE;                                         \
        for (ptrdiff_t q = 0; q < m; q++)                                                    \
            acc[q] = acc[q] + rc[q];                                                         \
    }                                                                                        \
    for (ptrdiff_t c = 0; c < C; c++) {                                                      \
        ptrdiff_t head = c + size - 1 - pre, tail = c - pre;                                 \
        const float *rh = head < C ? r + head * PIXELS_PER_TAKE : NULL;                      \
        const float *rt = tail >= 0 ? r + tail * PIXELS_PER_TAKE : NULL;                     \
        const float *xc = x + c * HW;                                                        \
        float *dc = dx + c * HW;                                                             \
        for (ptrdiff_t q = 0; q < m; q++) {                                                  \
            ptrdiff_t p = p0 + q;                                                            \
            float a = rh ? acc[q] + rh[q] : acc[q] + 0.0f;                                   \
            float t = xc[p] * a;                                                             \
            dc[p] = AXPY(-cr, t, dc[p]);                                                     \
            acc[q] = rt ? a - rt[q] : a - 0.0f;                                              \
        }                                                                                    \
    }

/* The forward and the backward of a pixel range, compiled with the attributes attr. */
#define LRN_RANGE_FUNCTIONS(attr, forward, backward)                                        \
    attr static void                                                                        \
    forward(const lrn_job *j, ptrdiff_t n, ptrdiff_t p0, ptrdiff_t p1, float *r)            \
    {                                                                                       \
        (void)r;                                                                            \
        LRN_FORWARD_BODY                                                                    \
    }                                                                                       \
    attr static void                                                                        \
    backward(const lrn_job *j, ptrdiff_t n, ptrdiff_t p0, ptrdiff_t p1, float *r)           \
    {                                                                                       \
        LRN_BACKWARD_BODY                                                                   \
    }

LRN_RANGE_FUNCTIONS(, forward_generic, backward_generic)
#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_FMA_CLONES 1
LRN_RANGE_FUNCTIONS(__attribute__((target("avx2,fma"))), forward_fma, backward_fma)
#endif

typedef void (*range_fn)(const lrn_job *, ptrdiff_t, ptrdiff_t, ptrdiff_t, float *);

static range_fn
pick(int backward)
{
#ifdef HAVE_FMA_CLONES
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return backward ? backward_fma : forward_fma;
#endif
    return backward ? backward_generic : forward_generic;
}

static void *
lrn_worker(void *arg)
{
    lrn_job *j = arg;
    range_fn fn = pick(j->backward);
    float *r = NULL;
    if (j->backward) {
        r = malloc((size_t)j->C * PIXELS_PER_TAKE * sizeof(float));
        if (r == NULL) {
            pthread_mutex_lock(&j->lock);
            j->failed = 1;
            pthread_mutex_unlock(&j->lock);
            return NULL;
        }
    }
    for (;;) {
        pthread_mutex_lock(&j->lock);
        ptrdiff_t t = j->next++;
        pthread_mutex_unlock(&j->lock);
        if (t >= j->N * j->takes_per_image)
            break;
        ptrdiff_t n = t / j->takes_per_image, p0 = (t % j->takes_per_image) * PIXELS_PER_TAKE;
        ptrdiff_t p1 = p0 + PIXELS_PER_TAKE < j->HW ? p0 + PIXELS_PER_TAKE : j->HW;
        fn(j, n, p0, p1, r);
    }
    free(r);
    return NULL;
}

static void
run(lrn_job *j, int nthreads)
{
    j->takes_per_image = (j->HW + PIXELS_PER_TAKE - 1) / PIXELS_PER_TAKE;
    j->next = 0;
    ptrdiff_t takes = j->N * j->takes_per_image;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_init(&j->lock, NULL);
    team_run(lrn_worker, j, nthreads < takes ? nthreads : (int)takes);
    pthread_mutex_destroy(&j->lock);
    Py_END_ALLOW_THREADS
}

/* The job of `name` for a window of size channels: n buffers (the last `writable` of them
 * writable), all (N, C, H, W) float32 C-contiguous of one shape, and their geometry; 0 on
 * success, else -1 with an exception set and nothing held. */
static int
get_job(lrn_job *j, Py_ssize_t size, PyObject **objs, Py_buffer *bufs, int n, int writable,
        const char *name)
{
    if (size < 1 || size % 2 != 1) {
        PyErr_Format(PyExc_ValueError, "%s: size must be odd and positive", name);
        return -1;
    }
    if (kc_buffers(objs, bufs, n, PyBUF_STRIDES | PyBUF_FORMAT,
                   ((1u << writable) - 1) << (n - writable)) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (!kc_f32_4d(&bufs[i]) ||
            memcmp(bufs[i].shape, bufs[0].shape, 4 * sizeof(Py_ssize_t)) != 0) {
            PyErr_Format(PyExc_ValueError, "%s: every array (N, C, H, W) float32, "
                         "C-contiguous, of one shape", name);
            kc_release(bufs, n);
            return -1;
        }
    }
    memset(j, 0, sizeof *j);
    j->N = bufs[0].shape[0]; j->C = bufs[0].shape[1]; j->HW = bufs[0].shape[2] * bufs[0].shape[3];
    j->size = size; j->pre = (size - 1) / 2;
    return 0;
}

static PyObject *
py_across_forward(PyObject *self, PyObject *args)
{
    PyObject *objs[4];
    Py_ssize_t size;
    float aos, neg_beta, k;
    int nthreads;
    Py_buffer b[4];
    lrn_job j;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOnfffi:across_forward", &objs[0], &objs[1], &objs[2],
                          &objs[3], &size, &aos, &neg_beta, &k, &nthreads) ||
        get_job(&j, size, objs, b, 4, 3, "across_forward") != 0)
        return NULL;
    j.x = b[0].buf; j.scale_out = b[1].buf; j.pow_out = b[2].buf; j.y_out = b[3].buf;
    j.aos = aos; j.neg_beta = neg_beta; j.k = k;
    if (j.N * j.C * j.HW > 0)
        run(&j, nthreads);
    kc_release(b, 4);
    Py_RETURN_NONE;
}

static PyObject *
py_across_backward(PyObject *self, PyObject *args)
{
    PyObject *objs[6];
    Py_ssize_t size;
    float cache_ratio;
    int nthreads;
    Py_buffer b[6];
    lrn_job j;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOOnfi:across_backward", &objs[0], &objs[1], &objs[2],
                          &objs[3], &objs[4], &objs[5], &size, &cache_ratio, &nthreads) ||
        get_job(&j, size, objs, b, 6, 1, "across_backward") != 0)
        return NULL;
    j.x = b[0].buf; j.y = b[1].buf; j.scale = b[2].buf; j.pow = b[3].buf; j.dy = b[4].buf;
    j.dx = b[5].buf;
    j.cache_ratio = cache_ratio; j.backward = 1;
    if (j.N * j.C * j.HW > 0)
        run(&j, nthreads);
    kc_release(b, 6);
    if (j.failed)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"across_forward", py_across_forward, METH_VARARGS,
     "across_forward(x, scale, pow, y, size, alpha_over_size, neg_beta, k, nthreads): "
     "Caffe's ACROSS_CHANNELS LRN forward; writes scale, pow(scale, -beta) and y."},
    {"across_backward", py_across_backward, METH_VARARGS,
     "across_backward(x, y, scale, pow, dy, dx, size, cache_ratio, nthreads): Caffe's "
     "ACROSS_CHANNELS LRN backward; writes dx."},
    TEAM_CPUS_METHOD,
    TEAM_POOL_METHOD,
    {NULL, NULL, 0, NULL},
};

KC_MODULE(_lrn_kernel,
          "Caffe's ACROSS_CHANNELS LRN forward and backward, operation for operation.", NULL)
