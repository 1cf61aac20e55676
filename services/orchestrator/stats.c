/*  stats.c - minute buckets, latency samples, histograms, HTTP counters,
    rejections and dropped frames.                                          */
#include "stats.h"
#include "strbuf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LATENCY_KEEP 65536              /* samples for the percentiles */
#define HTTP_CODES 600

/*  Upper bounds in ms; the last bucket is +Inf.                            */
static const int64_t s_bounds_ms[] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000,
};
#define BOUNDS (sizeof s_bounds_ms / sizeof s_bounds_ms[0])

/*  Label values, in orch_reject_t order.                                   */
static const char *const s_rejects[ORCH_REJECT_COUNT_] = {
    "too_large", "uri_too_long", "headers_too_large", "malformed", "invalid_json",
    "invalid_utf8", "json_too_deep", "method_not_allowed", "unauthorized", "csrf", "bad_id",
    "bad_path", "header_timeout", "connection_limit", "per_ip_limit",
};

/*  Socket and reason labels, in orch_drop_t order.                         */
static const struct {
    const char *socket;
    const char *reason;
} s_drops[ORCH_DROP_COUNT_] = {
    { "results", "undecodable" },
    { "results", "multipart" },
    { "results", "unknown_task" },
    { "results", "wrong_worker" },
    { "results", "stale_attempt" },
    { "results", "already_terminal" },
    { "results", "not_running" },
    { "results", "heartbeat_flood" },
    { "results", "worker_table_full" },
    { "submit", "undecodable" },
    { "submit", "bad_envelope" },
    { "submit", "unauthorized" },
};

typedef struct {
    int64_t start_ms;                   /* minute this bucket counts */
    uint64_t accepted;
    uint64_t finished;
    uint64_t queue_depth;               /* largest seen */
} bucket_t;

typedef struct {
    uint64_t counts[BOUNDS + 1];        /* per bucket, not cumulative */
    uint64_t count;
    double sum_s;
} hist_t;

typedef struct {
    int64_t at_ms;                      /* when it finished */
    int64_t ms;                         /* accept -> finish */
} sample_t;

struct orch_stats_t {
    bucket_t buckets[ORCH_STATS_BUCKETS];
    hist_t hist[ORCH_HIST_COUNT_];
    sample_t *samples;                  /* ring of LATENCY_KEEP */
    uint64_t sample_count;              /* ever added */
    uint64_t http[HTTP_CODES];
    uint64_t rejected[ORCH_REJECT_COUNT_];
    uint64_t dropped[ORCH_DROP_COUNT_];
};

orch_stats_t *
orch_stats_new (void)
{
    orch_stats_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->samples = calloc (LATENCY_KEEP, sizeof *self->samples);
    if (!self->samples) {
        free (self);
        return NULL;
    }
    return self;
}

void
orch_stats_destroy (orch_stats_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->samples);
    free (*self_p);
    *self_p = NULL;
}

/*  The bucket of now's minute, emptied when it last counted an older one. */
static bucket_t *
s_bucket (orch_stats_t *self, int64_t now_ms)
{
    int64_t minute = now_ms / ORCH_STATS_BUCKET_MS;
    bucket_t *b = &self->buckets[minute % ORCH_STATS_BUCKETS];
    if (b->start_ms != minute * ORCH_STATS_BUCKET_MS) {
        memset (b, 0, sizeof *b);
        b->start_ms = minute * ORCH_STATS_BUCKET_MS;
    }
    return b;
}

void
orch_stats_accepted (orch_stats_t *self, int64_t now_ms)
{
    s_bucket (self, now_ms)->accepted++;
}

void
orch_stats_finished (orch_stats_t *self, int64_t now_ms)
{
    s_bucket (self, now_ms)->finished++;
}

void
orch_stats_queue_depth (orch_stats_t *self, int64_t now_ms, uint64_t depth)
{
    bucket_t *b = s_bucket (self, now_ms);
    if (depth > b->queue_depth)
        b->queue_depth = depth;
}

void
orch_stats_latency (orch_stats_t *self, orch_hist_t which, int64_t now_ms, int64_t ms)
{
    if (ms < 0)
        ms = 0;                         /* a clock step backwards */
    hist_t *h = &self->hist[which];
    size_t i = 0;
    while (i < BOUNDS && ms > s_bounds_ms[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum_s += (double) ms / 1000.0;
    if (which == ORCH_HIST_TOTAL) {
        sample_t *s = &self->samples[self->sample_count++ % LATENCY_KEEP];
        s->at_ms = now_ms;
        s->ms = ms;
    }
}

void
orch_stats_http (orch_stats_t *self, unsigned status)
{
    if (self && status < HTTP_CODES)
        self->http[status]++;
}

void
orch_stats_rejected (orch_stats_t *self, orch_reject_t why)
{
    if (self && why < ORCH_REJECT_COUNT_)
        self->rejected[why]++;
}

void
orch_stats_dropped (orch_stats_t *self, orch_drop_t why)
{
    if (self && why < ORCH_DROP_COUNT_)
        self->dropped[why]++;
}

uint64_t
orch_stats_rejected_count (const orch_stats_t *self, orch_reject_t why)
{
    return self && why < ORCH_REJECT_COUNT_ ? self->rejected[why] : 0;
}

uint64_t
orch_stats_dropped_count (const orch_stats_t *self, orch_drop_t why)
{
    return self && why < ORCH_DROP_COUNT_ ? self->dropped[why] : 0;
}

static int
s_cmp_ms (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

/*  Percentiles of the samples that finished within the last hour.         */
static json_t *
s_latency_json (orch_stats_t *self, int64_t now_ms)
{
    size_t have = self->sample_count < LATENCY_KEEP ? (size_t) self->sample_count
                                                    : LATENCY_KEEP;
    int64_t *ms = malloc ((have ? have : 1) * sizeof *ms);
    size_t n = 0;
    int64_t since = now_ms - (int64_t) ORCH_STATS_BUCKETS * ORCH_STATS_BUCKET_MS;
    for (size_t i = 0; ms && i < have; i++)
        if (self->samples[i].at_ms >= since)
            ms[n++] = self->samples[i].ms;
    json_t *obj = json_object ();
    json_object_set_new (obj, "count", json_integer ((json_int_t) n));
    if (n)
        qsort (ms, n, sizeof *ms, s_cmp_ms);
    static const struct { const char *name; double q; } pct[] = {
        { "p50", 0.50 }, { "p90", 0.90 }, { "p99", 0.99 }, { "max", 1.0 },
    };
    for (size_t i = 0; i < sizeof pct / sizeof pct[0]; i++) {
        /*  Nearest rank: the smallest sample with at least q of them at or
            below it.                                                       */
        size_t rank = (size_t) (pct[i].q * (double) n + 0.999999);
        json_object_set_new (obj, pct[i].name,
                             n ? json_integer (ms[rank ? rank - 1 : 0]) : json_null ());
    }
    free (ms);
    return obj;
}

void
orch_stats_to_json (orch_stats_t *self, int64_t now_ms, json_t *obj)
{
    json_t *buckets = json_array ();
    int64_t minute = now_ms / ORCH_STATS_BUCKET_MS;
    for (int64_t m = minute - ORCH_STATS_BUCKETS + 1; m <= minute; m++) {
        const bucket_t *b = &self->buckets[m % ORCH_STATS_BUCKETS];
        bool live = b->start_ms == m * ORCH_STATS_BUCKET_MS;
        json_t *item = json_object ();
        json_object_set_new (item, "start_ms", json_integer (m * ORCH_STATS_BUCKET_MS));
        json_object_set_new (item, "accepted", json_integer (live ? (json_int_t) b->accepted : 0));
        json_object_set_new (item, "finished", json_integer (live ? (json_int_t) b->finished : 0));
        json_object_set_new (item, "queue_depth",
                             json_integer (live ? (json_int_t) b->queue_depth : 0));
        json_array_append_new (buckets, item);
    }
    json_object_set_new (obj, "bucket_ms", json_integer (ORCH_STATS_BUCKET_MS));
    json_object_set_new (obj, "buckets", buckets);
    json_object_set_new (obj, "latency_ms", s_latency_json (self, now_ms));
}

/* --- Prometheus text ----------------------------------------------------- */

static void
s_hist_text (strbuf_t *t, const hist_t *h, const char *name, const char *help)
{
    strbuf_printf (t, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < BOUNDS; i++) {
        cumulative += h->counts[i];
        strbuf_printf (t, "%s_bucket{le=\"%g\"} %llu\n", name, (double) s_bounds_ms[i] / 1000.0,
                  (unsigned long long) cumulative);
    }
    strbuf_printf (t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
              (unsigned long long) h->count, name, h->sum_s, name,
              (unsigned long long) h->count);
}

char *
orch_stats_prometheus (const orch_stats_t *self)
{
    strbuf_t t = { 0 };
    s_hist_text (&t, &self->hist[ORCH_HIST_DISPATCH], "cleudo_task_dispatch_seconds",
                 "Time from accepting a task to sending it to a worker.");
    s_hist_text (&t, &self->hist[ORCH_HIST_RUN], "cleudo_task_run_seconds",
                 "Time from a task's start on a worker to its result.");
    s_hist_text (&t, &self->hist[ORCH_HIST_TOTAL], "cleudo_task_total_seconds",
                 "Time from accepting a task to its result.");
    strbuf_printf (&t, "# HELP cleudo_http_requests_total HTTP responses by status code.\n"
                  "# TYPE cleudo_http_requests_total counter\n");
    for (unsigned code = 100; code < HTTP_CODES; code++)
        if (self->http[code])
            strbuf_printf (&t, "cleudo_http_requests_total{code=\"%u\"} %llu\n", code,
                      (unsigned long long) self->http[code]);
    /*  Every label pair is printed, zeros too: a rate() over a series
        that appears only at the first attack misses that attack.          */
    strbuf_printf (&t, "# HELP cleudo_http_rejected_total HTTP requests and connections turned"
                   " away, by reason.\n# TYPE cleudo_http_rejected_total counter\n");
    for (int i = 0; i < ORCH_REJECT_COUNT_; i++)
        strbuf_printf (&t, "cleudo_http_rejected_total{reason=\"%s\"} %llu\n", s_rejects[i],
                       (unsigned long long) self->rejected[i]);
    strbuf_printf (&t, "# HELP cleudo_frames_dropped_total ZeroMQ frames dropped, by socket and"
                   " reason.\n# TYPE cleudo_frames_dropped_total counter\n");
    for (int i = 0; i < ORCH_DROP_COUNT_; i++)
        strbuf_printf (&t, "cleudo_frames_dropped_total{socket=\"%s\",reason=\"%s\"} %llu\n",
                       s_drops[i].socket, s_drops[i].reason,
                       (unsigned long long) self->dropped[i]);
    return strbuf_take (&t, NULL);
}
