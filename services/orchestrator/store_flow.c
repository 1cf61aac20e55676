/*  store_flow.c - status transitions. Each one is guarded in SQL (see
    store.h) and, when it applies, appends its event to the task's timeline
    in the same transaction, so the timeline and the status never disagree.
*/
#include "store_internal.h"
#include "log.h"
#include "utf8.h"

#include <stdio.h>
#include <string.h>

#define DETAIL_MAX 300                  /* bytes of a result's error kept in
                                           its timeline event */

int
store_event (orch_store_t *self, const char *id, int64_t ms, const char *event,
             uint32_t attempt, const char *worker, const char *detail)
{
    sqlite3_stmt *st = self->st[ST_EVENT];
    char cut[DETAIL_MAX + 4];
    if (detail && strlen (detail) > DETAIL_MAX) {
        size_t n = utf8_cut (detail, DETAIL_MAX);
        memcpy (cut, detail, n);
        memcpy (cut + n, "...", 4);
        detail = cut;
    }
    store_bind_text (st, 1, id);
    sqlite3_bind_int64 (st, 2, ms);
    store_bind_text (st, 3, event);
    if (attempt)
        sqlite3_bind_int64 (st, 4, attempt);
    store_bind_text (st, 5, worker);
    store_bind_text (st, 6, detail);
    if (store_exec (self, ST_EVENT))
        return -1;
    return store_note_change (self, id, ms, event, attempt, worker);
}

/*  rc of an UPDATE; when it applied, the event too (-1 if that failed).   */
static int
s_with_event (orch_store_t *self, int rc, const char *id, int64_t ms, const char *event,
              uint32_t attempt, const char *worker, const char *detail)
{
    if (rc == 1 && store_event (self, id, ms, event, attempt, worker, detail))
        return -1;
    return rc;
}

int
orch_store_set_dispatched (orch_store_t *self, const char *id, uint32_t attempt, int64_t ms)
{
    sqlite3_stmt *st = self->st[ST_DISPATCHED];
    store_bind_text (st, 1, id);
    sqlite3_bind_int64 (st, 2, attempt);
    sqlite3_bind_int64 (st, 3, ms);
    /*  The worker is not known yet: PUSH picks one. The event says which
        attempt went out; "started" names the worker.                       */
    return s_with_event (self, store_update (self, ST_DISPATCHED), id, ms, "dispatched",
                         attempt, NULL, NULL);
}

int
orch_store_undo_dispatched (orch_store_t *self, const char *id, uint32_t attempt)
{
    sqlite3_stmt *st = self->st[ST_UNDISPATCH];
    store_bind_text (st, 1, id);
    sqlite3_bind_int64 (st, 2, attempt);
    int rc = store_update (self, ST_UNDISPATCH);
    if (rc == 1) {
        /*  The frame never left: as if it had never been dispatched.      */
        st = self->st[ST_UNEVENT];
        store_bind_text (st, 1, id);
        sqlite3_bind_int64 (st, 2, attempt);
        if (store_exec (self, ST_UNEVENT))
            return -1;
        if (store_note_change (self, id, orch_now_ms (), "requeued", attempt - 1, NULL))
            return -1;
    }
    return rc;
}

int
orch_store_set_started (orch_store_t *self, const char *id, uint32_t attempt,
                        const char *worker, int64_t ms)
{
    sqlite3_stmt *st = self->st[ST_STARTED];
    store_bind_text (st, 1, id);
    sqlite3_bind_int64 (st, 2, attempt);
    sqlite3_bind_int64 (st, 3, ms);
    store_bind_text (st, 4, worker);
    return s_with_event (self, store_update (self, ST_STARTED), id, ms, "started", attempt,
                         worker, NULL);
}

static int
s_insert_file (orch_store_t *self, const char *id, int kind, const char *name,
               const proto_bytes_t *content)
{
    sqlite3_stmt *st = self->st[ST_FILE];
    store_bind_text (st, 1, id);
    sqlite3_bind_int (st, 2, kind);
    store_bind_text (st, 3, name);
    if (content)
        store_bind_bytes (st, 4, *content);
    else
        sqlite3_bind_null (st, 4);
    return store_exec (self, ST_FILE);
}

int
orch_store_set_result (orch_store_t *self, const proto_result_t *r, int64_t ms)
{
    if (!proto_status_is_terminal (r->status))
        return 0;
    /*  The row, its files and its event commit together or not at all.    */
    if (store_exec (self, ST_SAVEPOINT))
        return -1;
    sqlite3_stmt *st = self->st[ST_RESULT];
    store_bind_text (st, 1, r->id);
    sqlite3_bind_int64 (st, 2, r->attempt);
    store_bind_text (st, 3, proto_status_name (r->status));
    sqlite3_bind_int64 (st, 4, ms);
    store_bind_text (st, 5, r->worker);
    if (r->has_exit_code)
        sqlite3_bind_int64 (st, 6, r->exit_code);
    if (r->has_signal)
        sqlite3_bind_int64 (st, 7, r->signal);
    store_bind_bytes (st, 8, r->stdout_data);
    store_bind_bytes (st, 9, r->stderr_data);
    sqlite3_bind_int (st, 10, r->stdout_truncated);
    sqlite3_bind_int (st, 11, r->stderr_truncated);
    sqlite3_bind_int64 (st, 12, (sqlite3_int64) r->wall_ms);
    sqlite3_bind_int64 (st, 13, (sqlite3_int64) r->cpu_ms);
    sqlite3_bind_int64 (st, 14, (sqlite3_int64) r->max_rss_kb);
    store_bind_text (st, 15, r->error);
    int rc = store_update (self, ST_RESULT);
    if (rc == 1) {
        for (size_t i = 0; i < r->file_count && rc == 1; i++)
            if (s_insert_file (self, r->id, 0, r->files[i].path, &r->files[i].content))
                rc = -1;
        for (size_t i = 0; i < r->file_ref_count && rc == 1; i++)
            if (s_insert_file (self, r->id, 1, r->file_refs[i], NULL))
                rc = -1;
    }
    self->more.result = r;
    rc = s_with_event (self, rc, r->id, ms, proto_status_name (r->status), r->attempt,
                       r->worker, r->error);
    self->more.result = NULL;
    if (rc < 0)
        store_exec (self, ST_ROLLBACK_TO);
    if (store_exec (self, ST_RELEASE))
        return -1;
    return rc;
}

int
orch_store_requeue (orch_store_t *self, const char *id, uint32_t attempt, bool lost_run,
                    const char *worker, const char *reason, int64_t ms)
{
    sqlite3_stmt *st = self->st[ST_REQUEUE];
    store_bind_text (st, 1, id);
    sqlite3_bind_int64 (st, 2, attempt);
    sqlite3_bind_int (st, 3, lost_run ? 1 : 0);
    return s_with_event (self, store_update (self, ST_REQUEUE), id, ms, "requeued", attempt,
                         worker, reason);
}

int
orch_store_finish (orch_store_t *self, const char *id, uint32_t attempt,
                   proto_status_t status, const char *worker, const char *error, int64_t ms)
{
    if (!proto_status_is_terminal (status))
        return 0;
    sqlite3_stmt *st = self->st[ST_FINISH];
    store_bind_text (st, 1, id);
    sqlite3_bind_int64 (st, 2, attempt);
    store_bind_text (st, 3, proto_status_name (status));
    sqlite3_bind_int64 (st, 4, ms);
    store_bind_text (st, 5, error);
    return s_with_event (self, store_update (self, ST_FINISH), id, ms,
                         proto_status_name (status), attempt, worker, error);
}

int
orch_store_cancel_requested (orch_store_t *self, const char *id, uint32_t attempt,
                             const char *worker, int64_t ms)
{
    sqlite3_stmt *st = self->st[ST_CANCEL_REQ];
    store_bind_text (st, 1, id);
    sqlite3_bind_int64 (st, 2, attempt);
    sqlite3_bind_int64 (st, 3, ms);
    return s_with_event (self, store_update (self, ST_CANCEL_REQ), id, ms, "cancel_requested",
                         attempt, worker, NULL);
}
