/*
 * Where the threads a compiled kernel starts may run: what caffe_compat.kernels' extensions
 * that start threads (_exact_gemm, _pool_kernel) share, each with its own copy.
 *
 * A new thread inherits the CPU mask of the thread that creates it. While a pass's threads
 * are placed one per CPU (caffe_compat.parallel.placement), the calling thread is pinned to
 * one CPU, and a kernel's team started from it would share that CPU. set_team_cpus(cpus)
 * gives the team threads the process's own CPUs instead; set_team_cpus(None) returns to
 * inheriting. Elsewhere than Linux the call is accepted and changes nothing.
 */
#ifndef CAFFE_COMPAT_TEAM_CPUS_H
#define CAFFE_COMPAT_TEAM_CPUS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>

#if defined(__linux__)
#include <sched.h>
#define TEAM_CPUS_SUPPORTED 1
static cpu_set_t team_cpus;
static int team_cpus_set;
static pthread_mutex_t team_cpus_lock = PTHREAD_MUTEX_INITIALIZER;
#else
#define TEAM_CPUS_SUPPORTED 0
#endif

/* Initialises attr for a team thread: the CPUs given to set_team_cpus, if any. 0 on success
 * (then pthread_attr_destroy it), -1 when the default attributes are to be used. */
static int
team_attr(pthread_attr_t *attr)
{
#if TEAM_CPUS_SUPPORTED
    pthread_mutex_lock(&team_cpus_lock);
    int set = team_cpus_set;
    cpu_set_t cpus = team_cpus;
    pthread_mutex_unlock(&team_cpus_lock);
    if (!set || pthread_attr_init(attr) != 0)
        return -1;
    if (pthread_attr_setaffinity_np(attr, sizeof cpus, &cpus) != 0) {
        pthread_attr_destroy(attr);
        return -1;
    }
    return 0;
#else
    (void)attr;
    return -1;
#endif
}

/* Starts fn(arg) on a new team thread (see team_attr); pthread_create's result. */
static int
team_thread(pthread_t *tid, void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    int own = team_attr(&attr) == 0;
    int rc = pthread_create(tid, own ? &attr : NULL, fn, arg);
    if (own)
        pthread_attr_destroy(&attr);
    return rc;
}

static PyObject *
py_set_team_cpus(PyObject *self, PyObject *arg)
{
    (void)self;
#if TEAM_CPUS_SUPPORTED
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    int set = arg != Py_None;
    if (set) {
        PyObject *seq = PySequence_Fast(arg, "set_team_cpus: a sequence of CPU numbers or None");
        if (seq == NULL)
            return NULL;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        for (Py_ssize_t i = 0; i < n; i++) {
            long c = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
            if (c == -1 && PyErr_Occurred()) {
                Py_DECREF(seq);
                return NULL;
            }
            if (c < 0 || c >= CPU_SETSIZE) {
                Py_DECREF(seq);
                return PyErr_Format(PyExc_ValueError, "set_team_cpus: CPU %ld is outside 0..%d",
                                    c, CPU_SETSIZE - 1);
            }
            CPU_SET((int)c, &cpus);
        }
        Py_DECREF(seq);
        if (n == 0) {
            PyErr_SetString(PyExc_ValueError, "set_team_cpus: no CPU given (None: inherit)");
            return NULL;
        }
    }
    pthread_mutex_lock(&team_cpus_lock);
    team_cpus = cpus;
    team_cpus_set = set;
    pthread_mutex_unlock(&team_cpus_lock);
#else
    (void)arg;
#endif
    Py_RETURN_NONE;
}

#define TEAM_CPUS_METHOD                                                                    \
    {"set_team_cpus", py_set_team_cpus, METH_O,                                             \
     "set_team_cpus(cpus): the CPUs the threads this module starts may run on (a sequence "  \
     "of CPU numbers), or None: the creating thread's own (the default)."}

#endif
