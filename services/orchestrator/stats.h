/*  stats.h - what the dashboard's charts and /metrics show.

    In memory, fixed size, whatever the traffic:
      * the last hour in 60 one-minute buckets: tasks accepted, tasks
        finished, the largest queue depth seen;
      * accept-to-finish latencies of the last LATENCY_KEEP finished tasks
        (percentiles are taken over those that finished within the hour);
      * cumulative Prometheus histograms of dispatch latency (accepted ->
        sent to a worker), run time (started -> finished) and total time;
      * HTTP responses by status code;
      * hostile input turned away: HTTP requests and connections refused
        (by reason), ZeroMQ frames dropped (by socket and reason).
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

/*  Why an HTTP request or connection was turned away.                     */
typedef enum {
    ORCH_REJECT_TOO_LARGE,              /* 413: body over ORCH_MAX_BODY */
    ORCH_REJECT_URI_TOO_LONG,           /* 414 */
    ORCH_REJECT_HEADERS_TOO_LARGE,      /* 431 */
    ORCH_REJECT_MALFORMED,              /* MHD refused the request (400, 505...) */
    ORCH_REJECT_INVALID_JSON,           /* body is not JSON */
    ORCH_REJECT_INVALID_UTF8,           /* body is not UTF-8 */
    ORCH_REJECT_JSON_TOO_DEEP,          /* nesting over ORCH_JSON_DEPTH_MAX */
    ORCH_REJECT_METHOD,                 /* 405 */
    ORCH_REJECT_UNAUTHORIZED,           /* 401: no or wrong token / session */
    ORCH_REJECT_CSRF,                   /* 403 */
    ORCH_REJECT_BAD_ID,                 /* task id that cannot exist */
    ORCH_REJECT_BAD_PATH,               /* file path that is not relative */
    ORCH_REJECT_HEADER_TIMEOUT,         /* headers not complete in time */
    ORCH_REJECT_CONNECTION_LIMIT,       /* ORCH_HTTP_MAX_CONNECTIONS reached */
    ORCH_REJECT_PER_IP_LIMIT,           /* ORCH_HTTP_MAX_PER_IP reached */
    ORCH_REJECT_COUNT_
} orch_reject_t;

/*  Why a ZeroMQ frame was dropped; each reason belongs to one socket
    (see s_drops in stats.c).                                               */
typedef enum {
    ORCH_DROP_UNDECODABLE,              /* results: not a valid message */
    ORCH_DROP_MULTIPART,                /* results: more than one part */
    ORCH_DROP_UNKNOWN_TASK,             /* results: no such task */
    ORCH_DROP_WRONG_WORKER,             /* results: another worker runs it */
    ORCH_DROP_STALE_ATTEMPT,            /* results: not the current attempt */
    ORCH_DROP_ALREADY_TERMINAL,         /* results: the task had finished */
    ORCH_DROP_NOT_RUNNING,              /* results: output of no running attempt */
    ORCH_DROP_HEARTBEAT_FLOOD,          /* results: heartbeats too fast */
    ORCH_DROP_WORKER_TABLE_FULL,        /* results: one worker too many */
    ORCH_DROP_SUBMIT_UNDECODABLE,       /* submit: not a valid request */
    ORCH_DROP_SUBMIT_ENVELOPE,          /* submit: routing frames unusable */
    ORCH_DROP_SUBMIT_UNAUTHORIZED,      /* submit: wrong token */
    ORCH_DROP_COUNT_
} orch_drop_t;

orch_stats_t *orch_stats_new (void);
void orch_stats_destroy (orch_stats_t **self_p);

void orch_stats_accepted (orch_stats_t *self, int64_t now_ms);
void orch_stats_finished (orch_stats_t *self, int64_t now_ms);
/*  A latency in ms into histogram which (total also feeds percentiles).   */
void orch_stats_latency (orch_stats_t *self, orch_hist_t which, int64_t now_ms, int64_t ms);
void orch_stats_queue_depth (orch_stats_t *self, int64_t now_ms, uint64_t depth);
void orch_stats_http (orch_stats_t *self, unsigned status);
/*  Count one rejection / dropped frame (self may be NULL: not counted).   */
void orch_stats_rejected (orch_stats_t *self, orch_reject_t why);
void orch_stats_dropped (orch_stats_t *self, orch_drop_t why);
uint64_t orch_stats_rejected_count (const orch_stats_t *self, orch_reject_t why);
uint64_t orch_stats_dropped_count (const orch_stats_t *self, orch_drop_t why);

/*  Add "bucket_ms", "buckets" and "latency_ms" to obj (see docs/API.md).  */
void orch_stats_to_json (orch_stats_t *self, int64_t now_ms, json_t *obj);

/*  The histograms and counters in the Prometheus text format:
    malloc'd text, or NULL when out of memory.                              */
char *orch_stats_prometheus (const orch_stats_t *self);

#endif
