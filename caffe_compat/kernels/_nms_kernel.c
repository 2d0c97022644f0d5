/*
 * OpenCV's NMSFast_ scan (the suppression of Caffe's and OpenCV's DetectionOutput) in C:
 *
 *     greedy(boxes, sizes, threshold, normalized, limit) -> list of the kept positions
 *
 * boxes (n, 4) float32 (xmin, ymin, xmax, ymax) and sizes (n,) float32, C-contiguous, already
 * in the scan's order (descending score; caffe_compat/rules/boxes.py ranks them). Candidate c
 * is kept where no box kept before it overlaps it by more than ``threshold``; the scan stops
 * once ``limit`` boxes are kept (limit < 0: no limit). The overlap of a kept box k and c is
 * boxes.py's, operation for operation in float32 (built with -ffp-contract=off, so nothing is
 * fused): the intersection's corners (numpy's maximum and minimum, NaN propagated), its width
 * and height as differences, its area w * h (normalized) or (w + 1) * (h + 1), the IoU
 * inter / ((size_k + size_c) - inter) compared with the threshold; an intersection that is
 * inverted or of no area overlaps as 0 does. The same boxes are kept as by the numpy scan.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

static inline float
np_max(float a, float b)
{
    if (isnan(a))
        return a;
    if (isnan(b))
        return b;
    return a >= b ? a : b;
}

static inline float
np_min(float a, float b)
{
    if (isnan(a))
        return a;
    if (isnan(b))
        return b;
    return a <= b ? a : b;
}

/* Whether kept box k overlaps candidate c by more than thr (boxes.py's _overlaps). */
static inline int
overlaps(const float *b, const float *s, ptrdiff_t k, ptrdiff_t c, float thr, int normalized)
{
    const float *bk = b + 4 * k, *bc = b + 4 * c;
    float ixmin = np_max(bc[0], bk[0]);
    float iymin = np_max(bc[1], bk[1]);
    float w = np_min(bc[2], bk[2]);
    float h = np_min(bc[3], bk[3]);
    w = w - ixmin;
    h = h - iymin;
    float inter = normalized ? w * h : (w + 1.0f) * (h + 1.0f);
    if (!(inter > 0.0f) || w < 0.0f || h < 0.0f)
        return 0.0f > thr;
    float denominator = s[k] + s[c];
    denominator = denominator - inter;
    return inter / denominator > thr;
}

static PyObject *
py_greedy(PyObject *self, PyObject *args)
{
    PyObject *boxes_obj, *sizes_obj;
    float thr;
    int normalized;
    Py_ssize_t limit;
    Py_buffer bb, sb;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOfpn:greedy", &boxes_obj, &sizes_obj, &thr, &normalized,
                          &limit))
        return NULL;
    if (PyObject_GetBuffer(boxes_obj, &bb, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND) != 0)
        return NULL;
    if (PyObject_GetBuffer(sizes_obj, &sb, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND) != 0) {
        PyBuffer_Release(&bb);
        return NULL;
    }
    ptrdiff_t n = sb.ndim == 1 ? sb.shape[0] : -1;
    if (bb.ndim != 2 || bb.shape[1] != 4 || n < 0 || bb.shape[0] != n ||
        bb.itemsize != 4 || sb.itemsize != 4 || !bb.format || !sb.format ||
        bb.format[0] != 'f' || sb.format[0] != 'f') {
        PyBuffer_Release(&bb);
        PyBuffer_Release(&sb);
        PyErr_SetString(PyExc_ValueError,
                        "greedy: boxes (n, 4) and sizes (n,) float32, C-contiguous");
        return NULL;
    }
    ptrdiff_t *kept = malloc(sizeof(ptrdiff_t) * (size_t)(n > 0 ? n : 1));
    if (!kept) {
        PyBuffer_Release(&bb);
        PyBuffer_Release(&sb);
        return PyErr_NoMemory();
    }
    const float *b = bb.buf, *s = sb.buf;
    ptrdiff_t count = 0;
    Py_BEGIN_ALLOW_THREADS
    for (ptrdiff_t c = 0; c < n; c++) {
        int gone = 0;
        for (ptrdiff_t j = 0; j < count && !gone; j++)
            gone = overlaps(b, s, kept[j], c, thr, normalized);
        if (gone)
            continue;
        kept[count++] = c;
        if (limit >= 0 && count >= limit)
            break;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&bb);
    PyBuffer_Release(&sb);
    PyObject *out = PyList_New(count);
    if (!out) {
        free(kept);
        return NULL;
    }
    for (ptrdiff_t j = 0; j < count; j++) {
        PyObject *v = PyLong_FromSsize_t(kept[j]);
        if (!v) {
            free(kept);
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, j, v);
    }
    free(kept);
    return out;
}

static PyMethodDef methods[] = {
    {"greedy", py_greedy, METH_VARARGS,
     "greedy(boxes, sizes, threshold, normalized, limit): the positions NMSFast_'s scan "
     "keeps of boxes (n, 4) and sizes (n,) float32 in score order (a list)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_nms_kernel",
    "OpenCV's NMSFast_ scan of DetectionOutput, operation for operation in float32.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__nms_kernel(void)
{
    return PyModule_Create(&module);
}
