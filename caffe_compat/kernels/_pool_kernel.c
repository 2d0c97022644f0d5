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
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "_team_cpus.h"

#include <float.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "_team_pool.h"

typedef struct {
    const float *x;
    float *y;
    int64_t *mask;
    ptrdiff_t planes, H, W, OH, OW, kh, kw, sh, sw, ph, pw;
    ptrdiff_t next;
    pthread_mutex_t lock;
} pool_job;

#define PLANES_PER_TAKE 16

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
pool_planes(const pool_job *j, ptrdiff_t p0, ptrdiff_t p1)
{
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
pool_worker(void *arg)
{
    pool_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        ptrdiff_t p0 = j->next;
        j->next += PLANES_PER_TAKE;
        pthread_mutex_unlock(&j->lock);
        if (p0 >= j->planes)
            break;
        ptrdiff_t p1 = p0 + PLANES_PER_TAKE < j->planes ? p0 + PLANES_PER_TAKE : j->planes;
        pool_planes(j, p0, p1);
    }
    return NULL;
}

static int
contiguous(const Py_buffer *v, Py_ssize_t itemsize)
{
    Py_ssize_t expect = itemsize;
    for (int d = v->ndim - 1; d >= 0; d--) {
        if (v->shape[d] != 1 && v->strides[d] != expect)
            return 0;
        expect *= v->shape[d];
    }
    return 1;
}

static PyObject *
py_max_pool2d(PyObject *self, PyObject *args)
{
    PyObject *ox, *oy, *om;
    Py_ssize_t kh, kw, sh, sw, ph, pw;
    int nthreads;
    Py_buffer x, y, m;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOnnnnnni:max_pool2d", &ox, &oy, &om, &kh, &kw, &sh, &sw,
                          &ph, &pw, &nthreads))
        return NULL;
    int flags = PyBUF_STRIDES | PyBUF_FORMAT;
    if (PyObject_GetBuffer(ox, &x, flags) != 0)
        return NULL;
    if (PyObject_GetBuffer(oy, &y, flags | PyBUF_WRITABLE) != 0) {
        PyBuffer_Release(&x);
        return NULL;
    }
    if (PyObject_GetBuffer(om, &m, flags | PyBUF_WRITABLE) != 0) {
        PyBuffer_Release(&x);
        PyBuffer_Release(&y);
        return NULL;
    }
    PyObject *ret = NULL;
    if (x.ndim != 4 || y.ndim != 4 || m.ndim != 4 || strcmp(x.format, "f") != 0 ||
        strcmp(y.format, "f") != 0 || m.itemsize != 8 ||
        (strcmp(m.format, "l") != 0 && strcmp(m.format, "q") != 0) ||
        !contiguous(&x, 4) || !contiguous(&y, 4) || !contiguous(&m, 8) ||
        x.shape[0] != y.shape[0] || x.shape[1] != y.shape[1] ||
        memcmp(y.shape, m.shape, 4 * sizeof(Py_ssize_t)) != 0 ||
        kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0) {
        PyErr_SetString(PyExc_ValueError, "max_pool2d: x (N, C, H, W) float32, y float32 and "
                        "mask int64 (N, C, OH, OW), C-contiguous, positive kernel and stride");
        goto done;
    }
    pool_job j;
    memset(&j, 0, sizeof j);
    j.x = x.buf; j.y = y.buf; j.mask = m.buf;
    j.planes = x.shape[0] * x.shape[1];
    j.H = x.shape[2]; j.W = x.shape[3]; j.OH = y.shape[2]; j.OW = y.shape[3];
    j.kh = kh; j.kw = kw; j.sh = sh; j.sw = sw; j.ph = ph; j.pw = pw;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_init(&j.lock, NULL);
    ptrdiff_t takes = (j.planes + PLANES_PER_TAKE - 1) / PLANES_PER_TAKE;
    team_run(pool_worker, &j, nthreads < takes ? nthreads : (int)takes);
    pthread_mutex_destroy(&j.lock);
    Py_END_ALLOW_THREADS
    ret = Py_None;
    Py_INCREF(ret);
done:
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    PyBuffer_Release(&m);
    return ret;
}

/* Caffe's MAX pooling Backward_cpu: each plane of dx zeroed, then every top diff added at
 * its maximum's flat index, outputs in order (windows that overlap add into the same input in
 * Caffe's order). Planes are independent, so they are shared among threads as the forward's
 * are, with the same bits at any thread count. */
typedef struct {
    const float *dy;
    const int64_t *mask;
    float *dx;
    ptrdiff_t planes, in_size, out_size;
    ptrdiff_t next;
    pthread_mutex_t lock;
} unpool_job;

static void *
unpool_worker(void *arg)
{
    unpool_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        ptrdiff_t p0 = j->next;
        j->next += PLANES_PER_TAKE;
        pthread_mutex_unlock(&j->lock);
        if (p0 >= j->planes)
            break;
        ptrdiff_t p1 = p0 + PLANES_PER_TAKE < j->planes ? p0 + PLANES_PER_TAKE : j->planes;
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
    return NULL;
}

static PyObject *
py_max_pool2d_backward(PyObject *self, PyObject *args)
{
    PyObject *ody, *om, *odx;
    int nthreads;
    Py_buffer dy, m, dx;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOi:max_pool2d_backward", &ody, &om, &odx, &nthreads))
        return NULL;
    int flags = PyBUF_STRIDES | PyBUF_FORMAT;
    if (PyObject_GetBuffer(ody, &dy, flags) != 0)
        return NULL;
    if (PyObject_GetBuffer(om, &m, flags) != 0) {
        PyBuffer_Release(&dy);
        return NULL;
    }
    if (PyObject_GetBuffer(odx, &dx, flags | PyBUF_WRITABLE) != 0) {
        PyBuffer_Release(&dy);
        PyBuffer_Release(&m);
        return NULL;
    }
    PyObject *ret = NULL;
    if (dy.ndim != 4 || m.ndim != 4 || dx.ndim != 4 || strcmp(dy.format, "f") != 0 ||
        strcmp(dx.format, "f") != 0 || m.itemsize != 8 ||
        (strcmp(m.format, "l") != 0 && strcmp(m.format, "q") != 0) ||
        !contiguous(&dy, 4) || !contiguous(&dx, 4) || !contiguous(&m, 8) ||
        memcmp(dy.shape, m.shape, 4 * sizeof(Py_ssize_t)) != 0 ||
        dx.shape[0] != dy.shape[0] || dx.shape[1] != dy.shape[1]) {
        PyErr_SetString(PyExc_ValueError, "max_pool2d_backward: dy float32 and mask int64 "
                        "(N, C, OH, OW), dx float32 (N, C, H, W), C-contiguous");
        goto done;
    }
    unpool_job j;
    memset(&j, 0, sizeof j);
    j.dy = dy.buf; j.mask = m.buf; j.dx = dx.buf;
    j.planes = dx.shape[0] * dx.shape[1];
    j.in_size = dx.shape[2] * dx.shape[3];
    j.out_size = dy.shape[2] * dy.shape[3];
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_init(&j.lock, NULL);
    ptrdiff_t takes = (j.planes + PLANES_PER_TAKE - 1) / PLANES_PER_TAKE;
    team_run(unpool_worker, &j, nthreads < takes ? nthreads : (int)takes);
    pthread_mutex_destroy(&j.lock);
    Py_END_ALLOW_THREADS
    ret = Py_None;
    Py_INCREF(ret);
done:
    PyBuffer_Release(&dy);
    PyBuffer_Release(&m);
    PyBuffer_Release(&dx);
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

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_pool_kernel", "Caffe's MAX pooling forward.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__pool_kernel(void)
{
    return PyModule_Create(&module);
}
