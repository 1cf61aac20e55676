/*  recovery.c - give back, requeue, lose; reconcile with heartbeats.      */
#include "recovery.h"
#include "control.h"
#include "dispatch.h"
#include "leases.h"
#include "log.h"
#include "orch_config.h"
#include "store.h"
#include "workers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CANCEL_RESEND_MS 1000           /* a cancel still seen runs: again */
#define REASON_MAX 512
#define QUOTED 300

/*  Sends of a task that never started before it is given up.              */
static uint32_t
s_dispatch_cap (const orch_t *orch)
{
    int64_t cap = 3 * orch->cfg->max_attempts;
    return cap < 10 ? 10 : (uint32_t) cap;
}

static const char *
s_quote (char *buf, size_t size, const char *text)
{
    return log_quote (buf, size, text, strlen (text));
}

/*  Give up lease (a copy): back to the queue, or lost / cancelled. Inside
    a batch. The lease is dropped unless the database could not be read or
    written (then the next cron tries again).                              */
static void
s_give_back (orch_t *orch, const orch_lease_t *lease, bool lost_run, const char *reason)
{
    orch_task_state_t st;
    int found = orch_store_lookup (orch->store, lease->id, &st);
    if (found < 0)
        return;
    if (found == 0 || st.attempt != lease->attempt
    ||  (st.status != PROTO_STATUS_DISPATCHED && st.status != PROTO_STATUS_RUNNING)) {
        orch_leases_remove (orch->leases, lease->id);
        return;                         /* the lease was stale */
    }
    const char *worker = lease->running ? lease->worker : NULL;
    int64_t now = orch_now_ms ();
    char why[REASON_MAX + 160], qwhy[2 * sizeof why], qworker[QUOTED];
    s_quote (qworker, sizeof qworker, worker ? worker : "-");
    int rc;
    if (st.cancel_ms || lease->cancel) {
        snprintf (why, sizeof why, "cancelled; %s", reason);
        rc = orch_store_finish (orch->store, lease->id, lease->attempt,
                                PROTO_STATUS_CANCELLED, worker, why, now);
        if (rc == 1) {
            orch_batch_finished (orch, lease->id);
            log_event (CLOG_INFO, "task_cancelled", "id=%s attempt=%u worker=%s reason=%s",
                       lease->id, lease->attempt, qworker, s_quote (qwhy, sizeof qwhy, why));
        }
    }
    else if ((lost_run && st.lost_runs + 1 >= (uint64_t) orch->cfg->max_attempts)
         ||  (!lease->running && st.attempt >= s_dispatch_cap (orch))) {
        if (lost_run)
            snprintf (why, sizeof why, "%s; %u of %lld allowed runs ended with their worker"
                      " gone (ORCH_MAX_ATTEMPTS)", reason, st.lost_runs + 1,
                      (long long) orch->cfg->max_attempts);
        else
            snprintf (why, sizeof why, "%s; sent %u times and never started", reason,
                      st.attempt);
        rc = orch_store_finish (orch->store, lease->id, lease->attempt, PROTO_STATUS_LOST,
                                worker, why, now);
        if (rc == 1) {
            orch_batch_finished (orch, lease->id);
            log_event (CLOG_WARN, "task_lost", "id=%s attempt=%u worker=%s reason=%s",
                       lease->id, lease->attempt, qworker, s_quote (qwhy, sizeof qwhy, why));
        }
    }
    else {
        rc = orch_store_requeue (orch->store, lease->id, lease->attempt, lost_run, worker,
                                 reason, now);
        if (rc == 1) {
            orch_dispatch_requeue (orch->dispatch, lease->id);
            log_event (CLOG_WARN, "task_requeued", "id=%s attempt=%u worker=%s lost_runs=%u"
                       " reason=%s", lease->id, lease->attempt, qworker,
                       st.lost_runs + (lost_run ? 1 : 0),
                       s_quote (qwhy, sizeof qwhy, reason));
        }
    }
    if (rc >= 0)
        orch_leases_remove (orch->leases, lease->id);
}

/* --- start --------------------------------------------------------------- */

typedef struct {
    orch_t *orch;
    int64_t mono;
    size_t dispatched, running;
} s_rebuild_t;

static void
s_rebuild_one (void *arg, const orch_task_state_t *st)
{
    s_rebuild_t *rb = arg;
    orch_leases_t *leases = rb->orch->leases;
    if (st->status == PROTO_STATUS_DISPATCHED) {
        /*  In doubt: no credit held (see leases.h).                        */
        orch_leases_dispatched (leases, st->id, st->attempt, rb->mono, false);
        rb->dispatched++;
    }
    else
    if (st->status == PROTO_STATUS_RUNNING) {
        orch_lease_t *lease = orch_leases_running (leases, st->id, st->attempt,
                                                   st->worker[0] ? st->worker : "?", rb->mono);
        if (lease && st->cancel_ms)
            lease->cancel = rb->mono;
        rb->running++;
    }
}

int
orch_recovery_rebuild (orch_t *orch, int64_t mono)
{
    s_rebuild_t rb = { orch, mono, 0, 0 };
    if (orch_store_scan_inflight (orch->store, s_rebuild_one, &rb))
        return -1;
    if (rb.dispatched || rb.running)
        log_event (CLOG_INFO, "recovery_started", "dispatched=%zu running=%zu"
                   " grace_ms=%lld (workers' heartbeats claim what they still run)",
                   rb.dispatched, rb.running, (long long) orch->cfg->worker_timeout);
    return 0;
}

/* --- cron ---------------------------------------------------------------- */

typedef struct {
    int64_t mono;
    int64_t lease_ms;
    int64_t timeout_ms;
} s_clock_t;

static bool
s_expired (const orch_lease_t *lease, void *arg)
{
    const s_clock_t *c = arg;
    if (!lease->running)
        return c->mono - lease->since > c->lease_ms;
    return c->mono - lease->claimed > c->timeout_ms
        || (lease->cancel && c->mono - lease->cancel > c->timeout_ms);
}

void
orch_recovery_cron (orch_t *orch, int64_t mono)
{
    s_clock_t clock = { mono, orch->cfg->dispatch_lease, orch->cfg->worker_timeout };
    orch_lease_t *due = NULL;
    size_t n = orch_leases_select (orch->leases, s_expired, &clock, 4096, &due);
    if (n == 0) {
        free (due);
        return;
    }
    orch_batch_begin (orch);
    for (size_t i = 0; i < n; i++) {
        const orch_lease_t *lease = &due[i];
        char reason[REASON_MAX];
        if (!lease->running) {
            snprintf (reason, sizeof reason, "not started within %lld ms (ORCH_DISPATCH_LEASE)",
                      (long long) clock.lease_ms);
            s_give_back (orch, lease, false, reason);
            continue;
        }
        if (lease->cancel && mono - lease->claimed <= clock.timeout_ms) {
            /*  The worker still reports it but never confirmed the kill:
                the client is told it is cancelled; the heartbeats go on
                asking the worker to stop it.                               */
            char why[REASON_MAX], q[2 * REASON_MAX];
            snprintf (why, sizeof why, "cancelled; worker %.256s did not confirm the kill"
                      " within %lld ms", lease->worker, (long long) clock.timeout_ms);
            if (orch_store_finish (orch->store, lease->id, lease->attempt,
                                   PROTO_STATUS_CANCELLED, lease->worker, why,
                                   orch_now_ms ()) >= 0) {
                orch_batch_finished (orch, lease->id);
                orch_leases_remove (orch->leases, lease->id);
                log_event (CLOG_WARN, "task_cancelled", "id=%s attempt=%u reason=%s", lease->id,
                           lease->attempt, s_quote (q, sizeof q, why));
            }
            continue;
        }
        if (orch_workers_known (orch->workers, lease->worker))
            snprintf (reason, sizeof reason, "worker %.256s stopped reporting it for %lld ms",
                      lease->worker, (long long) (mono - lease->claimed));
        else
            snprintf (reason, sizeof reason, "no live worker claimed it for %lld ms (worker"
                      " was %.256s)", (long long) (mono - lease->claimed), lease->worker);
        s_give_back (orch, lease, true, reason);
    }
    orch_batch_commit (orch);
    free (due);
}

/* --- workers --------------------------------------------------------------- */

static bool
s_runs_on (const orch_lease_t *lease, void *arg)
{
    return lease->running && strcmp (lease->worker, (const char *) arg) == 0;
}

void
orch_recovery_worker_gone (orch_t *orch, const char *worker, const char *reason,
                           bool lost_run)
{
    orch_lease_t *gone = NULL;
    size_t n = orch_leases_select (orch->leases, s_runs_on, (void *) worker, SIZE_MAX, &gone);
    if (n == 0) {
        free (gone);
        return;
    }
    orch_batch_begin (orch);
    for (size_t i = 0; i < n; i++)
        s_give_back (orch, &gone[i], lost_run, reason);
    orch_batch_commit (orch);
    free (gone);
}

void
orch_recovery_unwanted (orch_t *orch, const char *id, uint32_t attempt, const char *worker,
                        const char *why)
{
    char q[QUOTED];
    orch_control_cancel (orch->control, id, attempt, worker);
    log_event (CLOG_INFO, "run_cancelled", "id=%s attempt=%u worker=%s reason=%s", id, attempt,
               s_quote (q, sizeof q, worker), why);
}

/*  Worker runs attempt of id, which we had as dispatched or queued.       */
static void
s_claim (orch_t *orch, const char *id, uint32_t attempt, const char *worker, int64_t mono,
         const char *via)
{
    if (orch_store_set_started (orch->store, id, attempt, worker, orch_now_ms ()) != 1)
        return;
    orch_leases_running (orch->leases, id, attempt, worker, mono);
    char q[QUOTED];
    log_event (CLOG_INFO, "task_started", "id=%s attempt=%u worker=%s via=%s", id, attempt,
               s_quote (q, sizeof q, worker), via);
}

/*  One (id, attempt) a heartbeat of worker lists; attempt 0: not told.    */
static void
s_reconcile (orch_t *orch, const char *worker, const char *id, uint32_t attempt, int64_t mono)
{
    orch_lease_t *lease = orch_leases_get (orch->leases, id);
    if (lease && lease->running) {
        if (strcmp (lease->worker, worker) == 0 && (!attempt || attempt == lease->attempt)) {
            lease->claimed = mono;
            if (lease->cancel && mono - lease->cancel_sent >= CANCEL_RESEND_MS) {
                orch_control_cancel (orch->control, id, lease->attempt, worker);
                lease->cancel_sent = mono;
            }
        }
        else
            orch_recovery_unwanted (orch, id, attempt, worker, "another run is current");
        return;
    }
    if (lease) {
        /*  Its "started" was lost (e.g. with a restarted orchestrator).    */
        if (!attempt || attempt == lease->attempt)
            s_claim (orch, id, lease->attempt, worker, mono, "heartbeat");
        else
        if (attempt > lease->attempt)
            orch_recovery_unwanted (orch, id, attempt, worker, "attempt never sent");
        /*  else an older attempt runs while a newer one was sent: its
            result is welcome, let it finish.                              */
        return;
    }
    orch_task_state_t st;
    int found = orch_store_lookup (orch->store, id, &st);
    if (found < 0)
        return;
    if (found == 0)
        orch_recovery_unwanted (orch, id, attempt, worker, "unknown task");
    else
    if (proto_status_is_terminal (st.status))
        orch_recovery_unwanted (orch, id, attempt, worker, proto_status_name (st.status));
    else
    if (st.status == PROTO_STATUS_QUEUED && st.attempt > 0
        && (!attempt || attempt == st.attempt)) {
        /*  Given back while its run went on (e.g. the worker was stopped
            past the timeout and resumed): take it back, do not run it
            twice.                                                          */
        s_claim (orch, id, st.attempt, worker, mono, "reclaimed");
        orch_dispatch_forget (orch->dispatch, id);
    }
}

void
orch_recovery_heartbeat (orch_t *orch, const proto_heartbeat_t *hb, int64_t mono)
{
    for (size_t i = 0; i < hb->running_count; i++)
        s_reconcile (orch, hb->worker, hb->running[i], hb->attempts ? hb->attempts[i] : 0,
                     mono);
}
