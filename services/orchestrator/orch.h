/*  orch.h - the orchestrator's shared context and small common helpers.

    One process, one thread, one event loop (loop.c). Every subsystem keeps
    its own state in its own class; orch_t only ties them together so that a
    request handler (HTTP or submit socket) can reach the store, the queue
    and the waiters without globals. Nothing here is locked: only the loop
    thread ever touches it.
*/
#ifndef ORCH_H_INCLUDED
#define ORCH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

typedef struct orch_config_t orch_config_t;
typedef struct orch_store_t orch_store_t;
typedef struct orch_workers_t orch_workers_t;
typedef struct orch_dispatch_t orch_dispatch_t;
typedef struct orch_waiters_t orch_waiters_t;
typedef struct orch_http_t orch_http_t;
typedef struct orch_submit_t orch_submit_t;
typedef struct orch_leases_t orch_leases_t;
typedef struct orch_control_t orch_control_t;
typedef struct orch_events_t orch_events_t;
typedef struct orch_monitor_t orch_monitor_t;
typedef struct orch_stats_t orch_stats_t;
typedef struct orch_sessions_t orch_sessions_t;
typedef struct orch_live_t orch_live_t;
typedef struct orch_curve_t orch_curve_t;

#define ORCH_TOKEN_MAX 256              /* longest API token accepted */

typedef struct {
    const orch_config_t *cfg;           /* settings, read-only after start */
    char token[ORCH_TOKEN_MAX + 1];     /* the API token */
    size_t token_len;                   /* its length */
    void *zctx;                         /* ZeroMQ context */
    void *tasks;                        /* PUSH, bound: task frames out */
    void *results;                      /* PULL, bound: worker frames in */
    orch_control_t *control;            /* PUB, bound: ack / cancel */
    orch_curve_t *curve;                /* CURVE keys and ZAP, or NULL (off) */
    orch_store_t *store;                /* SQLite state */
    orch_workers_t *workers;            /* worker table and credit */
    orch_dispatch_t *dispatch;          /* queue of tasks to send */
    orch_leases_t *leases;              /* tasks in flight (recovery.c) */
    orch_waiters_t *waiters;            /* requests waiting for a task */
    orch_http_t *http;                  /* REST API (libmicrohttpd) */
    orch_submit_t *submit;              /* ROUTER for the CLI */
    orch_events_t *events;              /* recent changes, for SSE */
    orch_stats_t *stats;                /* charts and /metrics */
    orch_sessions_t *sessions;          /* dashboard logins */
    orch_live_t *live;                  /* output of running tasks */
    orch_monitor_t *monitor;            /* change listener's task cache */
    bool stopping;                      /* shutdown begun: no new work */
    char stop_summary[256];             /* what the shutdown did, for the log */
} orch_t;

/*  An error for a client: HTTP status, machine code, offending field.
    message always starts with the field's name when there is one.          */
typedef struct {
    int status;                         /* HTTP status, e.g. 400 */
    char code[32];                      /* "bad_request", "not_found", ... */
    char field[PROTO_PATH_MAX + 64];    /* dotted field or "" */
    char message[PROTO_PATH_MAX + 256]; /* for people */
} orch_err_t;

/*  Fill err; returns -1 so callers can write `return orch_err (...)`.
    field may be NULL. The message is "FIELD: fmt..." when field is given.  */
int orch_err (orch_err_t *err, int status, const char *code, const char *field,
              const char *fmt, ...) __attribute__ ((format (printf, 5, 6)));

/*  A batch of state changes: begin, change, commit. Only after the
    outermost commit succeeds are the waiters of tasks that finished in it
    woken, the results handled in it acknowledged to the workers, the tasks
    submitted in it answered and the tasks dispatched in it sent; when it
    fails, none of that happens (the workers send those results again, the
    submitters get an error, the dispatched go back to the queue). Batches
    nest (the store counts them). 0 or -1.                                  */
int orch_batch_begin (orch_t *orch);
int orch_batch_commit (orch_t *orch);
/*  Task id reached a terminal status in the current batch.                 */
void orch_batch_finished (orch_t *orch, const char *id);

/*  Clocks: Unix milliseconds for records, monotonic for deadlines.         */
int64_t orch_now_ms (void);
int64_t orch_mono_ms (void);

/*  A new task id: 12 hex digits of Unix ms, '-', 8 random hex digits
    (time-sortable, valid per proto_valid_id). out has >= 22 bytes.         */
void orch_new_task_id (char *out, size_t size);

/*  Fill buf with random bytes (getrandom); aborts if the kernel cannot.    */
void orch_random (void *buf, size_t size);

#endif
