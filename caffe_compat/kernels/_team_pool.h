/*
 * A team of parked threads for a compiled kernel's jobs (included by _exact_gemm.c after
 * _team_cpus.h; static functions, one team per extension module).
 *
 * Starting and joining a thread per call cost 0.1-0.4 ms on a 2-core virtual machine (thread
 * creation, and waking the other CPU from idle), which is the whole time of a small
 * convolution's product: a 64-to-64-channel 1x1 convolution of a 22 x 22 image took 0.185 ms
 * on one thread and 0.61 ms on two. The team's threads stay: after a job each one watches for
 * the next for TEAM_SPIN_NS (60 microseconds, or CAFFE_COMPAT_KERNEL_SPIN_US; a pause loop),
 * then sleeps on a condition variable until a caller wakes it. A caller never waits for a worker to arrive: it publishes the job, takes units
 * itself at once, and waits at the end only for the workers that joined. So the units of a job
 * are taken in turn as before, by whichever threads are there: the bits do not depend on it.
 *
 * Where the workers run: each job carries the CPUs its workers may use, the ones given to
 * set_team_cpus (_team_cpus.h) or else the caller's own mask (what a thread started by the
 * caller would inherit); a worker that joins moves itself there when its mask differs.
 *
 * One job at a time: a caller that finds the team busy (another Python thread's kernel, the
 * GIL being released) starts threads for its job as before (team_run_fresh). After fork() the
 * child has none of the parent's workers: a pthread_atfork handler resets the team, and the
 * child starts its own when it first needs them.
 */
#ifndef CAFFE_COMPAT_TEAM_POOL_H
#define CAFFE_COMPAT_TEAM_POOL_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define TEAM_PAUSE() _mm_pause()
#else
#define TEAM_PAUSE() ((void)0)
#endif

#define TEAM_MAX 64
#define TEAM_SPIN_NS 60000L

/* How long a worker watches for the next job: TEAM_SPIN_NS, or CAFFE_COMPAT_KERNEL_SPIN_US
 * microseconds where the environment sets it (read when the first worker starts). */
static long team_spin_ns = -1;

static long
team_spin(void)
{
    if (team_spin_ns < 0) {
        const char *v = getenv("CAFFE_COMPAT_KERNEL_SPIN_US");
        char *end = NULL;
        long us = v != NULL ? strtol(v, &end, 10) : -1;
        team_spin_ns = (v != NULL && end != v && *end == '\0' && us >= 0 && us <= 1000000)
                           ? us * 1000L : TEAM_SPIN_NS;
    }
    return team_spin_ns;
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;        /* workers wait here for a job */
    pthread_cond_t left;        /* the caller waits here for the workers that joined */
    int workers;                /* started and parked or working */
    long tids[TEAM_MAX];        /* their kernel thread ids (Linux), 0 until known */
    int busy;                   /* a caller owns the team */
    unsigned long gen;          /* bumped for every job (read unlocked while spinning) */
    void *(*fn)(void *);
    void *arg;
    int open;                   /* the job accepts workers */
    int wanted, joined, active; /* workers the job may take, that took it, inside fn */
#if defined(__linux__)
    cpu_set_t cpus;             /* where the job's workers run */
    int cpus_valid;
#endif
} team_state;

static team_state the_team = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                              PTHREAD_COND_INITIALIZER, 0, {0}, 0, 0, NULL, NULL, 0, 0, 0, 0
#if defined(__linux__)
                              , {{0}}, 0
#endif
};
static pthread_once_t team_once = PTHREAD_ONCE_INIT;

static void
team_after_fork_child(void)
{
    /* the parent's workers do not exist here */
    pthread_mutex_init(&the_team.lock, NULL);
    pthread_cond_init(&the_team.wake, NULL);
    pthread_cond_init(&the_team.left, NULL);
    the_team.workers = 0;
    memset(the_team.tids, 0, sizeof the_team.tids);
    the_team.busy = 0;
    the_team.open = 0;
    the_team.wanted = the_team.joined = the_team.active = 0;
}

static void
team_register_fork(void)
{
    pthread_atfork(NULL, NULL, team_after_fork_child);
}

static long
team_elapsed_ns(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

static void *
team_worker(void *slot)
{
#if defined(__linux__)
    pthread_mutex_lock(&the_team.lock);
    the_team.tids[(intptr_t)slot] = (long)syscall(SYS_gettid);
    pthread_mutex_unlock(&the_team.lock);
#else
    (void)slot;
#endif
    /* generation 0 is before any job: a worker started for the job under way joins it */
    unsigned long seen = 0;
    long spin = team_spin();
#if defined(__linux__)
    cpu_set_t mine;
    int mine_valid = pthread_getaffinity_np(pthread_self(), sizeof mine, &mine) == 0;
#endif
    for (;;) {
        /* watch for the next job a while before sleeping */
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; __atomic_load_n(&the_team.gen, __ATOMIC_ACQUIRE) == seen; i++) {
            TEAM_PAUSE();
            if ((i & 63) == 63 && team_elapsed_ns(&t0) > spin)
                break;
        }
        pthread_mutex_lock(&the_team.lock);
        while (!(the_team.gen != seen && the_team.open && the_team.joined < the_team.wanted)) {
            seen = the_team.gen;                 /* a job missed or full: wait for the next */
            pthread_cond_wait(&the_team.wake, &the_team.lock);
        }
        seen = the_team.gen;
        the_team.joined++;
        the_team.active++;
        void *(*fn)(void *) = the_team.fn;
        void *arg = the_team.arg;
#if defined(__linux__)
        if (the_team.cpus_valid && !(mine_valid && CPU_EQUAL(&mine, &the_team.cpus))) {
            mine = the_team.cpus;
            mine_valid = pthread_setaffinity_np(pthread_self(), sizeof mine, &mine) == 0;
        }
#endif
        pthread_mutex_unlock(&the_team.lock);
        fn(arg);
        pthread_mutex_lock(&the_team.lock);
        if (--the_team.active == 0)
            pthread_cond_signal(&the_team.left);
        pthread_mutex_unlock(&the_team.lock);
    }
    return NULL;
}

/* Threads started for this call only (the team is busy): fn(arg) on each, joined. */
static void
team_run_fresh(void *(*fn)(void *), void *arg, int nthreads)
{
    pthread_t tids[TEAM_MAX];
    int started = 0;
    for (int t = 1; t < nthreads && t < TEAM_MAX; t++) {
        if (team_thread(&tids[started], fn, arg) == 0)
            started++;
    }
    fn(arg);
    for (int t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
}

/* Runs fn(arg) on this thread and up to nthreads - 1 of the team's (see the header). */
static void
team_run(void *(*fn)(void *), void *arg, int nthreads)
{
    if (nthreads <= 1) {
        fn(arg);
        return;
    }
    if (nthreads > TEAM_MAX)
        nthreads = TEAM_MAX;
    pthread_once(&team_once, team_register_fork);
    pthread_mutex_lock(&the_team.lock);
    if (the_team.busy) {
        pthread_mutex_unlock(&the_team.lock);
        team_run_fresh(fn, arg, nthreads);
        return;
    }
    the_team.busy = 1;
    /* workers start with the caller's mask (team_attr: the team CPUs where set) */
    while (the_team.workers < nthreads - 1) {
        pthread_t tid;
        if (team_thread(&tid, team_worker, (void *)(intptr_t)the_team.workers) != 0)
            break;
        pthread_detach(tid);
        the_team.workers++;
    }
#if defined(__linux__)
    pthread_mutex_lock(&team_cpus_lock);
    if (team_cpus_set) {
        the_team.cpus = team_cpus;
        the_team.cpus_valid = 1;
    } else {
        the_team.cpus_valid =
            pthread_getaffinity_np(pthread_self(), sizeof the_team.cpus, &the_team.cpus) == 0;
    }
    pthread_mutex_unlock(&team_cpus_lock);
#endif
    the_team.fn = fn;
    the_team.arg = arg;
    the_team.wanted = nthreads - 1;
    the_team.joined = 0;
    the_team.open = 1;
    __atomic_add_fetch(&the_team.gen, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&the_team.wake);
    pthread_mutex_unlock(&the_team.lock);

    fn(arg);

    pthread_mutex_lock(&the_team.lock);
    the_team.open = 0;                      /* late workers go back to wait */
    while (the_team.active > 0)
        pthread_cond_wait(&the_team.left, &the_team.lock);
    the_team.busy = 0;
    pthread_mutex_unlock(&the_team.lock);
}

/* team_thread_ids(): the kernel thread ids of the team's workers (Linux; those known yet). */
static PyObject *
py_team_thread_ids(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    pthread_mutex_lock(&the_team.lock);
    long tids[TEAM_MAX];
    int n = the_team.workers;
    memcpy(tids, the_team.tids, sizeof tids);
    pthread_mutex_unlock(&the_team.lock);
    for (int i = 0; i < n; i++) {
        if (tids[i] == 0)
            continue;
        PyObject *v = PyLong_FromLong(tids[i]);
        if (v == NULL || PyList_Append(out, v) != 0) {
            Py_XDECREF(v);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(v);
    }
    return out;
}

#define TEAM_POOL_METHOD                                                                    \
    {"team_thread_ids", py_team_thread_ids, METH_NOARGS,                                    \
     "team_thread_ids(): the kernel thread ids of the parked team's workers (Linux)."}

#endif
