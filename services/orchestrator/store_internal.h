/*  store_internal.h - shared by the store's files, private to them.

    store.c        opening, schema and migrations, records, queries
    store_flow.c   status transitions, each with its timeline event
    store_admin.c  idempotency keys, recovery scans, the timeline, retention
*/
#ifndef ORCH_STORE_INTERNAL_H_INCLUDED
#define ORCH_STORE_INTERNAL_H_INCLUDED

#include "store.h"

#include <sqlite3.h>

/*  The statements, by purpose (their SQL is store_sql[], in store.c).     */
enum {
    ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
    ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO,
    ST_INSERT, ST_DISPATCHED, ST_UNDISPATCH, ST_STARTED, ST_RESULT, ST_FILE,
    ST_STATE, ST_GET, ST_GET_FILES, ST_SCAN, ST_COUNT,
    ST_EVENT, ST_UNEVENT, ST_REQUEUE, ST_FINISH, ST_CANCEL_REQ, ST_FIND_KEY,
    ST_LOOKUP, ST_SCAN_INFLIGHT, ST_EVENTS, ST_PRUNE,
    ST_COUNT_
};

#define NON_TERMINAL "('queued','dispatched','running')"

/*  The columns of a record, then spec, stdout, stderr: store_read_row ().  */
#define RECORD_COLS \
    "seq, id, status, attempt, worker, summary, created_ms, dispatched_ms, started_ms," \
    " finished_ms, exit_code, signal, stdout_truncated, stderr_truncated, wall_ms," \
    " cpu_ms, max_rss_kb, error"

/*  A change made in the open transaction, told to the listener after the
    commit (store_deliver_changes) or forgotten with a rollback.          */
typedef struct {
    char id[PROTO_ID_MAX + 1];
    char event[24];
    char worker[PROTO_NAME_MAX + 1];
    uint32_t attempt;
    int64_t at_ms;
    /*  What the listener would otherwise read back from the row.          */
    bool has_summary;                   /* "queued": the task's summary */
    char summary[232];
    bool has_exit;                      /* terminal from a result */
    bool has_exit_code, has_signal;
    int64_t exit_code, signal;
} store_change_t;

/*  What the next noted change carries besides its event (store_note_change
    takes it and clears it).                                                */
typedef struct {
    const char *summary;
    const proto_result_t *result;
} store_change_more_t;

/*  The thread that checkpoints the WAL (store_checkpoint.c).              */
typedef struct store_checkpointer_t store_checkpointer_t;
store_checkpointer_t *store_checkpointer_new (const char *path, char *err, size_t err_size);
void store_checkpointer_destroy (store_checkpointer_t **self_p);
uint64_t store_checkpointer_runs (store_checkpointer_t *self);

struct orch_store_t {
    sqlite3 *db;                        /* the one connection */
    sqlite3_stmt *st[ST_COUNT_];        /* prepared once, reset after use */
    int depth;                          /* nested begin count */
    int lock_fd;                        /* flock on DATA_DIR/lock */
    char path[4096];                    /* database file */
    store_checkpointer_t *checkpointer; /* WAL checkpoints off the loop */
    orch_store_change_fn *change_fn;    /* listener, or NULL */
    void *change_arg;
    store_change_t *changes;            /* not yet committed */
    store_change_more_t more;           /* for the next one */
    size_t change_count;
    size_t change_cap;
};

extern const char *const store_sql[ST_COUNT_];

/*  Log the connection's last error for operation what.                    */
void store_log_error (orch_store_t *self, const char *what);
/*  Run a statement that returns no rows (then reset it): 0 or -1.          */
int store_exec (orch_store_t *self, int which);
/*  Run an UPDATE / DELETE: 1 if a row changed, 0 if none, -1 error.       */
int store_update (orch_store_t *self, int which);
/*  Bind text (NULL: SQL NULL) / bytes (never NULL) without copying.       */
int store_bind_text (sqlite3_stmt *st, int at, const char *text);
int store_bind_bytes (sqlite3_stmt *st, int at, proto_bytes_t b);

/*  Append one event to the timeline of task id. attempt 0 and NULL worker
    / detail are stored as NULL. 0 or -1.                                   */
int store_event (orch_store_t *self, const char *id, int64_t ms, const char *event,
                 uint32_t attempt, const char *worker, const char *detail);

/*  A record from a row of RECORD_COLS, spec, stdout, stderr (NULL when out
    of memory).                                                             */
orch_record_t *store_read_row (sqlite3_stmt *st);

/*  Remember a timeline event for the listener. 0 or -1 (out of memory).   */
int store_note_change (orch_store_t *self, const char *id, int64_t ms, const char *event,
                       uint32_t attempt, const char *worker);
/*  Tell the listener about every remembered change, then forget them.     */
void store_deliver_changes (orch_store_t *self);

#endif
