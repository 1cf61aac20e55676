/*  bench_util.h - what every bench program shares: a clock, latency
    samples with percentiles, a timed loop run in P processes at once, and
    one JSON object per run on stdout.

    A bench program measures ONE run and prints it as one JSON line; the
    driver (bench/bench.py) repeats runs and reports median, min and max.

    The timed loop (bu_measure) forks P measuring processes (P = 1 for
    "one at a time", P = cores for "one per core"). Each calls setup once,
    runs a few untimed warm-up iterations, waits at a common start line,
    then calls one () until the time is up and sends its count and its
    per-iteration latencies back through a pipe. Forking keeps every
    measuring process small and single-threaded, which is what spawn
    figures need (fork () cost grows with the parent's memory).
*/
#ifndef BENCH_UTIL_H_INCLUDED
#define BENCH_UTIL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*  CLOCK_MONOTONIC in nanoseconds.                                         */
int64_t bu_now_ns (void);

/*  A growable array of latencies in microseconds.                          */
typedef struct {
    double *v;                          /* samples, unsorted until bu_pct */
    size_t n;                           /* used */
    size_t cap;                         /* allocated */
    bool sorted;                        /* v is sorted */
} bu_samples_t;

void bu_samples_add (bu_samples_t *s, double us);
void bu_samples_free (bu_samples_t *s);
/*  Percentile p (0..100) by nearest rank; 0 when empty.                   */
double bu_pct (bu_samples_t *s, double p);
double bu_mean (const bu_samples_t *s);

/*  One timed loop (see above).                                             */
typedef struct {
    int (*setup) (void *arg);           /* once per process; 0 or -1 (may be NULL) */
    int (*one) (void *arg);             /* one iteration; 0 or -1 (counted as error) */
    void *arg;                          /* passed to both */
    int warmup;                         /* untimed iterations per process */
} bu_job_t;

typedef struct {
    uint64_t count;                     /* iterations that succeeded */
    uint64_t errors;                    /* iterations that returned -1 */
    double seconds;                     /* longest process's measuring time */
    double rate;                        /* count / seconds, all processes */
    bu_samples_t lat;                   /* every successful iteration, µs */
    char first_error[256];              /* what the first failure said */
} bu_result_t;

/*  Run job in par processes for seconds. 0, or -1 when a process could
    not be set up (its message on stderr).                                  */
int bu_measure (const bu_job_t *job, int par, double seconds, bu_result_t *res);

/*  Inside one (): say why the iteration failed (first message kept).      */
void bu_fail (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
/*  The first message since the last reset ("" when none); thread-safe
    for bu_fail, not for the reset.                                         */
const char *bu_first_error (void);
void bu_fail_reset (void);

/*  {"rate":..,"us":..,"p50":..,"p95":..,"p99":..,"mean":..,"count":..,
    "errors":..,"seconds":..} + extra (a JSON fragment starting with ',',
    or NULL) + "}\n" on stdout. "us" is wall time per iteration per process
    (seconds * par / count, i.e. 1e6 / rate * par).                         */
void bu_print_result (bu_result_t *res, int par, const char *extra);

/*  A positive number from argv, or exit (2) naming it.                    */
double bu_arg_num (const char *name, const char *value);

#endif
