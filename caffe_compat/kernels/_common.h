/*
 * What the kernel modules share: the x86-64 test, the -ffast-math guard and, on the Python
 * side, buffers taken and released together, the contiguity and (N, C, H, W) float32 tests, and
 * the module's definition with its init function.
 */
#ifndef CAFFE_COMPAT_KERNEL_COMMON_H
#define CAFFE_COMPAT_KERNEL_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* KC_X86: an x86-64 build, with its intrinsics (the vector code is picked at run time). */
#if defined(__x86_64__) || defined(_M_X64)
#define KC_X86 1
#include <immintrin.h>
#else
#define KC_X86 0
#endif

/* Every kernel computes its float32 operations one by one, as written. */
#if defined(__FAST_MATH__)
#error "caffe_compat's kernels must be compiled without -ffast-math"
#endif

/* The buffers of objs[0..n) with flags, objs[i] writable where bit i of writable is set; 0, or
 * -1 with the exception set and none held. */
static inline int
kc_buffers(PyObject *const *objs, Py_buffer *bufs, int n, int flags, unsigned writable)
{
    for (int i = 0; i < n; i++) {
        if (PyObject_GetBuffer(objs[i], &bufs[i],
                               flags | ((writable >> i) & 1 ? PyBUF_WRITABLE : 0)) != 0) {
            while (i-- > 0)
                PyBuffer_Release(&bufs[i]);
            return -1;
        }
    }
    return 0;
}

/* Releases n buffers; one zero-filled (never taken) is left alone, as PyBuffer_Release does. */
static inline void
kc_release(Py_buffer *bufs, int n)
{
    for (int i = 0; i < n; i++)
        PyBuffer_Release(&bufs[i]);
}

/* Whether v is C-contiguous for items of itemsize bytes (dimensions of one aside). */
static inline int
kc_contiguous(const Py_buffer *v, Py_ssize_t itemsize)
{
    Py_ssize_t expect = itemsize;
    for (int d = v->ndim - 1; d >= 0; d--) {
        if (v->shape[d] != 1 && v->strides[d] != expect)
            return 0;
        expect *= v->shape[d];
    }
    return 1;
}

/* Whether v is a C-contiguous float32 buffer of rank 4, (N, C, H, W). */
static inline int
kc_f32_4d(const Py_buffer *v)
{
    return v->ndim == 4 && v->format != NULL && strcmp(v->format, "f") == 0 &&
           kc_contiguous(v, 4);
}

/* The module of `methods`, with the C entry points api as its capsule _C_API where not NULL. */
static inline PyObject *
kc_module(struct PyModuleDef *def, void *api, const char *api_name)
{
    PyObject *m = PyModule_Create(def);
    if (m == NULL || api == NULL)
        return m;
    PyObject *capsule = PyCapsule_New(api, api_name, NULL);
    if (capsule == NULL || PyModule_AddObject(m, "_C_API", capsule) < 0) {
        Py_XDECREF(capsule);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

/* caffe_compat.kernels.<name>'s definition and init: the methods table `methods`; api an
 * expression evaluated at import (NULL: no capsule). */
#define KC_MODULE(name, doc, api)                                                           \
    static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, #name, doc, -1, methods,     \
                                        NULL, NULL, NULL, NULL};                           \
    PyMODINIT_FUNC PyInit_##name(void)                                                     \
    {                                                                                      \
        return kc_module(&module, api, "caffe_compat.kernels." #name "._C_API");           \
    }

#endif
