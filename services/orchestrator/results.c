/*  results.c - hello, heartbeat, started, output, result, bye.            */
#include "results.h"
#include "control.h"
#include "dispatch.h"
#include "leases.h"
#include "live.h"
#include "log.h"
#include "loglimit.h"
#include "monitor.h"
#include "orch_config.h"
#include "recovery.h"
#include "stats.h"
#include "store.h"
#include "waiters.h"
#include "workers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define QUOTED 300                      /* room for a quoted outside value */
#define DROP_LINES 20                   /* "frame_dropped" lines a second */

/*  Frames dropped as garbage or forgeries: all counted in /metrics, a
    sample in the log (one loop thread: static state is fine).            */
static orch_loglimit_t s_drop_log;

static void
s_hello (orch_t *orch, const proto_hello_t *h)
{
    char worker[QUOTED];
    log_quote (worker, sizeof worker, h->worker, strlen (h->worker));
    int rc = orch_workers_hello (orch->workers, h, orch_now_ms (), orch_mono_ms ());
    if (rc < 0)
        orch_stats_dropped (orch->stats, ORCH_DROP_WORKER_TABLE_FULL);
    if (rc < 0)
        log_event (CLOG_WARN, "worker_refused", "worker=%s reason=\"worker table full\"", worker);
    else
        log_event (CLOG_INFO, rc ? "worker_joined" : "worker_hello", "worker=%s slots=%u",
                   worker, h->slots);
    if (rc == 1)
        orch_monitor_worker (orch, h->worker, true, h->slots, NULL);
}

static void
s_heartbeat (orch_t *orch, const proto_heartbeat_t *hb)
{
    int64_t mono = orch_mono_ms ();
    if (!orch_workers_heartbeat_allowed (orch->workers, hb->worker, mono)) {
        orch_stats_dropped (orch->stats, ORCH_DROP_HEARTBEAT_FLOOD);
        return;
    }
    int rc = orch_workers_heartbeat (orch->workers, hb, orch_now_ms (), mono);
    char worker[QUOTED];
    if (rc != 0) {
        log_quote (worker, sizeof worker, hb->worker, strlen (hb->worker));
        if (rc < 0) {
            orch_stats_dropped (orch->stats, ORCH_DROP_WORKER_TABLE_FULL);
            log_event (CLOG_WARN, "worker_refused", "worker=%s reason=\"worker table full\"",
                       worker);
            return;
        }
        log_event (CLOG_INFO, "worker_joined", "worker=%s slots=%u via=heartbeat", worker,
                   hb->free + (unsigned) hb->running_count);
        orch_monitor_worker (orch, hb->worker, true, hb->free + (uint32_t) hb->running_count,
                             NULL);
    }
    orch_recovery_heartbeat (orch, hb, mono);
}

static void
s_bye (orch_t *orch, const proto_bye_t *bye)
{
    char worker[QUOTED], reason[400];
    log_quote (worker, sizeof worker, bye->worker, strlen (bye->worker));
    bool known = orch_workers_forget (orch->workers, bye->worker);
    log_event (CLOG_INFO, "worker_left", "worker=%s known=%s", worker, known ? "yes" : "no");
    if (known)
        orch_monitor_worker (orch, bye->worker, false, 0, "bye");
    snprintf (reason, sizeof reason, "worker %.256s left before it finished", bye->worker);
    orch_recovery_worker_gone (orch, bye->worker, reason, false);
}

/*  Why a frame for (id, attempt) was not applied, for the log; counted
    in /metrics as a dropped frame when it is one of ours.                 */
static const char *
s_why_ignored (orch_t *orch, const char *id, uint32_t attempt)
{
    proto_status_t status;
    uint32_t current;
    int found = orch_store_state (orch->store, id, &status, &current);
    if (found < 0)
        return "database_error";
    if (found == 0) {
        orch_stats_dropped (orch->stats, ORCH_DROP_UNKNOWN_TASK);
        return "unknown_task";
    }
    if (proto_status_is_terminal (status)) {
        orch_stats_dropped (orch->stats, ORCH_DROP_ALREADY_TERMINAL);
        return "already_terminal";
    }
    if (current != attempt) {
        orch_stats_dropped (orch->stats, ORCH_DROP_STALE_ATTEMPT);
        return "stale_attempt";
    }
    return proto_status_name (status);
}

/*  The attempt runs on another worker than the one this frame names: a
    confused or forged frame, which must not end or claim that run.       */
static bool
s_wrong_worker (orch_t *orch, const char *frame, const char *id, uint32_t attempt,
                const char *worker)
{
    const orch_lease_t *lease = orch_leases_get (orch->leases, id);
    if (!lease || !lease->running || lease->attempt != attempt
        || strcmp (lease->worker, worker) == 0)
        return false;
    orch_stats_dropped (orch->stats, ORCH_DROP_WRONG_WORKER);
    char quoted[QUOTED];
    unsigned long long suppressed;
    if (orch_loglimit_ok (&s_drop_log, DROP_LINES, orch_mono_ms (), &suppressed))
        log_event (CLOG_WARN, "frame_dropped", "socket=results type=%s id=%s attempt=%u"
                   " worker=%s reason=wrong_worker suppressed=%llu", frame, id, attempt,
                   log_quote (quoted, sizeof quoted, worker, strlen (worker)), suppressed);
    return true;
}

static void
s_started (orch_t *orch, const proto_started_t *s)
{
    int64_t now = orch_now_ms (), mono = orch_mono_ms ();
    if (s_wrong_worker (orch, "started", s->id, s->attempt, s->worker))
        return;
    orch_workers_started (orch->workers, s->worker, s->id, now, mono);
    char worker[QUOTED];
    log_quote (worker, sizeof worker, s->worker, strlen (s->worker));
    orch_lease_t *lease = orch_leases_get (orch->leases, s->id);
    if (lease && lease->running && lease->attempt == s->attempt
        && strcmp (lease->worker, s->worker) == 0)
        return;                         /* a heartbeat told us first */
    bool was_queued = lease == NULL;
    int rc = orch_store_set_started (orch->store, s->id, s->attempt, s->worker, now);
    if (rc == 1) {
        if (was_queued)                 /* given back too early: it runs */
            orch_dispatch_forget (orch->dispatch, s->id);
        orch_leases_running (orch->leases, s->id, s->attempt, s->worker, mono);
        log_event (CLOG_INFO, "task_started", "id=%s attempt=%u worker=%s", s->id, s->attempt,
                   worker);
    }
    else if (rc == 0) {
        /*  Cancelled, finished, or superseded: that run is not wanted.    */
        const char *why = s_why_ignored (orch, s->id, s->attempt);
        log_event (CLOG_INFO, "started_ignored", "id=%s attempt=%u worker=%s reason=%s", s->id,
                   s->attempt, worker, why);
        orch_recovery_unwanted (orch, s->id, s->attempt, s->worker, why);
    }
}

/*  Live output: kept only from the worker that runs that very attempt, so
    a stale or forged frame cannot write into another run's output.       */
static void
s_output (orch_t *orch, const proto_output_t *out)
{
    const orch_lease_t *lease = orch_leases_get (orch->leases, out->id);
    const char *why = NULL;
    if (!lease || !lease->running || lease->attempt != out->attempt) {
        why = "not running that attempt";
        orch_stats_dropped (orch->stats, ORCH_DROP_NOT_RUNNING);
    }
    else if (orch_live_output (orch->live, out, &why) == 1)
        return;
    log_event (CLOG_DEBUG, "output_dropped", "id=%s attempt=%u stream=%s seq=%llu reason=\"%s\"",
               out->id, out->attempt, proto_stream_name (out->stream),
               (unsigned long long) out->seq, why);
}

static proto_bytes_t
s_capped (proto_bytes_t b, size_t cap, bool *truncated)
{
    if (b.size > cap) {
        b.size = cap;
        *truncated = true;
    }
    return b;
}

static int
s_result (orch_t *orch, const proto_result_t *in, char *finished)
{
    int64_t now = orch_now_ms ();
    if (s_wrong_worker (orch, "result", in->id, in->attempt, in->worker))
        return 0;                       /* no ack: the real run goes on */
    char worker[QUOTED];
    log_quote (worker, sizeof worker, in->worker, strlen (in->worker));
    /*  What is kept: the worker caps its output; this caps what any
        worker can make us store (ORCH_MAX_OUTPUT_STORED).                  */
    proto_result_t r = *in;
    size_t cap = (size_t) orch->cfg->max_output_stored;
    r.stdout_data = s_capped (r.stdout_data, cap, &r.stdout_truncated);
    r.stderr_data = s_capped (r.stderr_data, cap, &r.stderr_truncated);
    const orch_lease_t *lease = orch_leases_get (orch->leases, r.id);
    bool had_lease = lease != NULL;
    /*  A stale run ending on the worker that runs the current attempt of
        the same task must not free that attempt's slot.                    */
    bool other_run_here = lease && lease->running && lease->attempt != r.attempt
                       && strcmp (lease->worker, r.worker) == 0;
    int rc = orch_store_set_result (orch->store, &r, now);
    /*  Whatever happened to the record, the worker's slot is free again.   */
    if (!other_run_here)
        orch_workers_finished (orch->workers, r.worker, r.id, rc == 1, now, orch_mono_ms ());
    /*  Recorded or refused for good: either way the worker may forget it
        (after the commit). A database error: no ack, it comes again.      */
    if (rc >= 0)
        orch_control_ack (orch->control, r.id, r.attempt);
    if (rc == 1) {
        if (!had_lease)
            orch_dispatch_forget (orch->dispatch, r.id);
        orch_leases_remove (orch->leases, r.id);
        orch_batch_finished (orch, r.id);
        char exit_text[24] = "null";
        if (r.has_exit_code)
            snprintf (exit_text, sizeof exit_text, "%lld", (long long) r.exit_code);
        log_event (CLOG_INFO, "task_finished", "id=%s attempt=%u status=%s exit=%s wall_ms=%llu"
                   " worker=%s", r.id, r.attempt, proto_status_name (r.status), exit_text,
                   (unsigned long long) r.wall_ms, worker);
        snprintf (finished, PROTO_ID_MAX + 1, "%s", r.id);
        return 1;
    }
    if (rc == 0)
        log_event (CLOG_INFO, "result_ignored", "id=%s attempt=%u worker=%s reason=%s", r.id,
                   r.attempt, worker, s_why_ignored (orch, r.id, r.attempt));
    return 0;
}

int
orch_results_handle (orch_t *orch, const void *data, size_t size, char *finished)
{
    proto_error_t perr;
    proto_msg_t *msg = proto_decode (PROTO_CH_RESULTS, data, size,
                                     (size_t) orch->cfg->max_frame, &perr);
    if (!msg) {
        orch_stats_dropped (orch->stats, ORCH_DROP_UNDECODABLE);
        unsigned long long suppressed;
        if (!orch_loglimit_ok (&s_drop_log, DROP_LINES, orch_mono_ms (), &suppressed))
            return 0;
        char reason[sizeof perr.field + sizeof perr.message + 4];
        char quoted[2 * sizeof reason];
        snprintf (reason, sizeof reason, "%s%s%s", perr.field, perr.field[0] ? ": " : "",
                  perr.message);
        log_event (CLOG_WARN, "frame_dropped", "socket=results size=%zu id=%s reason=%s"
                   " suppressed=%llu", size, perr.id[0] ? perr.id : "-",
                   log_quote (quoted, sizeof quoted, reason, strlen (reason)), suppressed);
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
        case PROTO_BYE:
            s_bye (orch, &msg->u.bye);
            break;
        case PROTO_OUTPUT:
            s_output (orch, &msg->u.output);
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
    char finished[PROTO_ID_MAX + 1];
    size_t taken = 0;
    orch_batch_begin (orch);
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
            orch_stats_dropped (orch->stats, ORCH_DROP_MULTIPART);
            unsigned long long suppressed;
            if (orch_loglimit_ok (&s_drop_log, DROP_LINES, orch_mono_ms (), &suppressed))
                log_event (CLOG_WARN, "frame_dropped", "socket=results reason=\"multipart"
                           " message\" suppressed=%llu", suppressed);
            while (zmq_msg_more (&frame)) {
                zmq_msg_close (&frame);
                zmq_msg_init (&frame);
                if (zmq_msg_recv (&frame, orch->results, ZMQ_DONTWAIT) < 0)
                    break;
            }
            zmq_msg_close (&frame);
            continue;
        }
        orch_results_handle (orch, zmq_msg_data (&frame), zmq_msg_size (&frame), finished);
        zmq_msg_close (&frame);
    }
    /*  Waiters are woken and results acknowledged only once the batch is
        on disk; when the commit fails, the workers send them again.       */
    if (orch_batch_commit (orch))
        log_event (CLOG_ERROR, "commit_failed", "frames=%zu", taken);
    return taken;
}
