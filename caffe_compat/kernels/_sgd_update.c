/*
 * Caffe's SGD update of every learnable blob in one call.
 *
 *     sgd_update(weights, diffs, histories, decays, rates, momentum, fused)
 *
 * weights, diffs, histories: sequences of the same length of C-contiguous, writable float32
 * buffers, the i-th three of the same size; decays, rates: sequences of floats (each a float32
 * value: local_decay = weight_decay * decay_mult and local_rate = rate * lr_mult). For every
 * element of blob i, in Caffe's order (sgd_solver.cpp: Regularize, ComputeUpdateValue, then
 * Net::Update):
 *
 *     diff    = diff + local_decay * weight        (L2; skipped where local_decay is 0)
 *     history = momentum * history
 *     history = history + local_rate * diff
 *     diff    = history
 *     weight  = weight - diff
 *
 * each line one float32 operation. fused = 1: ``a + s * b`` is one fused multiply-add (a single
 * rounding), as OpenBLAS's saxpy and torch's ``add(alpha=)`` compute it on processors with
 * FMA; fused = 0: a product rounded, then a sum (what they compute without). The caller
 * checks once which of the two torch's own kernels give on this machine
 * (caffe_compat/kernels/sgd_update.py) and uses this module only where one matches bit for
 * bit. The FMA instruction with AVX2 where the processor has them, C's fmaf otherwise (the same
 * correctly rounded operation). Must be built with -ffp-contract=off and without -ffast-math:
 * the unfused lines must stay two roundings.
 */
#include "_common.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "_kernel_api.h"

typedef void (*update_fn)(float *w, float *d, float *h, Py_ssize_t n, float decay, float rate,
                          float momentum);

static void
update_scalar_fused(float *w, float *d, float *h, Py_ssize_t n, float decay, float rate,
                    float momentum)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        float di = d[i];
        if (decay != 0.0f)
            di = fmaf(w[i], decay, di);
        float hi = h[i] * momentum;
        hi = fmaf(di, rate, hi);
        h[i] = hi;
        d[i] = hi;
        w[i] = w[i] - hi;
    }
}

static void
update_scalar_unfused(float *w, float *d, float *h, Py_ssize_t n, float decay, float rate,
                      float momentum)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        float di = d[i];
        if (decay != 0.0f) {
            float p = decay * w[i];
            di = di + p;
        }
        float hi = h[i] * momentum;
        float q = rate * di;
        hi = hi + q;
        h[i] = hi;
        d[i] = hi;
        w[i] = w[i] - hi;
    }
}

#if KC_X86
__attribute__((target("avx2,fma"))) static void
update_avx2_fused(float *w, float *d, float *h, Py_ssize_t n, float decay, float rate,
                  float momentum)
{
    const __m256 vdecay = _mm256_set1_ps(decay), vrate = _mm256_set1_ps(rate),
                 vmom = _mm256_set1_ps(momentum);
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 wi = _mm256_loadu_ps(w + i), di = _mm256_loadu_ps(d + i);
        if (decay != 0.0f)
            di = _mm256_fmadd_ps(wi, vdecay, di);
        __m256 hi = _mm256_mul_ps(_mm256_loadu_ps(h + i), vmom);
        hi = _mm256_fmadd_ps(di, vrate, hi);
        _mm256_storeu_ps(h + i, hi);
        _mm256_storeu_ps(d + i, hi);
        _mm256_storeu_ps(w + i, _mm256_sub_ps(wi, hi));
    }
    update_scalar_fused(w + i, d + i, h + i, n - i, decay, rate, momentum);   /* the tail */
}
#endif

static update_fn
pick_fused(void)
{
#if KC_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return update_avx2_fused;
#endif
    return update_scalar_fused;
}

static update_fn fused_fn;

/* A float32 buffer of ``obj``, C-contiguous and writable; 0 on success. */
static int
get_floats(PyObject *obj, Py_buffer *view, const char *what, Py_ssize_t i)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE | PyBUF_FORMAT) < 0)
        return -1;
    if (view->itemsize != 4 || view->format == NULL || strcmp(view->format, "f") != 0) {
        PyErr_Format(PyExc_TypeError, "sgd_update: %s[%zd] is not a float32 buffer", what, i);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *
py_sgd_update(PyObject *self, PyObject *args)
{
    PyObject *weights, *diffs, *histories, *decays, *rates;
    float momentum;
    int fused;
    if (!PyArg_ParseTuple(args, "OOOOOfp", &weights, &diffs, &histories, &decays, &rates,
                          &momentum, &fused))
        return NULL;
    PyObject *seqs[5] = {weights, diffs, histories, decays, rates};
    const char *names[5] = {"weights", "diffs", "histories", "decays", "rates"};
    PyObject *fast[5] = {NULL, NULL, NULL, NULL, NULL};
    PyObject *result = NULL;
    Py_ssize_t count = -1;
    for (int s = 0; s < 5; s++) {
        fast[s] = PySequence_Fast(seqs[s], "sgd_update: arguments 1-5 must be sequences");
        if (fast[s] == NULL)
            goto done;
        Py_ssize_t len = PySequence_Fast_GET_SIZE(fast[s]);
        if (count >= 0 && len != count) {
            PyErr_Format(PyExc_ValueError, "sgd_update: %s holds %zd items, weights %zd",
                         names[s], len, count);
            goto done;
        }
        count = len;
    }
    /* every buffer and factor first, so that a bad one leaves every blob as it was */
    Py_buffer *views = PyMem_Calloc(count > 0 ? 3 * count : 1, sizeof(Py_buffer));
    float *factors = PyMem_Calloc(count > 0 ? 2 * count : 1, sizeof(float));
    Py_ssize_t held = 0;
    if (views == NULL || factors == NULL) {
        PyErr_NoMemory();
        goto release;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        for (int k = 0; k < 3; k++, held++)
            if (get_floats(PySequence_Fast_GET_ITEM(fast[k], i), &views[held], names[k], i) < 0)
                goto release;
        Py_buffer *v = views + 3 * i;
        if (v[1].len != v[0].len || v[2].len != v[0].len) {
            PyErr_Format(PyExc_ValueError, "sgd_update: blob %zd: weight, diff and history "
                         "sizes differ (%zd, %zd, %zd bytes)", i, v[0].len, v[1].len, v[2].len);
            goto release;
        }
        factors[2 * i] = (float)PyFloat_AsDouble(PySequence_Fast_GET_ITEM(fast[3], i));
        factors[2 * i + 1] = (float)PyFloat_AsDouble(PySequence_Fast_GET_ITEM(fast[4], i));
        if (PyErr_Occurred())
            goto release;
    }
    update_fn fn = fused ? fused_fn : update_scalar_unfused;
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_buffer *v = views + 3 * i;
        Py_ssize_t n = v[0].len / 4;
        float *w = v[0].buf, *d = v[1].buf, *h = v[2].buf;
        PyThreadState *ts = n >= 65536 ? PyEval_SaveThread() : NULL;   /* big: GIL released */
        fn(w, d, h, n, factors[2 * i], factors[2 * i + 1], momentum);
        if (ts != NULL)
            PyEval_RestoreThread(ts);
    }
    result = Py_NewRef(Py_None);
release:
    for (Py_ssize_t k = 0; k < held; k++)
        PyBuffer_Release(&views[k]);
    PyMem_Free(views);
    PyMem_Free(factors);
done:
    for (int s = 0; s < 5; s++)
        Py_XDECREF(fast[s]);
    return result;
}

static PyObject *
py_vector_kernel(PyObject *self, PyObject *noargs)
{
#if KC_X86
    if (fused_fn == update_avx2_fused)
        return PyUnicode_FromString("avx2-fma");
#endif
    return PyUnicode_FromString("scalar-fmaf");
}

static PyMethodDef methods[] = {
    {"sgd_update", py_sgd_update, METH_VARARGS,
     "sgd_update(weights, diffs, histories, decays, rates, momentum, fused): Caffe's SGD "
     "update (L2 decay, momentum, then weight -= history) of every blob, in place."},
    {"vector_kernel", py_vector_kernel, METH_NOARGS,
     "The fused loop in use: 'avx2-fma' or 'scalar-fmaf'."},
    {NULL, NULL, 0, NULL},
};

/* The per-blob loops for other extensions (_kernel_api.h), through a capsule. */
static su_api the_api;

static void *
setup(void)
{
    fused_fn = pick_fused();
    the_api.fused = (su_update_fn)fused_fn;
    the_api.unfused = (su_update_fn)update_scalar_unfused;
    return &the_api;
}

KC_MODULE(_sgd_update, "Caffe's SGD update of every blob in one call.", setup())
