/*  results.c - hello, heartbeat, started, output, result.                 */
#include "results.h"
#include "dispatch.h"
#include "log.h"
#include "orch_config.h"
#include "store.h"
#include "waiters.h"
#include "workers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define QUOTED 300                      /* room for a quoted outside value */

static void
s_hello (orch_t *orch, const proto_hello_t *h)
{
    char worker[QUOTED];
    log_quote (worker, sizeof worker, h->worker, strlen (h->worker));
    int rc = orch_workers_hello (orch->workers, h, orch_now_ms (), orch_mono_ms ());
    if (rc < 0)
        log_event (CLOG_WARN, "worker_refused", "worker=%s reason=\"worker table full\"", worker);
    else
        log_event (CLOG_INFO, rc ? "worker_joined" : "worker_hello", "worker=%s slots=%u",
                   worker, h->slots);
}

static void
s_heartbeat (orch_t *orch, const proto_heartbeat_t *hb)
{
    int rc = orch_workers_heartbeat (orch->workers, hb, orch_now_ms (), orch_mono_ms ());
    char worker[QUOTED];
    if (rc == 0)
        return;
    log_quote (worker, sizeof worker, hb->worker, strlen (hb->worker));
    if (rc < 0)
        log_event (CLOG_WARN, "worker_refused", "worker=%s reason=\"worker table full\"", worker);
    else
        log_event (CLOG_INFO, "worker_joined", "worker=%s slots=%u via=heartbeat", worker,
                   hb->free + (unsigned) hb->running_count);
}

/*  Why a frame for (id, attempt) was not applied, for the log.             */
static const char *
s_why_ignored (orch_t *orch, const char *id, uint32_t attempt)
{
    proto_status_t status;
    uint32_t current;
    int found = orch_store_state (orch->store, id, &status, &current);
    if (found < 0)
        return "database_error";
    if (found == 0)
        return "unknown_task";
    if (current != attempt)
        return "stale_attempt";
    if (proto_status_is_terminal (status))
        return "already_terminal";
    return proto_status_name (status);
}

static void
s_started (orch_t *orch, const proto_started_t *s)
{
    int64_t now = orch_now_ms ();
    orch_workers_started (orch->workers, s->worker, s->id, now, orch_mono_ms ());
    char worker[QUOTED];
    log_quote (worker, sizeof worker, s->worker, strlen (s->worker));
    int rc = orch_store_set_started (orch->store, s->id, s->attempt, s->worker, now);
    if (rc == 1) {
        orch_dispatch_settled (orch->dispatch, s->id);
        log_event (CLOG_INFO, "task_started", "id=%s attempt=%u worker=%s", s->id, s->attempt,
                   worker);
    }
    else if (rc == 0)
        log_event (CLOG_INFO, "started_ignored", "id=%s attempt=%u worker=%s reason=%s", s->id,
                   s->attempt, worker, s_why_ignored (orch, s->id, s->attempt));
}

static int
s_result (orch_t *orch, const proto_result_t *r, char *finished)
{
    int64_t now = orch_now_ms ();
    char worker[QUOTED];
    log_quote (worker, sizeof worker, r->worker, strlen (r->worker));
    int rc = orch_store_set_result (orch->store, r, now);
    /*  Whatever happened to the record, the worker's slot is free again.   */
    orch_workers_finished (orch->workers, r->worker, r->id, rc == 1, now, orch_mono_ms ());
    if (rc == 1) {
        orch_dispatch_settled (orch->dispatch, r->id);
        char exit_text[24] = "null";
        if (r->has_exit_code)
            snprintf (exit_text, sizeof exit_text, "%lld", (long long) r->exit_code);
        log_event (CLOG_INFO, "task_finished", "id=%s attempt=%u status=%s exit=%s wall_ms=%llu"
                   " worker=%s", r->id, r->attempt, proto_status_name (r->status), exit_text,
                   (unsigned long long) r->wall_ms, worker);
        snprintf (finished, PROTO_ID_MAX + 1, "%s", r->id);
        return 1;
    }
    if (rc == 0)
        log_event (CLOG_WARN, "result_ignored", "id=%s attempt=%u worker=%s reason=%s", r->id,
                   r->attempt, worker, s_why_ignored (orch, r->id, r->attempt));
    return 0;
}

int
orch_results_handle (orch_t *orch, const void *data, size_t size, char *finished)
{
    proto_error_t perr;
    proto_msg_t *msg = proto_decode (PROTO_CH_RESULTS, data, size,
                                     (size_t) orch->cfg->max_frame, &perr);
    if (!msg) {
        char reason[sizeof perr.field + sizeof perr.message + 4];
        char quoted[2 * sizeof reason];
        snprintf (reason, sizeof reason, "%s%s%s", perr.field, perr.field[0] ? ": " : "",
                  perr.message);
        log_event (CLOG_WARN, "frame_dropped", "socket=results size=%zu id=%s reason=%s", size,
                   perr.id[0] ? perr.id : "-",
                   log_quote (quoted, sizeof quoted, reason, strlen (reason)));
        return 0;
    }
    int done = 0;
    switch (msg->type) {
        case PROTO_HELLO:
            s_hello (orch, &msg->u.hello);
            break;
        case PROTO_HEARTBEAT:
            s_heartbeat (orch, &msg->u.heartbeat);
            break;
        case PROTO_STARTED:
            s_started (orch, &msg->u.started);
            break;
        case PROTO_RESULT:
            done = s_result (orch, &msg->u.result, finished);
            break;
        case PROTO_OUTPUT:
            /*  Live output relay is a later issue; the result carries all. */
            break;
        default:
            break;
    }
    proto_msg_destroy (&msg);
    return done;
}

size_t
orch_results_drain (orch_t *orch, size_t max)
{
    char (*finished)[PROTO_ID_MAX + 1] = calloc (max ? max : 1, sizeof *finished);
    if (!finished)
        return 0;
    size_t taken = 0, done = 0;
    bool open = orch_store_begin (orch->store) == 0;
    while (taken < max) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, orch->results, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&frame);
            break;
        }
        taken++;
        /*  One message per frame: extra parts are not ours, drop them.     */
        if (zmq_msg_more (&frame)) {
            log_event (CLOG_WARN, "frame_dropped", "socket=results reason=\"multipart message\"");
            while (zmq_msg_more (&frame)) {
                zmq_msg_close (&frame);
                zmq_msg_init (&frame);
                if (zmq_msg_recv (&frame, orch->results, ZMQ_DONTWAIT) < 0)
                    break;
            }
            zmq_msg_close (&frame);
            continue;
        }
        if (orch_results_handle (orch, zmq_msg_data (&frame), zmq_msg_size (&frame),
                                 finished[done]))
            done++;
        zmq_msg_close (&frame);
    }
    if (open && orch_store_commit (orch->store)) {
        /*  Nothing of this batch is durable: the worker re-sends results
            until they are acknowledged (acks are a later issue), so only
            the waiters must not be told.                                   */
        log_event (CLOG_ERROR, "commit_failed", "frames=%zu", taken);
        done = 0;
    }
    for (size_t i = 0; i < done; i++)
        orch_waiters_fire (orch->waiters, finished[i]);
    free (finished);
    return taken;
}
