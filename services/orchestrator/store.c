/*  store.c - SQLite task store: schema, prepared statements, transitions.

    The process keeps one connection and prepares every statement once.
    All calls come from the event loop thread (SQLITE_OPEN_NOMUTEX).
*/
#include "store_internal.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/*  Columns of a record row are listed once in RECORD_COLS
    (store_internal.h) and read by store_read_row (). */

const char *const store_sql[ST_COUNT_] = {
    [ST_BEGIN]       = "BEGIN IMMEDIATE",
    [ST_COMMIT]      = "COMMIT",
    [ST_ROLLBACK]    = "ROLLBACK",
    [ST_SAVEPOINT]   = "SAVEPOINT orch_result",
    [ST_RELEASE]     = "RELEASE orch_result",
    [ST_ROLLBACK_TO] = "ROLLBACK TO orch_result",
    [ST_INSERT]      =
        "INSERT INTO tasks (id, status, attempt, spec, summary, created_ms, idem_key, search)"
        " VALUES (?1, 'queued', 0, ?2, ?3, ?4, ?5, ?6)",
    [ST_DISPATCHED]  =
        "UPDATE tasks SET status = 'dispatched', attempt = ?2, dispatched_ms = ?3"
        " WHERE id = ?1 AND status = 'queued' AND attempt = ?2 - 1",
    [ST_UNDISPATCH]  =
        "UPDATE tasks SET status = 'queued', attempt = ?2 - 1, dispatched_ms = NULL"
        " WHERE id = ?1 AND status = 'dispatched' AND attempt = ?2",
    /*  From queued too: a worker that was given up for dead (or whose
        frame outlived its lease) may still start the very attempt that
        went back to the queue, as long as no newer one was sent.           */
    [ST_STARTED]     =
        "UPDATE tasks SET status = 'running', started_ms = ?3, worker = ?4"
        " WHERE id = ?1 AND attempt = ?2 AND status IN ('dispatched','queued')",
    /*  The first terminal result wins. An older attempt's result counts
        unless a newer attempt is running (its run may still give one) or
        it says "cancelled": clients cancel the current attempt only, so an
        older attempt was cancelled by us, as a run nobody wanted.         */
    [ST_RESULT]      =
        "UPDATE tasks SET status = ?3, finished_ms = ?4, worker = ?5, exit_code = ?6,"
        " signal = ?7, stdout = ?8, stderr = ?9, stdout_truncated = ?10,"
        " stderr_truncated = ?11, wall_ms = ?12, cpu_ms = ?13, max_rss_kb = ?14,"
        " error = ?15, attempt = ?2"
        " WHERE id = ?1 AND status IN " NON_TERMINAL " AND attempt >= ?2"
        " AND (attempt = ?2 OR (status <> 'running' AND ?3 <> 'cancelled'))",
    [ST_FILE]        =
        "INSERT OR REPLACE INTO task_files (task_seq, kind, name, content)"
        " VALUES ((SELECT seq FROM tasks WHERE id = ?1), ?2, ?3, ?4)",
    [ST_STATE]       = "SELECT status, attempt FROM tasks WHERE id = ?1",
    [ST_GET]         =
        "SELECT " RECORD_COLS ", spec, CASE WHEN ?2 THEN stdout END,"
        " CASE WHEN ?2 THEN stderr END FROM tasks WHERE id = ?1",
    [ST_GET_FILES]   =
        "SELECT kind, name, content FROM task_files WHERE task_seq = ?1 ORDER BY kind, name",
    [ST_SCAN]        = "SELECT id, attempt FROM tasks WHERE status = ?1 ORDER BY seq",
    [ST_COUNT]       = "SELECT status, count(*) FROM tasks GROUP BY status",
    [ST_EVENT]       =
        "INSERT INTO task_events (task_seq, at_ms, event, attempt, worker, detail)"
        " SELECT seq, ?2, ?3, ?4, ?5, ?6 FROM tasks WHERE id = ?1",
    [ST_UNEVENT]     =
        "DELETE FROM task_events WHERE task_seq = (SELECT seq FROM tasks WHERE id = ?1)"
        " AND event = 'dispatched' AND attempt = ?2",
    [ST_REQUEUE]     =
        "UPDATE tasks SET status = 'queued', worker = NULL, dispatched_ms = NULL,"
        " started_ms = NULL, lost_runs = lost_runs + ?3"
        " WHERE id = ?1 AND attempt = ?2 AND status IN ('dispatched','running')",
    [ST_FINISH]      =
        "UPDATE tasks SET status = ?3, finished_ms = ?4, error = ?5"
        " WHERE id = ?1 AND (?2 = 0 OR attempt = ?2) AND status IN " NON_TERMINAL,
    [ST_CANCEL_REQ]  =
        "UPDATE tasks SET cancel_ms = ?3"
        " WHERE id = ?1 AND attempt = ?2 AND status = 'running' AND cancel_ms IS NULL",
    [ST_FIND_KEY]    = "SELECT id FROM tasks WHERE idem_key = ?1",
    [ST_LOOKUP]      =
        "SELECT status, attempt, lost_runs, cancel_ms, worker FROM tasks WHERE id = ?1",
    [ST_SCAN_INFLIGHT] =
        "SELECT id, status, attempt, lost_runs, cancel_ms, worker FROM tasks"
        " WHERE status IN ('dispatched','running') ORDER BY seq",
    [ST_EVENTS]      =
        "SELECT at_ms, event, attempt, worker, detail FROM task_events"
        " WHERE task_seq = (SELECT seq FROM tasks WHERE id = ?1) ORDER BY n",
    [ST_PRUNE]       =
        "DELETE FROM tasks WHERE seq IN (SELECT seq FROM tasks WHERE finished_ms < ?1"
        " AND status NOT IN " NON_TERMINAL " ORDER BY finished_ms LIMIT ?2)",
};

/*  Later versions append a step to s_migrations (never edit a step that
    shipped).                                                               */
static const char *const s_migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE tasks ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  id TEXT UNIQUE NOT NULL,"
    "  idem_key TEXT UNIQUE,"
    "  status TEXT NOT NULL,"
    "  attempt INTEGER NOT NULL DEFAULT 0,"
    "  worker TEXT,"
    "  spec BLOB NOT NULL,"                 /* encoded "task" frame */
    "  summary TEXT,"
    "  created_ms INTEGER NOT NULL,"
    "  dispatched_ms INTEGER,"
    "  started_ms INTEGER,"
    "  finished_ms INTEGER,"
    "  exit_code INTEGER,"
    "  signal INTEGER,"
    "  stdout BLOB,"
    "  stderr BLOB,"
    "  stdout_truncated INTEGER,"
    "  stderr_truncated INTEGER,"
    "  wall_ms INTEGER,"
    "  cpu_ms INTEGER,"
    "  max_rss_kb INTEGER,"
    "  error TEXT"
    ");"
    "CREATE INDEX tasks_status_seq ON tasks (status, seq);"
    /*  Collected files (kind 0, content) and files left in the shared
        volume (kind 1, no content), per task.                              */
    "CREATE TABLE task_files ("
    "  task_seq INTEGER NOT NULL REFERENCES tasks (seq) ON DELETE CASCADE,"
    "  kind INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  content BLOB,"
    "  PRIMARY KEY (task_seq, kind, name)"
    ") WITHOUT ROWID;",
    /* 1 -> 2: the timeline of every task (one row per state change), how
       many runs a task lost with their worker, cancellation requests, and
       an index for retention.                                              */
    "ALTER TABLE tasks ADD COLUMN lost_runs INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tasks ADD COLUMN cancel_ms INTEGER;"
    "CREATE TABLE task_events ("
    "  n INTEGER PRIMARY KEY,"
    "  task_seq INTEGER NOT NULL REFERENCES tasks (seq) ON DELETE CASCADE,"
    "  at_ms INTEGER NOT NULL,"
    "  event TEXT NOT NULL,"
    "  attempt INTEGER,"
    "  worker TEXT,"
    "  detail TEXT"
    ");"
    "CREATE INDEX task_events_task ON task_events (task_seq, n);"
    "CREATE INDEX tasks_finished ON tasks (finished_ms) WHERE finished_ms IS NOT NULL;",
    /* 2 -> 3: what `GET /api/tasks?q=` searches: argv and code, lowercase
       (older rows: their summary).                                         */
    "ALTER TABLE tasks ADD COLUMN search TEXT;"
    "UPDATE tasks SET search = lower(summary);",
};
#define MIGRATIONS (sizeof s_migrations / sizeof s_migrations[0])

void
store_log_error (orch_store_t *self, const char *what)
{
    char quoted[512];
    const char *msg = sqlite3_errmsg (self->db);
    log_event (CLOG_ERROR, "db_error", "op=%s error=%s", what,
               log_quote (quoted, sizeof quoted, msg, strlen (msg)));
}

int
store_exec (orch_store_t *self, int which)
{
    sqlite3_stmt *st = self->st[which];
    int rc = sqlite3_step (st);
    sqlite3_reset (st);
    sqlite3_clear_bindings (st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        store_log_error (self, store_sql[which]);
        return -1;
    }
    return 0;
}

int
store_update (orch_store_t *self, int which)
{
    if (store_exec (self, which))
        return -1;
    return sqlite3_changes (self->db) > 0 ? 1 : 0;
}

int
store_bind_text (sqlite3_stmt *st, int at, const char *text)
{
    if (!text)
        return sqlite3_bind_null (st, at);
    return sqlite3_bind_text (st, at, text, -1, SQLITE_STATIC);
}

int
store_bind_bytes (sqlite3_stmt *st, int at, proto_bytes_t b)
{
    /*  A NULL pointer would bind SQL NULL; empty output is an empty blob. */
    return sqlite3_bind_blob64 (st, at, b.data ? (const void *) b.data : "", b.size,
                                SQLITE_STATIC);
}

static int
s_pragma (sqlite3 *db, const char *sql, char *err, size_t err_size)
{
    char *msg = NULL;
    if (sqlite3_exec (db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf (err, err_size, "%s: %s", sql, msg ? msg : sqlite3_errmsg (db));
        sqlite3_free (msg);
        return -1;
    }
    return 0;
}

static int
s_user_version (sqlite3 *db, int *version)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step (st);
    *version = rc == SQLITE_ROW ? sqlite3_column_int (st, 0) : -1;
    sqlite3_finalize (st);
    return *version < 0 ? -1 : 0;
}

static int
s_migrate (orch_store_t *self, char *err, size_t err_size)
{
    int version;
    if (s_user_version (self->db, &version)) {
        snprintf (err, err_size, "%s: cannot read schema version: %s", self->path,
                  sqlite3_errmsg (self->db));
        return -1;
    }
    if (version > (int) MIGRATIONS) {
        snprintf (err, err_size, "%s has schema version %d, newer than this orchestrator"
                  " understands (%d); use a newer build", self->path, version, (int) MIGRATIONS);
        return -1;
    }
    while (version < (int) MIGRATIONS) {
        char sql[64];
        /*  Each step and its version bump commit together, so a crash in
            the middle leaves the previous version intact.                  */
        if (s_pragma (self->db, "BEGIN IMMEDIATE", err, err_size)
            || s_pragma (self->db, s_migrations[version], err, err_size))
            goto fail;
        snprintf (sql, sizeof sql, "PRAGMA user_version = %d", version + 1);
        if (s_pragma (self->db, sql, err, err_size)
            || s_pragma (self->db, "COMMIT", err, err_size))
            goto fail;
        log_event (CLOG_INFO, "db_migrated", "from=%d to=%d", version, version + 1);
        version++;
    }
    return 0;
  fail:
    sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int
s_lock (orch_store_t *self, const char *data_dir, char *err, size_t err_size)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/lock", data_dir);
    self->lock_fd = open (path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (self->lock_fd < 0) {
        snprintf (err, err_size, "cannot open %s: %s", path, strerror (errno));
        return -1;
    }
    if (flock (self->lock_fd, LOCK_EX | LOCK_NB)) {
        snprintf (err, err_size, "%s is in use by another orchestrator (%s is locked)",
                  data_dir, path);
        return -1;
    }
    return 0;
}

orch_store_t *
orch_store_new (const char *data_dir, bool full_sync, char *err, size_t err_size)
{
    orch_store_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->lock_fd = -1;
    int n = snprintf (self->path, sizeof self->path, "%s/cleudo.db", data_dir);
    if (n < 0 || (size_t) n >= sizeof self->path) {
        snprintf (err, err_size, "data directory path is too long");
        goto fail;
    }
    if (s_lock (self, data_dir, err, err_size))
        goto fail;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
                | SQLITE_OPEN_NOFOLLOW;
    if (sqlite3_open_v2 (self->path, &self->db, flags, NULL) != SQLITE_OK) {
        snprintf (err, err_size, "cannot open %s: %s", self->path,
                  self->db ? sqlite3_errmsg (self->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes (self->db, 1);
    sqlite3_busy_timeout (self->db, 5000);
    if (s_pragma (self->db, "PRAGMA journal_mode = WAL", err, err_size)
        || s_pragma (self->db, full_sync ? "PRAGMA synchronous = FULL"
                                         : "PRAGMA synchronous = NORMAL", err, err_size)
        || s_pragma (self->db, "PRAGMA foreign_keys = ON", err, err_size)
        || s_pragma (self->db, "PRAGMA journal_size_limit = 67108864", err, err_size))
        goto fail;
    if (s_migrate (self, err, err_size))
        goto fail;
    /*  Checkpoints (and their fsyncs) happen on another thread, never in a
        commit of the loop (store_checkpoint.c).                            */
    if (s_pragma (self->db, "PRAGMA wal_autocheckpoint = 0", err, err_size))
        goto fail;
    self->checkpointer = store_checkpointer_new (self->path, err, err_size);
    if (!self->checkpointer)
        goto fail;
    for (int i = 0; i < ST_COUNT_; i++)
        if (sqlite3_prepare_v3 (self->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                &self->st[i], NULL) != SQLITE_OK) {
            snprintf (err, err_size, "cannot prepare '%s': %s", store_sql[i],
                      sqlite3_errmsg (self->db));
            goto fail;
        }
    return self;
  fail:
    orch_store_destroy (&self);
    return NULL;
}

void
orch_store_destroy (orch_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orch_store_t *self = *self_p;
    store_checkpointer_destroy (&self->checkpointer);
    for (int i = 0; i < ST_COUNT_; i++)
        sqlite3_finalize (self->st[i]);
    if (self->db)
        sqlite3_close (self->db);
    if (self->lock_fd >= 0)
        close (self->lock_fd);
    free (self->changes);
    free (self);
    *self_p = NULL;
}

const char *
orch_store_path (const orch_store_t *self)
{
    return self->path;
}

uint64_t
orch_store_checkpoints (orch_store_t *self)
{
    return self->checkpointer ? store_checkpointer_runs (self->checkpointer) : 0;
}

int
orch_store_begin (orch_store_t *self)
{
    if (self->depth++ > 0)
        return 0;
    if (store_exec (self, ST_BEGIN)) {
        self->depth = 0;
        return -1;
    }
    return 0;
}

bool
orch_store_in_transaction (const orch_store_t *self)
{
    return self->depth > 0;
}

int
orch_store_commit (orch_store_t *self)
{
    if (self->depth == 0 || --self->depth > 0)
        return 0;
    if (store_exec (self, ST_COMMIT)) {
        /*  A failed COMMIT leaves the transaction open in some cases
            (SQLITE_BUSY); roll back so the connection is usable again.     */
        if (!sqlite3_get_autocommit (self->db))
            store_exec (self, ST_ROLLBACK);
        self->change_count = 0;         /* none of them happened */
        return -1;
    }
    store_deliver_changes (self);
    return 0;
}

void
orch_store_on_change (orch_store_t *self, orch_store_change_fn *fn, void *arg)
{
    self->change_fn = fn;
    self->change_arg = arg;
}

int
store_note_change (orch_store_t *self, const char *id, int64_t ms, const char *event,
                   uint32_t attempt, const char *worker)
{
    if (!self->change_fn)
        return 0;
    if (self->change_count == self->change_cap) {
        size_t cap = self->change_cap ? self->change_cap * 2 : 16;
        store_change_t *grown = realloc (self->changes, cap * sizeof *grown);
        if (!grown)
            return -1;
        self->changes = grown;
        self->change_cap = cap;
    }
    store_change_t *c = &self->changes[self->change_count++];
    snprintf (c->id, sizeof c->id, "%s", id);
    snprintf (c->event, sizeof c->event, "%s", event);
    snprintf (c->worker, sizeof c->worker, "%s", worker ? worker : "");
    c->attempt = attempt;
    c->at_ms = ms;
    const store_change_more_t *more = &self->more;
    c->has_summary = more->summary && strlen (more->summary) < sizeof c->summary;
    if (c->has_summary)
        memcpy (c->summary, more->summary, strlen (more->summary) + 1);
    c->has_exit = more->result != NULL;
    c->has_exit_code = c->has_signal = false;
    c->exit_code = c->signal = 0;
    if (more->result) {
        c->has_exit_code = more->result->has_exit_code;
        c->exit_code = more->result->exit_code;
        c->has_signal = more->result->has_signal;
        c->signal = more->result->signal;
    }
    self->more = (store_change_more_t) { NULL, NULL };
    /*  Outside a transaction the statement has committed already.          */
    if (self->depth == 0)
        store_deliver_changes (self);
    return 0;
}

/*  Status a timeline event leaves the task in.                             */
static proto_status_t
s_event_status (const char *event)
{
    proto_status_t status;
    if (proto_status_parse (event, &status) == 0)
        return status;
    if (strcmp (event, "requeued") == 0)
        return PROTO_STATUS_QUEUED;
    return PROTO_STATUS_RUNNING;        /* cancel_requested */
}

void
store_deliver_changes (orch_store_t *self)
{
    /*  fn may start a transaction of its own; take the list first.        */
    size_t count = self->change_count;
    self->change_count = 0;
    for (size_t i = 0; i < count && self->change_fn; i++) {
        const store_change_t *c = &self->changes[i];
        orch_store_change_t change = {
            .id = c->id, .event = c->event, .status = s_event_status (c->event),
            .attempt = c->attempt, .worker = c->worker[0] ? c->worker : NULL,
            .at_ms = c->at_ms, .summary = c->has_summary ? c->summary : NULL,
            .has_exit = c->has_exit, .has_exit_code = c->has_exit_code,
            .exit_code = c->exit_code, .has_signal = c->has_signal, .signal = c->signal,
        };
        self->change_fn (self->change_arg, &change);
    }
}

int
orch_store_insert (orch_store_t *self, const char *id, const uint8_t *spec,
                   size_t spec_size, const char *summary, int64_t created_ms,
                   const char *key, const char *search, const char *detail)
{
    /*  The row and its first event: both or neither.                      */
    if (store_exec (self, ST_SAVEPOINT))
        return -1;
    sqlite3_stmt *st = self->st[ST_INSERT];
    store_bind_text (st, 1, id);
    sqlite3_bind_blob64 (st, 2, spec, spec_size, SQLITE_STATIC);
    store_bind_text (st, 3, summary);
    sqlite3_bind_int64 (st, 4, created_ms);
    store_bind_text (st, 5, key);
    store_bind_text (st, 6, search ? search : summary);
    int step = sqlite3_step (st);
    sqlite3_reset (st);
    sqlite3_clear_bindings (st);
    int rc = 0;
    if (step == SQLITE_CONSTRAINT_UNIQUE)
        rc = 1;
    else
    if (step != SQLITE_DONE) {
        store_log_error (self, "insert");
        rc = -1;
    }
    else {
        self->more.summary = summary;
        if (store_event (self, id, created_ms, "queued", 0, NULL, detail))
            rc = -1;
        self->more.summary = NULL;
    }
    if (rc)
        store_exec (self, ST_ROLLBACK_TO);
    if (store_exec (self, ST_RELEASE))
        return -1;
    return rc;
}

int
orch_store_state (orch_store_t *self, const char *id, proto_status_t *status,
                  uint32_t *attempt)
{
    sqlite3_stmt *st = self->st[ST_STATE];
    store_bind_text (st, 1, id);
    int rc = sqlite3_step (st);
    int found = 0;
    if (rc == SQLITE_ROW) {
        const char *name = (const char *) sqlite3_column_text (st, 0);
        if (!name || proto_status_parse (name, status))
            *status = PROTO_STATUS_NONE;
        *attempt = (uint32_t) sqlite3_column_int64 (st, 1);
        found = 1;
    }
    else if (rc != SQLITE_DONE) {
        store_log_error (self, "state");
        found = -1;
    }
    sqlite3_reset (st);
    sqlite3_clear_bindings (st);
    return found;
}

/* --- records ------------------------------------------------------------ */

void
orch_record_destroy (orch_record_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orch_record_t *self = *self_p;
    free (self->worker);
    free (self->summary);
    free (self->spec);
    proto_msg_destroy (&self->spec_msg);
    free (self->out);
    free (self->err);
    free (self->error);
    for (size_t i = 0; i < self->file_count; i++) {
        free ((char *) self->files[i].path);
        free ((uint8_t *) self->files[i].content.data);
    }
    free (self->files);
    for (size_t i = 0; i < self->file_ref_count; i++)
        free (self->file_refs[i]);
    free (self->file_refs);
    free (self);
    *self_p = NULL;
}

int
orch_record_decode_spec (orch_record_t *self)
{
    if (self->spec_msg)
        return 0;
    if (!self->spec)
        return -1;
    proto_error_t perr;
    self->spec_msg = proto_decode (PROTO_CH_TASKS, self->spec, self->spec_size,
                                   self->spec_size, &perr);
    if (!self->spec_msg) {
        char quoted[400];
        char text[300];
        snprintf (text, sizeof text, "%s: %s", perr.field, perr.message);
        log_event (CLOG_ERROR, "spec_undecodable", "id=%s reason=%s", self->id,
                   log_quote (quoted, sizeof quoted, text, strlen (text)));
        return -1;
    }
    self->view.task = self->spec_msg->u.task;
    self->view.task.id = NULL;
    self->view.task.attempt = 0;
    return 0;
}

/*  Copy a column's bytes into a new buffer (never NULL unless out of
    memory, even when the column is empty).                                 */
static uint8_t *
s_column_dup (sqlite3_stmt *st, int col, size_t *size)
{
    const void *data = sqlite3_column_blob (st, col);
    size_t n = (size_t) sqlite3_column_bytes (st, col);
    uint8_t *copy = malloc (n + 1);
    if (!copy)
        return NULL;
    if (n)
        memcpy (copy, data, n);
    copy[n] = 0;
    *size = n;
    return copy;
}

static char *
s_column_strdup (sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type (st, col) == SQLITE_NULL)
        return NULL;
    size_t n;
    return (char *) s_column_dup (st, col, &n);
}

static int64_t
s_column_ms (sqlite3_stmt *st, int col)
{
    return sqlite3_column_type (st, col) == SQLITE_NULL ? 0 : sqlite3_column_int64 (st, col);
}

/*  Read one row of RECORD_COLS + spec, stdout, stderr.                     */
orch_record_t *
store_read_row (sqlite3_stmt *st)
{
    orch_record_t *rec = calloc (1, sizeof *rec);
    if (!rec)
        return NULL;
    proto_record_t *v = &rec->view;
    rec->seq = sqlite3_column_int64 (st, 0);
    const char *id = (const char *) sqlite3_column_text (st, 1);
    snprintf (rec->id, sizeof rec->id, "%s", id ? id : "");
    v->id = rec->id;
    const char *status = (const char *) sqlite3_column_text (st, 2);
    if (!status || proto_status_parse (status, &v->status))
        v->status = PROTO_STATUS_NONE;
    rec->terminal = proto_status_is_terminal (v->status);
    v->attempt = (uint32_t) sqlite3_column_int64 (st, 3);
    rec->worker = s_column_strdup (st, 4);
    v->worker = rec->worker;
    rec->summary = s_column_strdup (st, 5);
    v->created_ms = s_column_ms (st, 6);
    v->dispatched_ms = s_column_ms (st, 7);
    v->started_ms = s_column_ms (st, 8);
    v->finished_ms = s_column_ms (st, 9);
    proto_result_t *r = &v->result;
    r->id = rec->id;
    r->attempt = v->attempt;
    r->worker = rec->worker;
    r->status = rec->terminal ? v->status : PROTO_STATUS_NONE;
    r->has_exit_code = sqlite3_column_type (st, 10) != SQLITE_NULL;
    r->exit_code = sqlite3_column_int64 (st, 10);
    r->has_signal = sqlite3_column_type (st, 11) != SQLITE_NULL;
    r->signal = sqlite3_column_int64 (st, 11);
    r->stdout_truncated = sqlite3_column_int (st, 12) != 0;
    r->stderr_truncated = sqlite3_column_int (st, 13) != 0;
    rec->has_usage = sqlite3_column_type (st, 14) != SQLITE_NULL;
    r->wall_ms = (uint64_t) sqlite3_column_int64 (st, 14);
    r->cpu_ms = (uint64_t) sqlite3_column_int64 (st, 15);
    r->max_rss_kb = (uint64_t) sqlite3_column_int64 (st, 16);
    rec->error = s_column_strdup (st, 17);
    r->error = rec->error;
    bool ok = true;
    if (sqlite3_column_type (st, 18) != SQLITE_NULL)
        ok = ok && (rec->spec = s_column_dup (st, 18, &rec->spec_size));
    if (sqlite3_column_type (st, 19) != SQLITE_NULL) {
        ok = ok && (rec->out = s_column_dup (st, 19, &r->stdout_data.size));
        r->stdout_data.data = rec->out;
    }
    if (sqlite3_column_type (st, 20) != SQLITE_NULL) {
        ok = ok && (rec->err = s_column_dup (st, 20, &r->stderr_data.size));
        r->stderr_data.data = rec->err;
    }
    if (!ok)
        orch_record_destroy (&rec);
    return rec;
}

static int
s_load_files (orch_store_t *self, orch_record_t *rec)
{
    sqlite3_stmt *st = self->st[ST_GET_FILES];
    sqlite3_bind_int64 (st, 1, rec->seq);
    int rc;
    int result = 0;
    size_t cap_files = 0, cap_refs = 0;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        int kind = sqlite3_column_int (st, 0);
        char *name = s_column_strdup (st, 1);
        if (!name) {
            result = -1;
            break;
        }
        if (kind == 0) {
            if (rec->file_count == cap_files) {
                cap_files = cap_files ? cap_files * 2 : 4;
                proto_file_t *grown = realloc (rec->files, cap_files * sizeof *grown);
                if (!grown) {
                    free (name);
                    result = -1;
                    break;
                }
                rec->files = grown;
            }
            proto_file_t *f = &rec->files[rec->file_count];
            size_t size = 0;
            uint8_t *content = s_column_dup (st, 2, &size);
            if (!content) {
                free (name);
                result = -1;
                break;
            }
            f->path = name;
            f->content.data = content;
            f->content.size = size;
            rec->file_count++;
        }
        else {
            if (rec->file_ref_count == cap_refs) {
                cap_refs = cap_refs ? cap_refs * 2 : 4;
                char **grown = realloc (rec->file_refs, cap_refs * sizeof *grown);
                if (!grown) {
                    free (name);
                    result = -1;
                    break;
                }
                rec->file_refs = grown;
            }
            rec->file_refs[rec->file_ref_count++] = name;
        }
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        store_log_error (self, "files");
        result = -1;
    }
    sqlite3_reset (st);
    sqlite3_clear_bindings (st);
    rec->view.result.files = rec->files;
    rec->view.result.file_count = rec->file_count;
    rec->view.result.file_refs = (const char **) rec->file_refs;
    rec->view.result.file_ref_count = rec->file_ref_count;
    return result;
}

int
orch_store_get (orch_store_t *self, const char *id, bool full, orch_record_t **out)
{
    sqlite3_stmt *st = self->st[ST_GET];
    store_bind_text (st, 1, id);
    sqlite3_bind_int (st, 2, full);
    int rc = sqlite3_step (st);
    int found = 0;
    orch_record_t *rec = NULL;
    if (rc == SQLITE_ROW) {
        rec = store_read_row (st);
        found = rec ? 1 : -1;
    }
    else if (rc != SQLITE_DONE) {
        store_log_error (self, "get");
        found = -1;
    }
    sqlite3_reset (st);
    sqlite3_clear_bindings (st);
    if (found == 1 && full) {
        rec->full = true;
        if (s_load_files (self, rec)) {
            orch_record_destroy (&rec);
            found = -1;
        }
    }
    *out = rec;
    return found;
}

void
orch_store_list_free (orch_record_t ***items_p, size_t count)
{
    if (!items_p || !*items_p)
        return;
    for (size_t i = 0; i < count; i++)
        orch_record_destroy (&(*items_p)[i]);
    free (*items_p);
    *items_p = NULL;
}

int
orch_store_list (orch_store_t *self, proto_status_t status, int64_t before_seq,
                 size_t limit, bool with_spec, orch_record_t ***items, size_t *count)
{
    orch_store_query_t q = {
        .statuses = status == PROTO_STATUS_NONE ? 0 : 1u << status,
        .before_seq = before_seq, .limit = limit ? limit : 1, .with_spec = with_spec,
    };
    bool more;
    return orch_store_query (self, &q, items, count, &more);
}

int
orch_store_scan (orch_store_t *self, proto_status_t status, orch_store_scan_fn *fn, void *arg)
{
    sqlite3_stmt *st = self->st[ST_SCAN];
    store_bind_text (st, 1, proto_status_name (status));
    int rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        const char *id = (const char *) sqlite3_column_text (st, 0);
        if (id)
            fn (arg, id, (uint32_t) sqlite3_column_int64 (st, 1));
    }
    sqlite3_reset (st);
    sqlite3_clear_bindings (st);
    if (rc != SQLITE_DONE) {
        store_log_error (self, "scan");
        return -1;
    }
    return 0;
}

int
orch_store_count (orch_store_t *self, uint64_t *counts)
{
    memset (counts, 0, sizeof *counts * PROTO_STATUS_COUNT_);
    sqlite3_stmt *st = self->st[ST_COUNT];
    int rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        const char *name = (const char *) sqlite3_column_text (st, 0);
        proto_status_t status;
        if (name && proto_status_parse (name, &status) == 0)
            counts[status] = (uint64_t) sqlite3_column_int64 (st, 1);
    }
    sqlite3_reset (st);
    if (rc != SQLITE_DONE) {
        store_log_error (self, "count");
        return -1;
    }
    return 0;
}
