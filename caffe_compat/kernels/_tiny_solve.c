/*
 * Many training iterations of a small array-engine net in one call: the array engine's layers
 * (caffe_compat/array_net) and Caffe's SGD update, iteration after iteration, over a program
 * that caffe_compat/array_solver/loop/ builds once per net (caffe_compat/kernels/array_loop.py
 * calls it). No routine of torch is used.
 *
 *     bind()                                     the capsules of _exact_gemm and _sgd_update
 *     run(ops, ptrs, consts, iterations, losses, rates, cursors, limits) -> iterations done
 *     softmax_loss(x, y, M, C, norm)             SoftmaxWithLoss of rows, as the loop computes it
 *     smooth(losses, ring, size, smoothed, offset, average)   Caffe's smoothed loss
 *
 * Every value is computed by the routine, and in the order, that the array layers' per-layer
 * pass uses for it, so each iteration leaves the same bits:
 *
 * - InnerProduct: the Caffe-order products of _exact_gemm (through its capsule, the same C
 *   function its Python entry calls), the bias added as one float32 sum; the backward of
 *   small products through the same capsule, the bias gradient summed row after row;
 * - SoftmaxWithLoss on rows: Caffe's SoftmaxLayer with expf, then the sum of logf one row
 *   after the other (the array layer calls softmax_loss for the same values);
 * - ReLU, Split, Accuracy, the loss: Caffe's float32 operations, element by element;
 * - the update: _sgd_update's per-blob loop (its capsule), fused or not as the program says.
 *
 * An iteration whose data would reach the end of an HDF5 file, or whose labels are out of
 * range, is not run: the call returns the number of iterations completed before it, with
 * nothing of that iteration written to the parameters or the data cursors, and Python runs it
 * (reporting any error as the per-layer loop does).
 *
 * Must be built with -ffp-contract=off and without -ffast-math.
 */
#include "_common.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "_kernel_api.h"

static const eg_api *the_eg;
static const su_api *the_su;

/* The opcodes (caffe_compat/kernels/loop_ops.py names them) and their operands. */
enum {
    OP_END = 0,
    OP_ZERO = 1,        /* buf, n */
    OP_DATA = 2,        /* src, cursor slot, row elements, dst, batch */
    OP_IP_FWD = 3,      /* x, w, b (-1), y, M, N, K, kind, transpose */
    OP_SMLOSS_BWD = 7,  /* prob, label, dloss, dx, M, C, norm const */
    OP_ADD = 8,         /* a, b, out, n */
    OP_COPY = 9,        /* a, out, n */
    OP_UPDATE = 12,     /* count, momentum const, fused, then (w, d, h, n, decay const) */
    OP_ADVANCE = 13,    /* cursor slot, batch */
    OP_ACCURACY = 15,   /* x, label, out, M, C, top_k */
    OP_OUTPUT = 16,     /* src, dst, count, offset, stride: dst[it * stride + offset + j] */
    OP_ASMLOSS_FWD = 24, /* x, label, prob, loss, M, C, norm const */
    OP_ARELU_FWD = 25,  /* x, y, n */
    OP_ARELU_BWD = 26,  /* dy, x, dx, n */
    OP_AIP_BWD = 27,    /* dy, x, w, gx (-1), gw (-1), gb (-1), tmp w, tmp b, M, N, K, transpose */
    OP_ALOSS = 28,      /* train, count, then (buf, weight const) pairs */
};

/* ------------------------------------------------------------------------------------------
 * The layers. */

#define FLT_MIN_VALUE 1.17549435e-38f

/* Caffe's static_cast<int>(label) in range [0, C): the class, or -1. */
static ptrdiff_t
label_class(float v, ptrdiff_t C)
{
    if (!(v > -1.0f && v < (float)C))
        return -1;
    return (ptrdiff_t)v;      /* truncation toward zero */
}

/* Whether all M labels are classes of [0, C). */
static int
labels_in_range(const float *label, ptrdiff_t M, ptrdiff_t C)
{
    for (ptrdiff_t m = 0; m < M; m++)
        if (label_class(label[m], C) < 0)
            return 0;
    return 1;
}

static int
ip_forward(const float *x, const float *w, const float *b, float *y, ptrdiff_t M,
           ptrdiff_t N, ptrdiff_t K, int64_t kind, int64_t transpose)
{
    int rc = 0;
    if (transpose)             /* y = x W, W (K, N) */
        rc = the_eg->gemm(x, K, 1, w, N, 1, y, N, M, N, K, kind == 0, 1);
    else if (kind == 2)        /* OpenBLAS's small TN kernel */
        the_eg->tn_small(w, K, 1, x, K, 1, y, N, N, M, K);
    else                       /* y = x W^T, W (N, K) */
        rc = the_eg->gemm(x, K, 1, w, 1, K, y, N, M, N, K, 1, 1);
    if (rc != 0)
        return -1;
    if (b != NULL)
        for (ptrdiff_t m = 0; m < M; m++)
            for (ptrdiff_t n = 0; n < N; n++)
                y[m * N + n] = y[m * N + n] + b[n];
    return 0;
}

/* Caffe's arithmetic with C's float functions (glibc's expf and logf are what Caffe's
 * std::exp and std::log of float call). */

/* SoftmaxWithLoss over (M, C) rows with every label in [0, C): per row the maximum, expf of
 * each difference, their sum one after the other, each exponential divided by it (Caffe's
 * SoftmaxLayer); then -(sum of logf(max(p[label], FLT_MIN)) one row after the other) / norm
 * (Caffe's loop `loss -= log(...)`). Returns the loss. */
static float
softmax_loss_rows(const float *x, const float *label, float *prob, ptrdiff_t M, ptrdiff_t C,
                  float norm)
{
    float total = 0.0f;
    for (ptrdiff_t m = 0; m < M; m++) {
        const float *xr = x + m * C;
        float *pr = prob + m * C;
        float mx = xr[0];
        for (ptrdiff_t j = 1; j < C; j++)
            if (xr[j] > mx || isnan(xr[j]))
                mx = isnan(mx) ? mx : xr[j];
        float sum = 0.0f;
        for (ptrdiff_t j = 0; j < C; j++) {
            float d = xr[j] - mx;
            pr[j] = expf(d);
            sum = sum + pr[j];
        }
        for (ptrdiff_t j = 0; j < C; j++)
            pr[j] = pr[j] / sum;
        float v = pr[(ptrdiff_t)label[m]];
        total = total - logf(v < FLT_MIN_VALUE ? FLT_MIN_VALUE : v);
    }
    return total / norm;
}

/* InnerProduct backward of small products (M N K <= 1e6: OpenBLAS's small-matrix kernels,
 * one sequential sum per output) through _exact_gemm: gx = dy W (W^T with transpose), gw +=
 * dy^T x (x^T dy with transpose), gb += the rows of dy summed one after the other; what
 * array_net/layers/inner_product.py computes for the same sizes. */
static int
array_ip_backward(const float *dy, const float *x, const float *w, float *gx, float *gw,
                  float *gb, float *tw, float *tb, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                  int64_t transpose)
{
    if (gx != NULL) {
        int rc = transpose ? the_eg->gemm(dy, N, 1, w, 1, N, gx, K, M, K, N, 0, 1)
                           : the_eg->gemm(dy, N, 1, w, K, 1, gx, K, M, K, N, 0, 1);
        if (rc != 0)
            return -1;
    }
    if (gw != NULL) {
        int rc = transpose ? the_eg->gemm(x, 1, K, dy, N, 1, tw, N, K, N, M, 0, 1)
                           : the_eg->gemm(dy, 1, N, x, K, 1, tw, K, N, K, M, 0, 1);
        if (rc != 0)
            return -1;
        for (ptrdiff_t i = 0; i < N * K; i++)
            gw[i] = gw[i] + tw[i];
    }
    if (gb != NULL && M > 0) {
        memcpy(tb, dy, (size_t)N * sizeof(float));
        for (ptrdiff_t m = 1; m < M; m++)
            for (ptrdiff_t n = 0; n < N; n++)
                tb[n] = tb[n] + dy[m * N + n];
        for (ptrdiff_t n = 0; n < N; n++)
            gb[n] = gb[n] + tb[n];
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * The loop. */

#define P(i) ((i) < 0 ? NULL : (float *)(uintptr_t)ptrs[(i)])      /* optional: -1 = none */
#define R(i) ((float *)(uintptr_t)ptrs[(i)])                        /* required */

/* One pass over the program for iteration it; 0, or 1 where it must stop before this
 * iteration (nothing of it committed: the update and the cursors come last), -1 on error. */
static int
run_once(const int64_t *ops, Py_ssize_t nops, const int64_t *ptrs, const double *consts,
         Py_ssize_t it, float *losses, const float *rates, int64_t *cursors)
{
    Py_ssize_t pc = 0;
    while (pc < nops) {
        int64_t op = ops[pc];
        const int64_t *a = ops + pc + 1;
        switch (op) {
        case OP_ZERO:
            memset(R(a[0]), 0, (size_t)a[1] * sizeof(float));
            pc += 3;
            break;
        case OP_DATA: {
            const float *src = R(a[0]) + cursors[a[1]] * a[2];
            memcpy(R(a[3]), src, (size_t)(a[2] * a[4]) * sizeof(float));
            pc += 6;
            break;
        }
        case OP_IP_FWD:
            if (ip_forward(P(a[0]), P(a[1]), P(a[2]), P(a[3]), a[4], a[5], a[6], a[7],
                           a[8]) != 0)
                return -1;
            pc += 10;
            break;
        case OP_SMLOSS_BWD: {
            const float *prob = P(a[0]), *label = P(a[1]), *dloss = P(a[2]);
            float *dx = P(a[3]);
            ptrdiff_t M = a[4], C = a[5];
            float scale = dloss[0] / (float)consts[a[6]];
            for (ptrdiff_t m = 0; m < M; m++) {
                ptrdiff_t c = label_class(label[m], C);
                for (ptrdiff_t j = 0; j < C; j++) {
                    float g = prob[m * C + j];
                    if (j == c)
                        g = g + -1.0f;
                    dx[m * C + j] = g * scale;
                }
            }
            pc += 8;
            break;
        }
        case OP_ADD: {
            const float *x = P(a[0]), *y = P(a[1]);
            float *out = P(a[2]);
            for (int64_t i = 0; i < a[3]; i++)
                out[i] = x[i] + y[i];
            pc += 5;
            break;
        }
        case OP_COPY:
            memmove(R(a[1]), R(a[0]), (size_t)a[2] * sizeof(float));
            pc += 4;
            break;
        case OP_UPDATE: {
            int64_t count = a[0];
            float momentum = (float)consts[a[1]];
            su_update_fn fn = a[2] ? the_su->fused : the_su->unfused;
            for (int64_t i = 0; i < count; i++) {
                const int64_t *b = a + 3 + 5 * i;
                fn(P(b[0]), P(b[1]), P(b[2]), b[3], (float)consts[b[4]],
                   rates[it * count + i], momentum);
            }
            pc += 4 + 5 * count;
            break;
        }
        case OP_ADVANCE:
            cursors[a[0]] += a[1];
            pc += 3;
            break;
        case OP_ACCURACY: {
            /* Accuracy._numpy_accuracy for (M, C) scores: the classes scoring >= the true
             * one, less itself, below top_k; the count over M as float32 */
            const float *x = R(a[0]), *label = R(a[1]);
            float *out = R(a[2]);
            ptrdiff_t M = a[3], C = a[4];
            int64_t correct = 0;
            for (ptrdiff_t m = 0; m < M; m++) {
                ptrdiff_t c = label_class(label[m], C);
                if (c < 0)
                    return 1;
                float t = x[m * C + c];
                int64_t better = -1;
                for (ptrdiff_t j = 0; j < C; j++)
                    better += x[m * C + j] >= t;
                correct += better < a[5];
            }
            out[0] = (float)correct / (float)M;
            pc += 7;
            break;
        }
        case OP_OUTPUT: {
            const float *src = R(a[0]);
            float *dst = R(a[1]) + it * a[4] + a[3];
            memcpy(dst, src, (size_t)a[2] * sizeof(float));
            pc += 6;
            break;
        }
        case OP_ASMLOSS_FWD: {
            const float *x = R(a[0]), *label = R(a[1]);
            ptrdiff_t M = a[4], C = a[5];
            if (!labels_in_range(label, M, C))
                return 1;
            R(a[3])[0] = softmax_loss_rows(x, label, R(a[2]), M, C, (float)consts[a[6]]);
            pc += 8;
            break;
        }
        case OP_ARELU_FWD: {
            /* numpy's maximum(x, 0): x where x > 0 or NaN, else +0 */
            const float *x = R(a[0]);
            float *y = R(a[1]);
            for (int64_t i = 0; i < a[2]; i++)
                y[i] = (x[i] > 0.0f || isnan(x[i])) ? x[i] : 0.0f;
            pc += 4;
            break;
        }
        case OP_ARELU_BWD: {
            /* Caffe's dy * (x > 0): a product, so -0 and NaN as it gives them */
            const float *dy = R(a[0]), *x = R(a[1]);
            float *dx = R(a[2]);
            for (int64_t i = 0; i < a[3]; i++)
                dx[i] = dy[i] * (x[i] > 0.0f ? 1.0f : 0.0f);
            pc += 5;
            break;
        }
        case OP_AIP_BWD:
            if (array_ip_backward(P(a[0]), P(a[1]), P(a[2]), P(a[3]), P(a[4]), P(a[5]),
                                  P(a[6]), P(a[7]), a[8], a[9], a[10], a[11]) != 0)
                return -1;
            pc += 13;
            break;
        case OP_ALOSS: {
            /* ArrayNet.forward's loss: each loss top times its float32 weight, in float32,
             * summed in double; then the solver's float32 (0 + loss) / iter_size (1) */
            int64_t count = a[1];
            double total = 0.0;
            for (int64_t i = 0; i < count; i++) {
                float term = (float)consts[a[3 + 2 * i]] * R(a[2 + 2 * i])[0];
                total += (double)term;
            }
            float l = (float)total;
            if (a[0]) {
                l = 0.0f + l;
                l = l / 1.0f;
            }
            losses[it] = l;
            pc += 3 + 2 * count;
            break;
        }
        default:
            return -1;
        }
    }
    return 0;
}

static int
get_buffer(PyObject *o, Py_buffer *v, int writable, const char *format, Py_ssize_t itemsize,
           const char *what)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(o, v, flags) != 0)
        return -1;
    if (v->itemsize != itemsize || v->format == NULL || strchr(format, v->format[0]) == NULL) {
        PyErr_Format(PyExc_TypeError, "_tiny_solve.run: %s has the wrong item type", what);
        PyBuffer_Release(v);
        return -1;
    }
    return 0;
}

static PyObject *
py_run(PyObject *self, PyObject *args)
{
    PyObject *oops, *optrs, *oconsts, *olosses, *orates, *ocursors, *olimits;
    Py_ssize_t iterations;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOnOOOO:run", &oops, &optrs, &oconsts, &iterations,
                          &olosses, &orates, &ocursors, &olimits))
        return NULL;
    if (the_eg == NULL || the_su == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_tiny_solve.run: bind() was not called");
        return NULL;
    }
    PyObject *objs[7] = {oops, optrs, oconsts, olosses, orates, ocursors, olimits};
    Py_buffer b[7] = {{0}};
    const char *fmts[7] = {"qlL", "qlL", "d", "f", "f", "qlL", "qlL"};
    Py_ssize_t sizes[7] = {8, 8, 8, 4, 4, 8, 8};
    int writable[7] = {0, 0, 0, 1, 0, 1, 0};
    const char *names[7] = {"ops", "ptrs", "consts", "losses", "rates", "cursors", "limits"};
    PyObject *result = NULL;
    for (int i = 0; i < 7; i++)
        if (get_buffer(objs[i], &b[i], writable[i], fmts[i], sizes[i], names[i]) != 0)
            goto done;
    Py_buffer bops = b[0], bptrs = b[1], bconsts = b[2], blosses = b[3], brates = b[4];
    Py_buffer bcursors = b[5], blimits = b[6];
    if (blosses.len / 4 < iterations) {
        PyErr_SetString(PyExc_ValueError, "_tiny_solve.run: losses holds too few values");
        goto done;
    }
    const int64_t *ops = bops.buf, *ptrs = bptrs.buf, *limits = blimits.buf;
    int64_t *cursors = bcursors.buf;
    Py_ssize_t nops = bops.len / 8, nsources = bcursors.len / 8;
    Py_ssize_t done_count = 0;
    int rc = 0;
    Py_BEGIN_ALLOW_THREADS
    for (; done_count < iterations; done_count++) {
        int room = 1;
        for (Py_ssize_t s = 0; s < nsources / 2; s++)
            if (cursors[2 * s] + cursors[2 * s + 1] >= limits[s])
                room = 0;
        if (!room)
            break;
        rc = run_once(ops, nops, ptrs, bconsts.buf, done_count, blosses.buf, brates.buf,
                      cursors);
        if (rc != 0)
            break;
    }
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyErr_SetString(PyExc_RuntimeError, "_tiny_solve.run: a product failed (out of memory "
                        "or operands it cannot take), or an unknown operation");
        goto done;
    }
    result = PyLong_FromSsize_t(done_count);
done:
    kc_release(b, 7);
    return result;
}

/* The capsules of _exact_gemm and _sgd_update, once before run(). */
static PyObject *
py_bind(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    const eg_api *eg = PyCapsule_Import("caffe_compat.kernels._exact_gemm._C_API", 0);
    if (eg == NULL)
        return NULL;
    const su_api *su = PyCapsule_Import("caffe_compat.kernels._sgd_update._C_API", 0);
    if (su == NULL)
        return NULL;
    the_eg = eg;
    the_su = su;
    Py_RETURN_NONE;
}

/* SoftmaxWithLoss of rows on arrays: x holds the (M, C) scores then M labels in [0, C); y
 * receives the probabilities then the loss; norm: the normalizer. What OP_ASMLOSS_FWD
 * computes, for the array layer's own forward. */
static PyObject *
py_softmax_loss(PyObject *self, PyObject *args)
{
    Py_buffer x, y;
    Py_ssize_t M, C;
    double norm;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*w*nnd:softmax_loss", &x, &y, &M, &C, &norm))
        return NULL;
    const float *in = x.buf;
    float *out = y.buf;
    int ok = M >= 1 && C >= 1 && x.len >= (M * C + M) * 4 && y.len >= (M * C + 1) * 4 &&
             labels_in_range(in + M * C, M, C);
    if (ok)
        out[M * C] = softmax_loss_rows(in, in + M * C, out, M, C, (float)norm);
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "_tiny_solve.softmax_loss: sizes or labels out of "
                        "range");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Caffe's UpdateSmoothedLoss over n losses, in float32 (DisplayMixin._update_smoothed_loss):
 * while fewer than average are kept, the mean of those kept; then the oldest replaced and the
 * mean moved by (new - old) / average. ring: the kept losses (average slots), size of them
 * filled; offset: iter - start_iter of the first loss. Returns (smoothed, size). */
static PyObject *
py_smooth(PyObject *self, PyObject *args)
{
    Py_buffer losses, ring;
    Py_ssize_t size, offset, average;
    float smoothed;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*w*nfnn:smooth", &losses, &ring, &size, &smoothed, &offset,
                          &average))
        return NULL;
    const float *l = losses.buf;
    float *r = ring.buf;
    Py_ssize_t n = losses.len / 4;
    if (average < 1 || ring.len / 4 < average || size < 0 || size > average) {
        PyBuffer_Release(&losses);
        PyBuffer_Release(&ring);
        PyErr_SetString(PyExc_ValueError, "_tiny_solve.smooth: bad ring");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        float loss = l[i];
        if (size < average) {
            r[size++] = loss;
            float prod = smoothed * (float)(size - 1);
            float sum = prod + loss;
            smoothed = sum / (float)size;
        } else {
            Py_ssize_t idx = (offset + i) % average;
            float step = (loss - r[idx]) / (float)average;
            smoothed = smoothed + step;
            r[idx] = loss;
        }
    }
    PyBuffer_Release(&losses);
    PyBuffer_Release(&ring);
    return Py_BuildValue("fn", smoothed, size);
}

static PyMethodDef methods[] = {
    {"smooth", py_smooth, METH_VARARGS,
     "smooth(losses, ring, size, smoothed, offset, average) -> (smoothed, size): Caffe's "
     "smoothed loss over the losses, the ring of kept losses updated in place."},
    {"bind", py_bind, METH_NOARGS,
     "bind(): the capsules of _exact_gemm and _sgd_update, before run()."},
    {"run", py_run, METH_VARARGS,
     "run(ops, ptrs, consts, iterations, losses, rates, cursors, limits): iterations of a "
     "program; returns how many ran."},
    {"softmax_loss", py_softmax_loss, METH_VARARGS,
     "softmax_loss(x, y, M, C, norm): SoftmaxWithLoss of (M, C) rows as the loop computes it."},
    {NULL, NULL, 0, NULL},
};

KC_MODULE(_tiny_solve, "Many training iterations of a small array-engine net in one call.",
          NULL)
