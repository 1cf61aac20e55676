/*  bench_util.c - clock, samples, the forked timed loop (see bench_util.h). */
#define _GNU_SOURCE
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAR 256
#define MAX_SAMPLES_PER_PROC (4u * 1024u * 1024u)

int64_t
bu_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
bu_samples_add (bu_samples_t *s, double us)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        double *v = realloc (s->v, cap * sizeof *v);
        if (!v)
            return;                     /* drop the sample, keep going */
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = us;
    s->sorted = false;
}

void
bu_samples_free (bu_samples_t *s)
{
    free (s->v);
    memset (s, 0, sizeof *s);
}

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

double
bu_pct (bu_samples_t *s, double p)
{
    if (!s->n)
        return 0;
    if (!s->sorted) {
        qsort (s->v, s->n, sizeof *s->v, s_cmp_double);
        s->sorted = true;
    }
    size_t rank = (size_t) ceil (p / 100.0 * (double) s->n);
    if (rank < 1)
        rank = 1;
    if (rank > s->n)
        rank = s->n;
    return s->v[rank - 1];
}

double
bu_mean (const bu_samples_t *s)
{
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += s->v[i];
    return s->n ? sum / (double) s->n : 0;
}

/*  ---- the timed loop ----------------------------------------------------- */

static char s_first_error[256];         /* this process's first failure */
static int s_failed;                    /* s_first_error taken (threads race) */

void
bu_fail (const char *fmt, ...)
{
    if (__atomic_exchange_n (&s_failed, 1, __ATOMIC_ACQ_REL))
        return;
    va_list args;
    va_start (args, fmt);
    vsnprintf (s_first_error, sizeof s_first_error, fmt, args);
    va_end (args);
}

void
bu_fail_reset (void)
{
    s_first_error[0] = '\0';
    __atomic_store_n (&s_failed, 0, __ATOMIC_RELEASE);
}

const char *
bu_first_error (void)
{
    return s_first_error;
}

/*  What a measuring process sends back before its samples.                */
typedef struct {
    int32_t ok;                         /* 1: set up and measured */
    uint32_t nsamples;                  /* floats that follow */
    uint64_t count;
    uint64_t errors;
    int64_t elapsed_ns;
    char first_error[256];
} s_report_t;

static int
s_write_all (int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write (fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

static int
s_read_all (int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t n = read (fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

/*  The measuring process. Never returns.                                   */
static void
s_measurer (const bu_job_t *job, double seconds, int ready_fd, int go_fd, int out_fd)
{
    s_report_t rep;
    memset (&rep, 0, sizeof rep);
    if (job->setup && job->setup (job->arg)) {
        snprintf (rep.first_error, sizeof rep.first_error, "setup failed: %.200s", s_first_error);
        s_write_all (ready_fd, "x", 1);
        s_write_all (out_fd, &rep, sizeof rep);
        _exit (1);
    }
    for (int i = 0; i < job->warmup; i++)
        job->one (job->arg);
    bu_fail_reset ();
    s_write_all (ready_fd, "r", 1);
    char c;
    while (read (go_fd, &c, 1) < 0 && errno == EINTR)
        ;                               /* EOF: everyone starts */

    float *lat = malloc (MAX_SAMPLES_PER_PROC * sizeof *lat);
    uint32_t n = 0;
    int64_t start = bu_now_ns ();
    int64_t end = start + (int64_t) (seconds * 1e9);
    int64_t now = start;
    while (now < end) {
        int rc = job->one (job->arg);
        int64_t t = bu_now_ns ();
        if (rc == 0) {
            rep.count++;
            if (lat && n < MAX_SAMPLES_PER_PROC)
                lat[n++] = (float) ((double) (t - now) / 1000.0);
        }
        else
            rep.errors++;
        now = t;
    }
    rep.ok = 1;
    rep.elapsed_ns = now - start;
    rep.nsamples = n;
    memcpy (rep.first_error, s_first_error, sizeof rep.first_error);
    if (s_write_all (out_fd, &rep, sizeof rep) || (n && s_write_all (out_fd, lat, n * sizeof *lat)))
        _exit (1);
    _exit (0);
}

int
bu_measure (const bu_job_t *job, int par, double seconds, bu_result_t *res)
{
    memset (res, 0, sizeof *res);
    if (par < 1 || par > MAX_PAR)
        return -1;
    int ready[2], go[2];
    if (pipe2 (ready, O_CLOEXEC) || pipe2 (go, O_CLOEXEC))
        return -1;
    pid_t pids[MAX_PAR];
    int outs[MAX_PAR];
    fflush (NULL);
    for (int i = 0; i < par; i++) {
        int out[2];
        if (pipe2 (out, O_CLOEXEC))
            return -1;
        pid_t pid = fork ();
        if (pid < 0)
            return -1;
        if (pid == 0) {
            close (ready[0]);
            close (go[1]);
            close (out[0]);
            s_measurer (job, seconds, ready[1], go[0], out[1]);
        }
        close (out[1]);
        pids[i] = pid;
        outs[i] = out[0];
    }
    close (ready[1]);
    close (go[0]);
    int failed = 0;
    for (int i = 0; i < par; i++) {
        char c = 0;
        if (s_read_all (ready[0], &c, 1) || c != 'r')
            failed = 1;
    }
    close (go[1]);                      /* the start line */
    close (ready[0]);
    int64_t longest = 0;
    for (int i = 0; i < par; i++) {
        s_report_t rep;
        if (s_read_all (outs[i], &rep, sizeof rep)) {
            failed = 1;
            close (outs[i]);
            continue;
        }
        rep.first_error[sizeof rep.first_error - 1] = '\0';
        if (rep.first_error[0] && !res->first_error[0])
            memcpy (res->first_error, rep.first_error, sizeof res->first_error);
        if (!rep.ok) {
            failed = 1;
            close (outs[i]);
            continue;
        }
        res->count += rep.count;
        res->errors += rep.errors;
        if (rep.elapsed_ns > longest)
            longest = rep.elapsed_ns;
        float chunk[4096];
        uint32_t left = rep.nsamples;
        while (left) {
            uint32_t k = left < 4096 ? left : 4096;
            if (s_read_all (outs[i], chunk, k * sizeof *chunk))
                break;
            for (uint32_t j = 0; j < k; j++)
                bu_samples_add (&res->lat, chunk[j]);
            left -= k;
        }
        close (outs[i]);
    }
    for (int i = 0; i < par; i++)
        while (waitpid (pids[i], NULL, 0) < 0 && errno == EINTR)
            ;
    res->seconds = (double) longest / 1e9;
    res->rate = res->seconds > 0 ? (double) res->count / res->seconds : 0;
    if (failed && res->first_error[0])
        fprintf (stderr, "bench: %s\n", res->first_error);
    return failed ? -1 : 0;
}

/*  JSON string body: the few characters that need escaping.               */
static void
s_json_str (FILE *f, const char *s)
{
    fputc ('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;
        if (c == '"' || c == '\\')
            fprintf (f, "\\%c", c);
        else if (c < 0x20)
            fprintf (f, "\\u%04x", c);
        else
            fputc (c, f);
    }
    fputc ('"', f);
}

void
bu_print_result (bu_result_t *res, int par, const char *extra)
{
    double us = res->count ? res->seconds * 1e6 * par / (double) res->count : 0;
    printf ("{\"rate\":%.3f,\"us\":%.3f,\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f,"
            "\"mean\":%.3f,\"max\":%.3f,\"count\":%llu,\"errors\":%llu,\"seconds\":%.4f,"
            "\"par\":%d,\"first_error\":",
            res->rate, us, bu_pct (&res->lat, 50), bu_pct (&res->lat, 95),
            bu_pct (&res->lat, 99), bu_mean (&res->lat), bu_pct (&res->lat, 100),
            (unsigned long long) res->count, (unsigned long long) res->errors, res->seconds,
            par);
    s_json_str (stdout, res->first_error);
    printf ("%s}\n", extra ? extra : "");
    fflush (stdout);
}

double
bu_arg_num (const char *name, const char *value)
{
    char *end = NULL;
    double v = value ? strtod (value, &end) : NAN;
    if (!value || !end || *end || !(v > 0) || !isfinite (v)) {
        fprintf (stderr, "bench: %s must be a positive number, not '%s'\n", name,
                 value ? value : "(missing)");
        exit (2);
    }
    return v;
}
