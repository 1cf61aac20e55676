/*  store_query.c - filtered task listings and single collected files.

    A listing's filters vary per request, so its SQL is put together here
    from fixed fragments (never from client text: every value is bound) and
    prepared per call; listings are not on the hot path.
*/
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  Append a fragment to sql (the buffer is large enough for all of them). */
static void
s_add (char *sql, size_t size, const char *fragment)
{
    size_t len = strlen (sql);
    snprintf (sql + len, size - len, "%s", fragment);
}

/*  The statement for query, its values bound in order. NULL on error.     */
static sqlite3_stmt *
s_prepare (orch_store_t *self, const orch_store_query_t *q)
{
    char sql[1024] = "SELECT " RECORD_COLS ", CASE WHEN ?6 THEN spec END, NULL, NULL FROM tasks"
                     " WHERE seq < ?1";
    if (q->statuses) {
        s_add (sql, sizeof sql, " AND status IN (");
        bool first = true;
        for (int s = 0; s < PROTO_STATUS_COUNT_; s++)
            if (q->statuses & (1u << s)) {
                s_add (sql, sizeof sql, first ? "'" : ",'");
                s_add (sql, sizeof sql, proto_status_name ((proto_status_t) s));
                s_add (sql, sizeof sql, "'");
                first = false;
            }
        s_add (sql, sizeof sql, ")");
    }
    if (q->text && *q->text)
        s_add (sql, sizeof sql, " AND instr(search, ?3) > 0");
    if (q->since_ms)
        s_add (sql, sizeof sql, " AND created_ms >= ?4");
    if (q->until_ms)
        s_add (sql, sizeof sql, " AND created_ms < ?5");
    s_add (sql, sizeof sql, " ORDER BY seq DESC LIMIT ?2");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2 (self->db, sql, -1, &st, NULL) != SQLITE_OK) {
        store_log_error (self, "query");
        return NULL;
    }
    sqlite3_bind_int64 (st, 1, q->before_seq > 0 ? q->before_seq : INT64_MAX);
    /*  One row more than asked tells whether another page follows.        */
    sqlite3_bind_int64 (st, 2, (sqlite3_int64) q->limit + 1);
    if (q->text && *q->text)
        sqlite3_bind_text (st, 3, q->text, -1, SQLITE_STATIC);
    if (q->since_ms)
        sqlite3_bind_int64 (st, 4, q->since_ms);
    if (q->until_ms)
        sqlite3_bind_int64 (st, 5, q->until_ms);
    sqlite3_bind_int (st, 6, q->with_spec);
    return st;
}

int
orch_store_query (orch_store_t *self, const orch_store_query_t *q, orch_record_t ***items,
                  size_t *count, bool *more)
{
    *items = NULL;
    *count = 0;
    *more = false;
    if (q->limit < 1)
        return -1;
    sqlite3_stmt *st = s_prepare (self, q);
    if (!st)
        return -1;
    *items = calloc (q->limit, sizeof **items);
    int result = *items ? 0 : -1;
    int rc = SQLITE_DONE;
    while (result == 0 && (rc = sqlite3_step (st)) == SQLITE_ROW) {
        if (*count == q->limit) {
            *more = true;
            break;
        }
        orch_record_t *rec = store_read_row (st);
        if (!rec)
            result = -1;
        else
            (*items)[(*count)++] = rec;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        store_log_error (self, "query");
        result = -1;
    }
    sqlite3_finalize (st);
    if (result)
        orch_store_list_free (items, *count);
    return result;
}

int
orch_store_file (orch_store_t *self, const char *id, const char *name, uint8_t **data,
                 size_t *size, bool *is_ref)
{
    *data = NULL;
    *size = 0;
    *is_ref = false;
    sqlite3_stmt *st = NULL;
    const char *sql = "SELECT kind, content FROM task_files"
                      " WHERE task_seq = (SELECT seq FROM tasks WHERE id = ?1) AND name = ?2"
                      " ORDER BY kind LIMIT 1";
    if (sqlite3_prepare_v2 (self->db, sql, -1, &st, NULL) != SQLITE_OK) {
        store_log_error (self, "file");
        return -1;
    }
    sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 2, name, -1, SQLITE_STATIC);
    int found = 0;
    int rc = sqlite3_step (st);
    if (rc == SQLITE_ROW) {
        *is_ref = sqlite3_column_int (st, 0) != 0;
        size_t n = (size_t) sqlite3_column_bytes (st, 1);
        const void *blob = sqlite3_column_blob (st, 1);
        *data = malloc (n + 1);
        if (*data) {
            if (n)
                memcpy (*data, blob, n);
            *size = n;
            found = 1;
        }
        else
            found = -1;
    }
    else if (rc != SQLITE_DONE) {
        store_log_error (self, "file");
        found = -1;
    }
    sqlite3_finalize (st);
    return found;
}

int
orch_store_keep_output (orch_store_t *self, const char *id, const uint8_t *out, size_t out_len,
                        const uint8_t *err, size_t err_len)
{
    sqlite3_stmt *st = NULL;
    const char *sql = "UPDATE tasks SET stdout = ?2, stderr = ?3"
                      " WHERE id = ?1 AND status = 'lost' AND stdout IS NULL";
    if (sqlite3_prepare_v2 (self->db, sql, -1, &st, NULL) != SQLITE_OK) {
        store_log_error (self, "keep_output");
        return -1;
    }
    sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_blob64 (st, 2, out ? (const void *) out : "", out_len, SQLITE_STATIC);
    sqlite3_bind_blob64 (st, 3, err ? (const void *) err : "", err_len, SQLITE_STATIC);
    int rc = sqlite3_step (st);
    sqlite3_finalize (st);
    if (rc != SQLITE_DONE) {
        store_log_error (self, "keep_output");
        return -1;
    }
    return sqlite3_changes (self->db) > 0 ? 1 : 0;
}
