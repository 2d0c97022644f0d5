/*
 * Caffe's MAX pooling forward (PoolingLayer::Forward_cpu) and backward, in C.
 *
 *     max_pool2d(x, y, mask, kh, kw, sh, sw, ph, pw, nthreads)
 *     max_pool2d_backward(dy, mask, dx, nthreads)
 *
 * x (N, C, H, W) float32, y (N, C, OH, OW) float32 and mask (N, C, OH, OW) int64, all
 * C-contiguous. For every output the window [oh*sh - ph, +kh) x [ow*sw - pw, +kw) is clipped to
 * the input; starting from -FLT_MAX, a value replaces the maximum only when it is greater
 * (so the first of equal values wins and NaN never does), and mask holds the flat index
 * h * W + w of the maximum (-1 for an empty window), which is also the index torch's
 * max_pool2d backward takes. Planes are shared among threads (this one and a parked team,
 * _team_pool.h); the GIL is released.
 */
#include "_common.h"

#include "_team_cpus.h"

#include <float.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "_team_pool.h"

#define PLANES_PER_TAKE 16

/* Planes taken PLANES_PER_TAKE at a time by the threads of a job (the first member of each). */
typedef struct plane_queue {
    void (*planes_fn)(const struct plane_queue *job, ptrdiff_t p0, ptrdiff_t p1);
    ptrdiff_t planes, next;
    pthread_mutex_t lock;
} plane_queue;

typedef struct {
    plane_queue q;
    const float *x;
    float *y;
    int64_t *mask;
    ptrdiff_t H, W, OH, OW, kh, kw, sh, sw, ph, pw;
} pool_job;

/* The window [hs, he) x [ws, we) of plane x: its maximum into *y and its flat index into *m,
 * the values taken row by row, left to right, a value replacing the maximum only when
 * greater. Selects, not a branch: which value wins is data. */
static inline void
pool_one(const float *x, ptrdiff_t W, ptrdiff_t hs, ptrdiff_t he, ptrdiff_t ws, ptrdiff_t we,
         float *y, int64_t *m)
{
    float best = -FLT_MAX;
    int64_t at = -1;
    for (ptrdiff_t h = hs; h < he; h++) {
        const float *row = x + h * W;
        for (ptrdiff_t w = ws; w < we; w++) {
            float v = row[w];
            int greater = v > best;
            best = greater ? v : best;
            at = greater ? h * W + w : at;
        }
    }
    *y = best;
    *m = at;
}

/* Four neighbouring windows of one output row, each kw wide and inside the row, the first at
 * column ws: each window's values in pool_one's order, the four sequences interleaved (a
 * window's maximum is a chain of dependent selects; four chains keep the core busy). */
static inline void
pool_four(const float *x, ptrdiff_t W, ptrdiff_t hs, ptrdiff_t he, ptrdiff_t ws,
          ptrdiff_t kw, ptrdiff_t sw, float *y, int64_t *m)
{
    float b0 = -FLT_MAX, b1 = -FLT_MAX, b2 = -FLT_MAX, b3 = -FLT_MAX;
    int64_t a0 = -1, a1 = -1, a2 = -1, a3 = -1;
    for (ptrdiff_t h = hs; h < he; h++) {
        const float *row = x + h * W;
        for (ptrdiff_t t = 0; t < kw; t++) {
            ptrdiff_t w = ws + t;
            float v0 = row[w], v1 = row[w + sw], v2 = row[w + 2 * sw], v3 = row[w + 3 * sw];
            int g0 = v0 > b0, g1 = v1 > b1, g2 = v2 > b2, g3 = v3 > b3;
            ptrdiff_t at = h * W + w;
            b0 = g0 ? v0 : b0;
            a0 = g0 ? at : a0;
            b1 = g1 ? v1 : b1;
            a1 = g1 ? at + sw : a1;
            b2 = g2 ? v2 : b2;
            a2 = g2 ? at + 2 * sw : a2;
            b3 = g3 ? v3 : b3;
            a3 = g3 ? at + 3 * sw : a3;
        }
    }
    y[0] = b0; y[1] = b1; y[2] = b2; y[3] = b3;
    m[0] = a0; m[1] = a1; m[2] = a2; m[3] = a3;
}

static void
pool_planes(const plane_queue *q, ptrdiff_t p0, ptrdiff_t p1)
{
    const pool_job *j = (const pool_job *)q;
    /* outputs [lo, hi) of a row have whole windows inside it (no clipping at either side) */
    ptrdiff_t lo = (j->pw + j->sw - 1) / j->sw, hi = 0;
    if (j->W - j->kw + j->pw >= 0)
        hi = (j->W - j->kw + j->pw) / j->sw + 1;
    if (hi > j->OW)
        hi = j->OW;
    for (ptrdiff_t p = p0; p < p1; p++) {
        const float *x = j->x + p * j->H * j->W;
        float *y = j->y + p * j->OH * j->OW;
        int64_t *m = j->mask + p * j->OH * j->OW;
        for (ptrdiff_t oh = 0; oh < j->OH; oh++, y += j->OW, m += j->OW) {
            ptrdiff_t hs = oh * j->sh - j->ph, he = hs + j->kh;
            if (he > j->H)
                he = j->H;
            if (hs < 0)
                hs = 0;
            for (ptrdiff_t ow = 0; ow < j->OW;) {
                if (ow >= lo && ow + 4 <= hi) {
                    pool_four(x, j->W, hs, he, ow * j->sw - j->pw, j->kw, j->sw, y + ow,
                              m + ow);
                    ow += 4;
                    continue;
                }
                ptrdiff_t ws = ow * j->sw - j->pw, we = ws + j->kw;
                if (we > j->W)
                    we = j->W;
                if (ws < 0)
                    ws = 0;
                pool_one(x, j->W, hs, he, ws, we, y + ow, m + ow);
                ow++;
            }
        }
    }
}

static void *
plane_worker(void *arg)
{
    plane_queue *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        ptrdiff_t p0 = q->next;
        q->next += PLANES_PER_TAKE;
        pthread_mutex_unlock(&q->lock);
        if (p0 >= q->planes)
            break;
        q->planes_fn(q, p0, p0 + PLANES_PER_TAKE < q->planes ? p0 + PLANES_PER_TAKE : q->planes);
    }
    return NULL;
}

/* Runs a job's planes on up to nthreads threads, the GIL released; None. */
static PyObject *
run_planes(plane_queue *q, int nthreads)
{
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_init(&q->lock, NULL);
    ptrdiff_t takes = (q->planes + PLANES_PER_TAKE - 1) / PLANES_PER_TAKE;
    team_run(plane_worker, q, nthreads < takes ? nthreads : (int)takes);
    pthread_mutex_destroy(&q->lock);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* Whether m is a C-contiguous int64 buffer of rank 4 (a mask). */
static int
is_mask(const Py_buffer *m)
{
    return m->ndim == 4 && m->itemsize == 8 &&
           (strcmp(m->format, "l") == 0 || strcmp(m->format, "q") == 0) && kc_contiguous(m, 8);
}

static PyObject *
py_max_pool2d(PyObject *self, PyObject *args)
{
    PyObject *o[3];
    Py_ssize_t kh, kw, sh, sw, ph, pw;
    int nthreads;
    Py_buffer v[3];
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOnnnnnni:max_pool2d", &o[0], &o[1], &o[2], &kh, &kw, &sh,
                          &sw, &ph, &pw, &nthreads) ||
        kc_buffers(o, v, 3, PyBUF_STRIDES | PyBUF_FORMAT, 6) != 0)
        return NULL;
    const Py_buffer *x = &v[0], *y = &v[1], *m = &v[2];
    PyObject *ret = NULL;
    if (!kc_f32_4d(x) || !kc_f32_4d(y) || !is_mask(m) || x->shape[0] != y->shape[0] ||
        x->shape[1] != y->shape[1] || memcmp(y->shape, m->shape, 4 * sizeof(Py_ssize_t)) != 0 ||
        kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0) {
        PyErr_SetString(PyExc_ValueError, "max_pool2d: x (N, C, H, W) float32, y float32 and "
                        "mask int64 (N, C, OH, OW), C-contiguous, positive kernel and stride");
    } else {
        pool_job j;
        memset(&j, 0, sizeof j);
        j.q.planes_fn = pool_planes;
        j.q.planes = x->shape[0] * x->shape[1];
        j.x = x->buf; j.y = y->buf; j.mask = m->buf;
        j.H = x->shape[2]; j.W = x->shape[3]; j.OH = y->shape[2]; j.OW = y->shape[3];
        j.kh = kh; j.kw = kw; j.sh = sh; j.sw = sw; j.ph = ph; j.pw = pw;
        ret = run_planes(&j.q, nthreads);
    }
    kc_release(v, 3);
    return ret;
}

/* Caffe's MAX pooling Backward_cpu: each plane of dx zeroed, then every top diff added at
 * its maximum's flat index, outputs in order (windows that overlap add into the same input in
 * Caffe's order). Planes are independent, so they are shared among threads as the forward's
 * are, with the same bits at any thread count. */
typedef struct {
    plane_queue q;
    const float *dy;
    const int64_t *mask;
    float *dx;
    ptrdiff_t in_size, out_size;
} unpool_job;

static void
unpool_planes(const plane_queue *q, ptrdiff_t p0, ptrdiff_t p1)
{
    const unpool_job *j = (const unpool_job *)q;
    for (ptrdiff_t p = p0; p < p1; p++) {
        float *dx = j->dx + p * j->in_size;
        const float *dy = j->dy + p * j->out_size;
        const int64_t *m = j->mask + p * j->out_size;
        memset(dx, 0, (size_t)j->in_size * sizeof(float));
        for (ptrdiff_t i = 0; i < j->out_size; i++)
            if (m[i] >= 0 && m[i] < j->in_size)
                dx[m[i]] += dy[i];
    }
}

static PyObject *
py_max_pool2d_backward(PyObject *self, PyObject *args)
{
    PyObject *o[3];
    int nthreads;
    Py_buffer v[3];
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOi:max_pool2d_backward", &o[0], &o[1], &o[2], &nthreads) ||
        kc_buffers(o, v, 3, PyBUF_STRIDES | PyBUF_FORMAT, 4) != 0)
        return NULL;
    const Py_buffer *dy = &v[0], *m = &v[1], *dx = &v[2];
    PyObject *ret = NULL;
    if (!kc_f32_4d(dy) || !is_mask(m) || !kc_f32_4d(dx) ||
        memcmp(dy->shape, m->shape, 4 * sizeof(Py_ssize_t)) != 0 ||
        dx->shape[0] != dy->shape[0] || dx->shape[1] != dy->shape[1]) {
        PyErr_SetString(PyExc_ValueError, "max_pool2d_backward: dy float32 and mask int64 "
                        "(N, C, OH, OW), dx float32 (N, C, H, W), C-contiguous");
    } else {
        unpool_job j;
        memset(&j, 0, sizeof j);
        j.q.planes_fn = unpool_planes;
        j.q.planes = dx->shape[0] * dx->shape[1];
        j.dy = dy->buf; j.mask = m->buf; j.dx = dx->buf;
        j.in_size = dx->shape[2] * dx->shape[3];
        j.out_size = dy->shape[2] * dy->shape[3];
        ret = run_planes(&j.q, nthreads);
    }
    kc_release(v, 3);
    return ret;
}

static PyMethodDef methods[] = {
    {"max_pool2d", py_max_pool2d, METH_VARARGS,
     "max_pool2d(x, y, mask, kh, kw, sh, sw, ph, pw, nthreads): Caffe's MAX pooling forward."},
    {"max_pool2d_backward", py_max_pool2d_backward, METH_VARARGS,
     "max_pool2d_backward(dy, mask, dx, nthreads): Caffe's MAX pooling backward."},
    TEAM_CPUS_METHOD,
    TEAM_POOL_METHOD,
    {NULL, NULL, 0, NULL},
};

KC_MODULE(_pool_kernel, "Caffe's MAX pooling forward.", NULL)
