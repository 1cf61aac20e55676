/*  stats.h - what the dashboard's charts and /metrics show.

    In memory, fixed size, whatever the traffic:
      * the last hour in 60 one-minute buckets: tasks accepted, tasks
        finished, the largest queue depth seen;
      * accept-to-finish latencies of the last LATENCY_KEEP finished tasks
        (percentiles are taken over those that finished within the hour);
      * cumulative Prometheus histograms of dispatch latency (accepted ->
        sent to a worker), run time (started -> finished) and total time;
      * HTTP responses by status code.
    Nothing here survives a restart: the counts per status come from the
    store, which does.
*/
#ifndef ORCH_STATS_H_INCLUDED
#define ORCH_STATS_H_INCLUDED

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define ORCH_STATS_BUCKETS 60
#define ORCH_STATS_BUCKET_MS 60000

typedef struct orch_stats_t orch_stats_t;

/*  A histogram with fixed bounds (seconds), cumulative like Prometheus's.  */
typedef enum {
    ORCH_HIST_DISPATCH,                 /* created -> dispatched */
    ORCH_HIST_RUN,                      /* started -> finished */
    ORCH_HIST_TOTAL,                    /* created -> finished */
    ORCH_HIST_COUNT_
} orch_hist_t;

orch_stats_t *orch_stats_new (void);
void orch_stats_destroy (orch_stats_t **self_p);

void orch_stats_accepted (orch_stats_t *self, int64_t now_ms);
void orch_stats_finished (orch_stats_t *self, int64_t now_ms);
/*  A latency in ms into histogram which (total also feeds percentiles).   */
void orch_stats_latency (orch_stats_t *self, orch_hist_t which, int64_t now_ms, int64_t ms);
void orch_stats_queue_depth (orch_stats_t *self, int64_t now_ms, uint64_t depth);
void orch_stats_http (orch_stats_t *self, unsigned status);

/*  Add "bucket_ms", "buckets" and "latency_ms" to obj (see docs/API.md).  */
void orch_stats_to_json (orch_stats_t *self, int64_t now_ms, json_t *obj);

/*  The histograms and HTTP counters in the Prometheus text format:
    malloc'd text, or NULL when out of memory.                              */
char *orch_stats_prometheus (const orch_stats_t *self);

#endif
