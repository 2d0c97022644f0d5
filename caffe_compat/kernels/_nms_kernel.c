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
 *
 * DetectionOutput's work on one class of one image around it (caffe_compat/rules/
 * detection_output.py), the same floats as the numpy rule of caffe_compat/rules/boxes.py:
 *
 *     candidates(conf, column, threshold, top_k, loc, loc_column, var, order, wh) -> n
 *     decode_scan(order, n, wh, loc, loc_column, prior, var, code_type, normalized, clip_x,
 *                 clip_y, threshold, limit, boxes, sizes) -> list of kept positions
 *
 * candidates: the priors whose score (conf[:, column]) is above the threshold, by descending
 * score, equal scores by index (a stable sort), the first top_k of them (top_k > 0), into
 * order (int64); wh gets their width and height offsets (var * loc, or loc where var is None:
 * the variance encoded in the target), whose exp the caller takes with numpy's (the
 * decoding's only operation not written here). decode_scan: those candidates' boxes decoded
 * (CORNER, CENTER_SIZE with wh holding the exps, CORNER_SIZE; OpenCV's double steps where it
 * has them), clipped (clip_x NaN: not; a bound below 0 clips as numpy's clip does), their
 * sizes, then greedy's scan over them.
 */
#include "_common.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* numpy's maximum (greater) or minimum (!greater) of two float32: a NaN operand is the
 * result, the first one where both are. */
static inline float
np_extreme(float a, float b, int greater)
{
    if (isnan(a))
        return a;
    if (isnan(b))
        return b;
    return (greater ? a >= b : a <= b) ? a : b;
}

/* Whether kept box k overlaps candidate c by more than thr (boxes.py's _overlaps). */
static inline int
overlaps(const float *b, const float *s, ptrdiff_t k, ptrdiff_t c, float thr, int normalized)
{
    const float *bk = b + 4 * k, *bc = b + 4 * c;
    float ixmin = np_extreme(bc[0], bk[0], 1);
    float iymin = np_extreme(bc[1], bk[1], 1);
    float w = np_extreme(bc[2], bk[2], 0);
    float h = np_extreme(bc[3], bk[3], 0);
    w = w - ixmin;
    h = h - iymin;
    float inter = normalized ? w * h : (w + 1.0f) * (h + 1.0f);
    if (!(inter > 0.0f) || w < 0.0f || h < 0.0f)
        return 0.0f > thr;
    float denominator = s[k] + s[c];
    denominator = denominator - inter;
    return inter / denominator > thr;
}

/* NMSFast_'s scan over n boxes in order: candidate c is kept where no box kept before it
 * overlaps it by more than thr, until limit are kept (limit < 0: no limit). The positions
 * kept go into kept; returns their count. */
static ptrdiff_t
scan(const float *b, const float *s, ptrdiff_t n, float thr, int normalized, Py_ssize_t limit,
     ptrdiff_t *kept)
{
    ptrdiff_t count = 0;
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
    return count;
}

/* scan's kept positions (the GIL released meanwhile) as a list of ints. */
static PyObject *
positions(const float *b, const float *s, ptrdiff_t n, float thr, int normalized,
          Py_ssize_t limit)
{
    ptrdiff_t *kept = malloc(sizeof(ptrdiff_t) * (size_t)(n > 0 ? n : 1));
    if (!kept)
        return PyErr_NoMemory();
    ptrdiff_t count;
    Py_BEGIN_ALLOW_THREADS
    count = scan(b, s, n, thr, normalized, limit, kept);
    Py_END_ALLOW_THREADS
    PyObject *out = PyList_New(count);
    for (ptrdiff_t j = 0; out != NULL && j < count; j++) {
        PyObject *v = PyLong_FromSsize_t(kept[j]);
        if (!v)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, j, v);
    }
    free(kept);
    return out;
}

static PyObject *
py_greedy(PyObject *self, PyObject *args)
{
    PyObject *objs[2];
    float thr;
    int normalized;
    Py_ssize_t limit;
    Py_buffer v[2];
    (void)self;
    if (!PyArg_ParseTuple(args, "OOfpn:greedy", &objs[0], &objs[1], &thr, &normalized, &limit) ||
        kc_buffers(objs, v, 2, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND, 0) != 0)
        return NULL;
    const Py_buffer *bb = &v[0], *sb = &v[1];
    ptrdiff_t n = sb->ndim == 1 ? sb->shape[0] : -1;
    if (bb->ndim != 2 || bb->shape[1] != 4 || n < 0 || bb->shape[0] != n ||
        bb->itemsize != 4 || sb->itemsize != 4 || !bb->format || !sb->format ||
        bb->format[0] != 'f' || sb->format[0] != 'f') {
        kc_release(v, 2);
        PyErr_SetString(PyExc_ValueError,
                        "greedy: boxes (n, 4) and sizes (n,) float32, C-contiguous");
        return NULL;
    }
    PyObject *out = positions(bb->buf, sb->buf, n, thr, normalized, limit);
    kc_release(v, 2);
    return out;
}

typedef struct {
    float score;
    ptrdiff_t index;
} candidate;

/* Whether a comes before b in NMS's order: higher score first, equal scores by index. */
static inline int
before(candidate a, candidate b)
{
    return a.score > b.score || (a.score == b.score && a.index < b.index);
}

/* The heap of the top_k best so far keeps the last of them (in NMS's order) at its root. */
static void
sift_down(candidate *h, ptrdiff_t n, ptrdiff_t i)
{
    for (;;) {
        ptrdiff_t l = 2 * i + 1, r = l + 1, last = i;
        if (l < n && before(h[last], h[l]))
            last = l;
        if (r < n && before(h[last], h[r]))
            last = r;
        if (last == i)
            return;
        candidate t = h[i];
        h[i] = h[last];
        h[last] = t;
        i = last;
    }
}

static int
by_order(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    return before(*x, *y) ? -1 : (before(*y, *x) ? 1 : 0);
}

/* numpy's clip(x, lo, hi) on a float32: NaN kept, max(x, lo) then min(., hi) by > and <. */
static inline float
np_clip(float x, float lo, float hi)
{
    if (isnan(x))
        return x;
    x = x > lo ? x : lo;
    return x < hi ? x : hi;
}

static int
float_matrix(PyObject *obj, Py_buffer *view, const char *what)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND) != 0)
        return -1;
    if (view->ndim != 2 || view->itemsize != 4 || !view->format || view->format[0] != 'f') {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_ValueError, "%s: a C-contiguous 2-D float32 array", what);
        return -1;
    }
    return 0;
}

static PyObject *
py_candidates(PyObject *self, PyObject *args)
{
    PyObject *conf_obj, *loc_obj, *var_obj, *order_obj, *wh_obj;
    Py_ssize_t column, top_k, loc_column;
    float thr;
    Py_buffer v[5] = {{0}}, *cb = v, *lb = v + 1, *vb = v + 2, *ob = v + 3, *wb = v + 4;
    (void)self;
    if (!PyArg_ParseTuple(args, "OnfnOnOOO:candidates", &conf_obj, &column, &thr, &top_k,
                          &loc_obj, &loc_column, &var_obj, &order_obj, &wh_obj))
        return NULL;
    int has_var = var_obj != Py_None;
    PyObject *out = NULL;
    if (float_matrix(conf_obj, cb, "conf") < 0 || float_matrix(loc_obj, lb, "loc") < 0 ||
        (has_var && float_matrix(var_obj, vb, "var") < 0) ||
        PyObject_GetBuffer(order_obj, ob, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) != 0 ||
        PyObject_GetBuffer(wh_obj, wb, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) != 0)
        goto all;
    ptrdiff_t p = cb->shape[0], classes = cb->shape[1];
    if (column < 0 || column >= classes || lb->shape[0] != p || loc_column < 0 ||
        loc_column + 4 > lb->shape[1] || (has_var && (vb->shape[0] != p || vb->shape[1] != 4)) ||
        ob->len < (Py_ssize_t)(p * sizeof(int64_t)) || wb->len < (Py_ssize_t)(p * 2 * 4)) {
        PyErr_SetString(PyExc_ValueError, "candidates: arrays of other shapes than the priors'");
        goto all;
    }
    candidate *h = malloc(sizeof(candidate) * (size_t)(p > 0 ? p : 1));
    if (!h) {
        PyErr_NoMemory();
        goto all;
    }
    const float *conf = cb->buf, *loc = lb->buf, *var = has_var ? vb->buf : NULL;
    int64_t *order = ob->buf;
    float *wh = wb->buf;
    ptrdiff_t n = 0, k = top_k > 0 ? top_k : -1;
    Py_BEGIN_ALLOW_THREADS
    for (ptrdiff_t i = 0; i < p; i++) {
        candidate c = {conf[i * classes + column], i};
        if (!(c.score > thr))
            continue;
        if (k < 0 || n < k) {
            h[n++] = c;
            if (n == k)
                for (ptrdiff_t j = k / 2 - 1; j >= 0; j--)
                    sift_down(h, k, j);
        } else if (before(c, h[0])) {
            h[0] = c;
            sift_down(h, k, 0);
        }
    }
    qsort(h, (size_t)n, sizeof(candidate), by_order);
    for (ptrdiff_t j = 0; j < n; j++) {
        ptrdiff_t i = h[j].index;
        const float *l = loc + i * lb->shape[1] + loc_column;
        order[j] = i;
        wh[2 * j] = var ? var[4 * i + 2] * l[2] : l[2];
        wh[2 * j + 1] = var ? var[4 * i + 3] * l[3] : l[3];
    }
    Py_END_ALLOW_THREADS
    free(h);
    out = PyLong_FromSsize_t(n);
all:
    kc_release(v, 5);
    return out;
}

/* Candidate j's box (boxes.py's decode, then its clip) and size (box_size). */
static void
decode_one(const float *pr, const float *v, const float *l, const float *e, int code_type,
           int normalized, float clip_x, float clip_y, float *out, float *size)
{
    float b[4];
    for (int q = 0; q < 4; q++)
        b[q] = v ? v[q] * l[q] : l[q];
    float pw = pr[2] - pr[0], ph = pr[3] - pr[1];
    if (code_type != 1 && !normalized) {
        pw = pw + 1.0f;
        ph = ph + 1.0f;
    }
    if (code_type == 1) {                 /* CORNER */
        for (int q = 0; q < 4; q++)
            out[q] = pr[q] + b[q];
    } else if (code_type == 2) {          /* CENTER_SIZE */
        float pcx = (float)((double)pr[0] + (double)pw * 0.5);
        float pcy = (float)((double)pr[1] + (double)ph * 0.5);
        float cx = b[0] * pw;
        float cy = b[1] * ph;
        cx = cx + pcx;
        cy = cy + pcy;
        double hw = (double)(e[0] * pw) * 0.5, hh = (double)(e[1] * ph) * 0.5;
        out[0] = (float)((double)cx - hw);
        out[1] = (float)((double)cy - hh);
        out[2] = (float)((double)cx + hw);
        out[3] = (float)((double)cy + hh);
    } else {                              /* CORNER_SIZE */
        out[0] = pr[0] + b[0] * pw;
        out[1] = pr[1] + b[1] * ph;
        out[2] = pr[2] + b[2] * pw;
        out[3] = pr[3] + b[3] * ph;
    }
    if (!isnan(clip_x)) {
        out[0] = np_clip(out[0], 0.0f, clip_x);
        out[1] = np_clip(out[1], 0.0f, clip_y);
        out[2] = np_clip(out[2], 0.0f, clip_x);
        out[3] = np_clip(out[3], 0.0f, clip_y);
    }
    float w = out[2] - out[0], h = out[3] - out[1];
    float area = normalized ? w * h : (w + 1.0f) * (h + 1.0f);
    *size = (out[2] < out[0] || out[3] < out[1]) ? 0.0f : area;
}

static PyObject *
py_decode_scan(PyObject *self, PyObject *args)
{
    PyObject *order_obj, *wh_obj, *loc_obj, *prior_obj, *var_obj, *boxes_obj, *sizes_obj;
    Py_ssize_t n, loc_column, limit;
    int code_type, normalized;
    float clip_x, clip_y, thr;
    Py_buffer v[7] = {{0}}, *ob = v, *wb = v + 1, *lb = v + 2, *pb = v + 3, *vb = v + 4;
    Py_buffer *bb = v + 5, *sb = v + 6;
    (void)self;
    if (!PyArg_ParseTuple(args, "OnOOnOOipfffnOO:decode_scan", &order_obj, &n, &wh_obj,
                          &loc_obj, &loc_column, &prior_obj, &var_obj, &code_type,
                          &normalized, &clip_x, &clip_y, &thr, &limit, &boxes_obj, &sizes_obj))
        return NULL;
    int has_var = var_obj != Py_None;
    PyObject *out = NULL;
    if (PyObject_GetBuffer(order_obj, ob, PyBUF_C_CONTIGUOUS) != 0 ||
        PyObject_GetBuffer(wh_obj, wb, PyBUF_C_CONTIGUOUS) != 0 ||
        float_matrix(loc_obj, lb, "loc") < 0 || float_matrix(prior_obj, pb, "prior") < 0 ||
        (has_var && float_matrix(var_obj, vb, "var") < 0) ||
        PyObject_GetBuffer(boxes_obj, bb, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) != 0 ||
        PyObject_GetBuffer(sizes_obj, sb, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) != 0)
        goto all;
    ptrdiff_t p = pb->shape[0];
    if (n < 0 || ob->len < (Py_ssize_t)(n * sizeof(int64_t)) || wb->len < n * 8 ||
        pb->shape[1] != 4 || lb->shape[0] != p || loc_column < 0 ||
        loc_column + 4 > lb->shape[1] || (has_var && (vb->shape[0] != p || vb->shape[1] != 4)) ||
        bb->len < n * 16 || sb->len < n * 4 || code_type < 1 || code_type > 3) {
        PyErr_SetString(PyExc_ValueError, "decode_scan: arrays of other shapes than expected");
        goto all;
    }
    const int64_t *order = ob->buf;
    for (ptrdiff_t j = 0; j < n; j++)
        if (order[j] < 0 || order[j] >= p) {
            PyErr_SetString(PyExc_ValueError, "decode_scan: a prior index out of range");
            goto all;
        }
    float *boxes = bb->buf, *sizes = sb->buf;
    const float *wh = wb->buf, *loc = lb->buf, *prior = pb->buf, *var = has_var ? vb->buf : NULL;
    Py_BEGIN_ALLOW_THREADS
    for (ptrdiff_t j = 0; j < n; j++) {
        ptrdiff_t i = order[j];
        decode_one(prior + 4 * i, var ? var + 4 * i : NULL, loc + i * lb->shape[1] + loc_column,
                   wh + 2 * j, code_type, normalized, clip_x, clip_y, boxes + 4 * j,
                   sizes + j);
    }
    Py_END_ALLOW_THREADS
    out = positions(boxes, sizes, n, thr, normalized, limit);
all:
    kc_release(v, 7);
    return out;
}

static PyMethodDef methods[] = {
    {"greedy", py_greedy, METH_VARARGS,
     "greedy(boxes, sizes, threshold, normalized, limit): the positions NMSFast_'s scan "
     "keeps of boxes (n, 4) and sizes (n,) float32 in score order (a list)."},
    {"candidates", py_candidates, METH_VARARGS,
     "candidates(conf, column, threshold, top_k, loc, loc_column, var, order, wh) -> n: "
     "one class's ranked candidates and their width and height offsets."},
    {"decode_scan", py_decode_scan, METH_VARARGS,
     "decode_scan(order, n, wh, loc, loc_column, prior, var, code_type, normalized, clip_x, "
     "clip_y, threshold, limit, boxes, sizes): the candidates' boxes decoded and "
     "the positions NMS keeps (a list)."},
    {NULL, NULL, 0, NULL},
};

KC_MODULE(_nms_kernel,
          "OpenCV's NMSFast_ scan of DetectionOutput, operation for operation in float32.", NULL)
