/*  monitor.c - store changes and worker changes to events, stats, live.   */
#include "monitor.h"
#include "events.h"
#include "json_text.h"
#include "live.h"
#include "stats.h"
#include "store.h"
#include "tasks.h"

#include <czmq.h>
#include <stdlib.h>
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

/*  What the events and statistics need of a task that has not ended,
    kept from its "queued" change on, so that a change costs no read of
    the row (a task from before a restart is read once, then kept too).  */
typedef struct {
    int64_t created_ms;
    int64_t started_ms;                 /* 0: not started */
    char summary[];
} s_task_t;

struct orch_monitor_t {
    zhashx_t *tasks;                    /* id -> s_task_t, until terminal */
};

static s_task_t *
s_task_new (int64_t created_ms, int64_t started_ms, const char *summary)
{
    size_t len = summary ? strlen (summary) : 0;
    s_task_t *t = malloc (sizeof *t + len + 1);
    if (t) {
        t->created_ms = created_ms;
        t->started_ms = started_ms;
        memcpy (t->summary, summary ? summary : "", len + 1);
    }
    return t;
}

static void
s_task_free (void **item)
{
    free (*item);
    *item = NULL;
}

/*  The task's entry: kept, or made from its row (NULL if unreadable).    */
static s_task_t *
s_task (orch_t *orch, const orch_store_change_t *c)
{
    zhashx_t *tasks = orch->monitor->tasks;
    s_task_t *t = zhashx_lookup (tasks, c->id);
    if (t)
        return t;
    if (c->summary && strcmp (c->event, "queued") == 0)
        t = s_task_new (c->at_ms, 0, c->summary);
    else {
        orch_record_t *rec = NULL;
        if (orch_store_get (orch->store, c->id, false, &rec) == 1)
            t = s_task_new (rec->view.created_ms, rec->view.started_ms, rec->summary);
        orch_record_destroy (&rec);
    }
    if (t && zhashx_insert (tasks, c->id, t) != 0) {
        free (t);
        t = NULL;
    }
    return t;
}

/*  Statistics of an event; t (may be NULL) is the task.                   */
static void
s_count (orch_t *orch, const orch_store_change_t *c, const s_task_t *t)
{
    if (strcmp (c->event, "queued") == 0)
        orch_stats_accepted (orch->stats, c->at_ms);
    else if (strcmp (c->event, "dispatched") == 0 && t && c->attempt == 1)
        orch_stats_latency (orch->stats, ORCH_HIST_DISPATCH, c->at_ms,
                            c->at_ms - t->created_ms);
    else if (proto_status_is_terminal (c->status) && t) {
        orch_stats_finished (orch->stats, c->at_ms);
        orch_stats_latency (orch->stats, ORCH_HIST_TOTAL, c->at_ms, c->at_ms - t->created_ms);
        if (t->started_ms)
            orch_stats_latency (orch->stats, ORCH_HIST_RUN, c->at_ms,
                                c->at_ms - t->started_ms);
    }
}

static json_t *
s_task_event (orch_t *orch, const orch_store_change_t *c, const s_task_t *t)
{
    json_t *obj = json_object ();
    json_object_set_new (obj, "id", json_string (c->id));
    json_object_set_new (obj, "event", json_string (c->event));
    json_object_set_new (obj, "status", json_string (proto_status_name (c->status)));
    json_object_set_new (obj, "attempt", c->attempt ? json_integer (c->attempt) : json_null ());
    json_object_set_new (obj, "worker", jtext_name (c->worker));
    json_object_set_new (obj, "at_ms", json_integer (c->at_ms));
    /*  What a list row shows, on the events that change one (docs/API.md). */
    bool rich = proto_status_is_terminal (c->status) || strcmp (c->event, "queued") == 0
             || strcmp (c->event, "dispatched") == 0;
    if (!t || !rich)
        return obj;
    json_object_set_new (obj, "summary", jtext_name (t->summary));
    json_object_set_new (obj, "created_ms", json_integer (t->created_ms));
    if (!proto_status_is_terminal (c->status))
        return obj;
    /*  Exit code and signal: the result's, or none when the orchestrator
        ended the task itself; a task from before a restart: its row.       */
    bool has_code = c->has_exit_code, has_signal = c->has_signal;
    int64_t code = c->exit_code, signal = c->signal;
    orch_record_t *rec = NULL;
    if (!c->has_exit && orch_store_get (orch->store, c->id, false, &rec) == 1) {
        const proto_result_t *r = &rec->view.result;
        has_code = r->has_exit_code;
        code = r->exit_code;
        has_signal = r->has_signal;
        signal = r->signal;
    }
    orch_record_destroy (&rec);
    json_object_set_new (obj, "exit_code", has_code ? json_integer (code) : json_null ());
    json_object_set_new (obj, "signal", has_signal ? json_integer (signal) : json_null ());
    return obj;
}

static void
s_on_change (void *arg, const orch_store_change_t *c)
{
    orch_t *orch = arg;
    bool terminal = proto_status_is_terminal (c->status);
    if (c->status == PROTO_STATUS_LOST)
        s_keep_lost_output (orch, c->id);
    s_task_t *t = s_task (orch, c);
    if (t && strcmp (c->event, "started") == 0)
        t->started_ms = c->at_ms;
    s_count (orch, c, t);
    orch_events_publish (orch->events, "task", s_task_event (orch, c, t));
    if (terminal)
        zhashx_delete (orch->monitor->tasks, c->id);
    if (strcmp (c->event, "started") == 0)
        orch_live_started (orch->live, c->id, c->attempt);
    else if (terminal)
        orch_live_end (orch->live, c->id);
    else if (strcmp (c->event, "requeued") == 0)
        orch_live_notify (orch->live, c->id);
}

int
orch_monitor_start (orch_t *orch)
{
    orch->monitor = calloc (1, sizeof *orch->monitor);
    if (!orch->monitor)
        return -1;
    orch->monitor->tasks = zhashx_new ();
    if (!orch->monitor->tasks) {
        free (orch->monitor);
        orch->monitor = NULL;
        return -1;
    }
    zhashx_set_destructor (orch->monitor->tasks, s_task_free);
    orch_store_on_change (orch->store, s_on_change, orch);
    return 0;
}

void
orch_monitor_stop (orch_t *orch)
{
    if (!orch->monitor)
        return;
    orch_store_on_change (orch->store, NULL, NULL);
    zhashx_destroy (&orch->monitor->tasks);
    free (orch->monitor);
    orch->monitor = NULL;
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
