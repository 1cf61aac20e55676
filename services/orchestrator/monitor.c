/*  monitor.c - store changes and worker changes to events, stats, live.   */
#include "monitor.h"
#include "events.h"
#include "json_text.h"
#include "live.h"
#include "stats.h"
#include "store.h"
#include "tasks.h"

#include <string.h>

/*  Output streamed by a run that ended with its worker is all there is:
    keep it with the record (before anyone reads the record as final).   */
static void
s_keep_lost_output (orch_t *orch, const char *id)
{
    uint32_t attempt;
    const uint8_t *out, *err;
    size_t out_len, err_len;
    if (orch_live_peek (orch->live, id, &attempt, &out, &out_len, &err, &err_len))
        orch_store_keep_output (orch->store, id, out, out_len, err, err_len);
}

/*  Statistics of an event; rec (may be NULL) is the task after it.       */
static void
s_count (orch_t *orch, const orch_store_change_t *c, const orch_record_t *rec)
{
    if (strcmp (c->event, "queued") == 0)
        orch_stats_accepted (orch->stats, c->at_ms);
    else if (strcmp (c->event, "dispatched") == 0 && rec && c->attempt == 1)
        orch_stats_latency (orch->stats, ORCH_HIST_DISPATCH, c->at_ms,
                            c->at_ms - rec->view.created_ms);
    else if (proto_status_is_terminal (c->status) && rec) {
        orch_stats_finished (orch->stats, c->at_ms);
        orch_stats_latency (orch->stats, ORCH_HIST_TOTAL, c->at_ms,
                            c->at_ms - rec->view.created_ms);
        if (rec->view.started_ms)
            orch_stats_latency (orch->stats, ORCH_HIST_RUN, c->at_ms,
                                c->at_ms - rec->view.started_ms);
    }
}

static json_t *
s_task_event (const orch_store_change_t *c, const orch_record_t *rec)
{
    json_t *obj = json_object ();
    json_object_set_new (obj, "id", json_string (c->id));
    json_object_set_new (obj, "event", json_string (c->event));
    json_object_set_new (obj, "status", json_string (proto_status_name (c->status)));
    json_object_set_new (obj, "attempt", c->attempt ? json_integer (c->attempt) : json_null ());
    json_object_set_new (obj, "worker", jtext_name (c->worker));
    json_object_set_new (obj, "at_ms", json_integer (c->at_ms));
    if (rec) {
        json_object_set_new (obj, "summary", jtext_name (rec->summary));
        json_object_set_new (obj, "created_ms", json_integer (rec->view.created_ms));
        const proto_result_t *r = &rec->view.result;
        if (proto_status_is_terminal (c->status)) {
            json_object_set_new (obj, "exit_code", r->has_exit_code
                                 ? json_integer (r->exit_code) : json_null ());
            json_object_set_new (obj, "signal", r->has_signal
                                 ? json_integer (r->signal) : json_null ());
        }
    }
    return obj;
}

static void
s_on_change (void *arg, const orch_store_change_t *c)
{
    orch_t *orch = arg;
    bool terminal = proto_status_is_terminal (c->status);
    if (c->status == PROTO_STATUS_LOST)
        s_keep_lost_output (orch, c->id);
    /*  The record adds what a list row shows (summary, exit); not needed
        for the frequent middle steps.                                      */
    orch_record_t *rec = NULL;
    bool want = terminal || strcmp (c->event, "queued") == 0
             || strcmp (c->event, "dispatched") == 0;
    if (want && orch_store_get (orch->store, c->id, false, &rec) != 1)
        rec = NULL;
    s_count (orch, c, rec);
    orch_events_publish (orch->events, "task", s_task_event (c, rec));
    orch_record_destroy (&rec);
    if (strcmp (c->event, "started") == 0)
        orch_live_started (orch->live, c->id, c->attempt);
    else if (terminal)
        orch_live_end (orch->live, c->id);
    else if (strcmp (c->event, "requeued") == 0)
        orch_live_notify (orch->live, c->id);
}

void
orch_monitor_start (orch_t *orch)
{
    orch_store_on_change (orch->store, s_on_change, orch);
}

void
orch_monitor_worker (orch_t *orch, const char *worker, bool joined, uint32_t slots,
                     const char *why)
{
    json_t *obj = json_object ();
    json_object_set_new (obj, "id", jtext_name (worker));
    json_object_set_new (obj, "change", json_string (joined ? "joined" : "left"));
    json_object_set_new (obj, "slots", json_integer (slots));
    json_object_set_new (obj, "at_ms", json_integer (orch_now_ms ()));
    if (why)
        json_object_set_new (obj, "reason", jtext_name (why));
    orch_events_publish (orch->events, "worker", obj);
}

void
orch_monitor_cron (orch_t *orch)
{
    orch_stats_queue_depth (orch->stats, orch_now_ms (), orch_tasks_waiting (orch));
}
