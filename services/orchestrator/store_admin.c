/*  store_admin.c - idempotency keys, the state recovery needs, timelines,
    retention.                                                              */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
orch_store_find_key (orch_store_t *self, const char *key, char *id)
{
    sqlite3_stmt *st = self->st[ST_FIND_KEY];
    store_bind_text (st, 1, key);
    int rc = sqlite3_step (st);
    int found = 0;
    if (rc == SQLITE_ROW) {
        const char *text = (const char *) sqlite3_column_text (st, 0);
        snprintf (id, PROTO_ID_MAX + 1, "%s", text ? text : "");
        found = 1;
    }
    else if (rc != SQLITE_DONE) {
        store_log_error (self, "find_key");
        found = -1;
    }
    sqlite3_reset (st);
    sqlite3_clear_bindings (st);
    return found;
}

/*  Columns status, attempt, lost_runs, cancel_ms, worker from col on.     */
static void
s_read_state (sqlite3_stmt *st, int col, orch_task_state_t *state)
{
    const char *name = (const char *) sqlite3_column_text (st, col);
    if (!name || proto_status_parse (name, &state->status))
        state->status = PROTO_STATUS_NONE;
    state->attempt = (uint32_t) sqlite3_column_int64 (st, col + 1);
    state->lost_runs = (uint32_t) sqlite3_column_int64 (st, col + 2);
    state->cancel_ms = sqlite3_column_type (st, col + 3) == SQLITE_NULL
                     ? 0 : sqlite3_column_int64 (st, col + 3);
    const char *worker = (const char *) sqlite3_column_text (st, col + 4);
    snprintf (state->worker, sizeof state->worker, "%s", worker ? worker : "");
}

int
orch_store_lookup (orch_store_t *self, const char *id, orch_task_state_t *state)
{
    memset (state, 0, sizeof *state);
    snprintf (state->id, sizeof state->id, "%s", id);
    sqlite3_stmt *st = self->st[ST_LOOKUP];
    store_bind_text (st, 1, id);
    int rc = sqlite3_step (st);
    int found = 0;
    if (rc == SQLITE_ROW) {
        s_read_state (st, 0, state);
        found = 1;
    }
    else if (rc != SQLITE_DONE) {
        store_log_error (self, "lookup");
        found = -1;
    }
    sqlite3_reset (st);
    sqlite3_clear_bindings (st);
    return found;
}

int
orch_store_scan_inflight (orch_store_t *self, orch_store_inflight_fn *fn, void *arg)
{
    sqlite3_stmt *st = self->st[ST_SCAN_INFLIGHT];
    int rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        orch_task_state_t state;
        memset (&state, 0, sizeof state);
        const char *id = (const char *) sqlite3_column_text (st, 0);
        snprintf (state.id, sizeof state.id, "%s", id ? id : "");
        s_read_state (st, 1, &state);
        fn (arg, &state);
    }
    sqlite3_reset (st);
    if (rc != SQLITE_DONE) {
        store_log_error (self, "scan_inflight");
        return -1;
    }
    return 0;
}

void
orch_store_events_free (orch_event_t **items, size_t count)
{
    if (!items || !*items)
        return;
    for (size_t i = 0; i < count; i++) {
        free ((*items)[i].worker);
        free ((*items)[i].detail);
    }
    free (*items);
    *items = NULL;
}

static char *
s_text_dup (sqlite3_stmt *st, int col)
{
    const char *text = (const char *) sqlite3_column_text (st, col);
    return text ? strdup (text) : NULL;
}

int
orch_store_events (orch_store_t *self, const char *id, orch_event_t **items, size_t *count)
{
    *items = NULL;
    *count = 0;
    size_t cap = 0;
    int result = 0;
    sqlite3_stmt *st = self->st[ST_EVENTS];
    store_bind_text (st, 1, id);
    int rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        if (*count == cap) {
            cap = cap ? cap * 2 : 8;
            orch_event_t *grown = realloc (*items, cap * sizeof *grown);
            if (!grown) {
                result = -1;
                break;
            }
            *items = grown;
        }
        orch_event_t *e = &(*items)[*count];
        memset (e, 0, sizeof *e);
        e->at_ms = sqlite3_column_int64 (st, 0);
        const char *name = (const char *) sqlite3_column_text (st, 1);
        snprintf (e->event, sizeof e->event, "%s", name ? name : "?");
        e->attempt = (uint32_t) sqlite3_column_int64 (st, 2);
        e->worker = s_text_dup (st, 3);
        e->detail = s_text_dup (st, 4);
        (*count)++;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        store_log_error (self, "events");
        result = -1;
    }
    sqlite3_reset (st);
    sqlite3_clear_bindings (st);
    if (result)
        orch_store_events_free (items, *count);
    return result;
}

int64_t
orch_store_prune (orch_store_t *self, int64_t before_ms, size_t limit)
{
    sqlite3_stmt *st = self->st[ST_PRUNE];
    sqlite3_bind_int64 (st, 1, before_ms);
    sqlite3_bind_int64 (st, 2, (sqlite3_int64) limit);
    if (store_exec (self, ST_PRUNE))
        return -1;
    return sqlite3_changes (self->db);
}
