/*  store.h - durable task state in SQLite (WAL).

    One database file, DATA_DIR/cleudo.db, owned by one orchestrator at a
    time (an flock on DATA_DIR/lock). Every write that a client is told
    about is committed before the client hears of it.

    What survives what (the journal is a WAL; ORCH_DURABILITY chooses
    synchronous=NORMAL or FULL):
      * a crash of the process (kill -9, abort, OOM kill): every committed
        transaction, in both modes. A commit has reached the operating
        system's page cache before the client is answered.
      * a crash of the machine (power loss, kernel panic): with "full"
        every commit is fsync'ed first, so nothing acknowledged is lost;
        with "normal" (the default) the transactions since the last WAL
        checkpoint may be rolled back. Tasks then come back in an earlier
        state (e.g. running again) and recovery re-runs them: at least once.
      * a lost disk: nothing. Copy the database (sqlite3 .backup) elsewhere.

    Status transitions are guarded in SQL, so a late or duplicated frame can
    never move a task backwards or overwrite a terminal result:
      queued -> dispatched        (attempt := attempt + 1)
      dispatched -> queued        (undo when the send failed: attempt - 1)
      dispatched|running -> queued  (requeue: lease expired, worker lost)
      dispatched|queued -> running  (started, same attempt only)
      non-terminal -> terminal    (a result: the same attempt, or an older
                                   one while no newer attempt runs unless
                                   it is "cancelled" (our own cancel of a
                                   superseded run); or lost / cancelled
                                   decided here.) The first terminal
                                   status wins.
    Every transition that applies appends an event to the task's timeline
    (table task_events) in the same transaction.

    Schema history (PRAGMA user_version):
      1  tasks, task_files
      2  task_events, tasks.lost_runs, tasks.cancel_ms, index on finished_ms
      3  tasks.search (lowercase argv and code, for text search)
*/
#ifndef ORCH_STORE_H_INCLUDED
#define ORCH_STORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orch.h"
#include "proto.h"

#define ORCH_STORE_SCHEMA_VERSION 3

/*  A task as stored, with a proto_record_t view over its own storage.
    The view's strings and byte fields point into this struct; view.task is
    empty until orch_record_decode_spec () succeeds.                       */
typedef struct {
    proto_record_t view;                /* what clients see (pointers below) */
    int64_t seq;                        /* insertion order, newest highest */
    char id[PROTO_ID_MAX + 1];          /* task id */
    char *worker;                       /* owned, or NULL */
    char *summary;                      /* owned, one-line description */
    uint8_t *spec;                      /* owned encoded "task" frame, or NULL */
    size_t spec_size;                   /* its size */
    proto_msg_t *spec_msg;              /* decoded spec, or NULL */
    bool terminal;                      /* status is terminal */
    bool has_usage;                     /* wall_ms, cpu_ms, max_rss_kb known */
    bool full;                          /* outputs and files were loaded */
    uint8_t *out;                       /* owned stdout bytes */
    uint8_t *err;                       /* owned stderr bytes */
    char *error;                        /* owned error text, or NULL */
    proto_file_t *files;                /* owned collected files */
    size_t file_count;
    char **file_refs;                   /* owned names in the shared volume */
    size_t file_ref_count;
} orch_record_t;

void orch_record_destroy (orch_record_t **self_p);

/*  Decode self->spec into self->view.task (once). 0 or -1.                 */
int orch_record_decode_spec (orch_record_t *self);

/*  Open (and create or migrate) DATA_DIR/cleudo.db. full_sync: every commit
    reaches the disk (synchronous=FULL) rather than only the WAL (NORMAL). */
orch_store_t *orch_store_new (const char *data_dir, bool full_sync, char *err, size_t err_size);
void orch_store_destroy (orch_store_t **self_p);

/*  Group several writes into one commit. Nested begin/commit pairs are
    counted; only the outermost commits.                                    */
int orch_store_begin (orch_store_t *self);
int orch_store_commit (orch_store_t *self);
/*  Inside a begin/commit pair (outermost commit not reached yet).         */
bool orch_store_in_transaction (const orch_store_t *self);

/*  Insert a queued task (and its "queued" event). spec is the encoded
    "task" frame; key, the idempotency key, may be NULL; search is what a
    text search matches (lowercase; NULL: the summary); detail goes into
    the "queued" event (e.g. "rerun of ID"), may be NULL. Returns 0, 1 when
    the id (or key) exists already, -1 on a database error.                 */
int orch_store_insert (orch_store_t *self, const char *id, const uint8_t *spec,
                       size_t spec_size, const char *summary, int64_t created_ms,
                       const char *key, const char *search, const char *detail);

/*  Every timeline event, told once its transaction has committed (never
    for one rolled back), in order: the event stream and the statistics
    are fed from here. status is what the task is now.                    */
typedef struct {
    const char *id;
    const char *event;                  /* as in the timeline */
    proto_status_t status;
    uint32_t attempt;
    const char *worker;                 /* or NULL */
    int64_t at_ms;
    const char *summary;                /* "queued": the task's; else NULL */
    bool has_exit;                      /* a terminal event from a result: */
    bool has_exit_code, has_signal;     /* its exit code and signal */
    int64_t exit_code, signal;
} orch_store_change_t;
typedef void (orch_store_change_fn) (void *arg, const orch_store_change_t *change);
void orch_store_on_change (orch_store_t *self, orch_store_change_fn *fn, void *arg);

/*  The task stored under an idempotency key: 1 with its id copied into id
    (PROTO_ID_MAX + 1 bytes), 0 none, -1 error.                             */
int orch_store_find_key (orch_store_t *self, const char *key, char *id);

/*  Transitions (store_flow.c): 1 applied, 0 refused by the guard (see
    above), -1 error.                                                        */
int orch_store_set_dispatched (orch_store_t *self, const char *id, uint32_t attempt,
                               int64_t ms);
int orch_store_undo_dispatched (orch_store_t *self, const char *id, uint32_t attempt);
int orch_store_set_started (orch_store_t *self, const char *id, uint32_t attempt,
                            const char *worker, int64_t ms);
int orch_store_set_result (orch_store_t *self, const proto_result_t *result, int64_t ms);
/*  dispatched|running attempt -> queued (attempt kept: the next dispatch
    is attempt + 1). lost_run: the run ended with its worker (counts toward
    ORCH_MAX_ATTEMPTS). worker and reason go into the "requeued" event.     */
int orch_store_requeue (orch_store_t *self, const char *id, uint32_t attempt, bool lost_run,
                        const char *worker, const char *reason, int64_t ms);
/*  Any non-terminal status -> terminal status (lost, cancelled) decided by
    the orchestrator, with error as the reason. attempt 0: whatever it is. */
int orch_store_finish (orch_store_t *self, const char *id, uint32_t attempt,
                       proto_status_t status, const char *worker, const char *error,
                       int64_t ms);
/*  A client asked to cancel the running attempt: remember when (once).   */
int orch_store_cancel_requested (orch_store_t *self, const char *id, uint32_t attempt,
                                 const char *worker, int64_t ms);

/*  Status and attempt of a task: 1 found, 0 unknown, -1 error.             */
int orch_store_state (orch_store_t *self, const char *id, proto_status_t *status,
                      uint32_t *attempt);

/*  What recovery needs to know of a task (store_admin.c).                  */
typedef struct {
    char id[PROTO_ID_MAX + 1];          /* the task */
    proto_status_t status;              /* current status */
    uint32_t attempt;                   /* current attempt (dispatch count) */
    uint32_t lost_runs;                 /* runs that ended with their worker */
    int64_t cancel_ms;                  /* when a cancel was asked, 0: never */
    char worker[PROTO_NAME_MAX + 1];    /* worker of the running attempt, "" */
} orch_task_state_t;

/*  1 found, 0 unknown, -1 error.                                           */
int orch_store_lookup (orch_store_t *self, const char *id, orch_task_state_t *state);

/*  Call fn for every dispatched or running task, oldest first. 0 or -1.   */
typedef void (orch_store_inflight_fn) (void *arg, const orch_task_state_t *state);
int orch_store_scan_inflight (orch_store_t *self, orch_store_inflight_fn *fn, void *arg);

/*  One entry of a task's timeline.                                         */
typedef struct {
    int64_t at_ms;                      /* Unix ms */
    char event[24];                     /* queued, dispatched, started,
                                           requeued, cancel_requested, or a
                                           terminal status name */
    uint32_t attempt;                   /* 0: not about an attempt */
    char *worker;                       /* owned, or NULL */
    char *detail;                       /* owned, or NULL: why */
} orch_event_t;

/*  The timeline of task id, oldest first: *items malloc'd (free with
    orch_store_events_free). 0 or -1.                                       */
int orch_store_events (orch_store_t *self, const char *id, orch_event_t **items,
                       size_t *count);
void orch_store_events_free (orch_event_t **items, size_t count);

/*  Retention: delete up to limit finished tasks (with their files and
    timelines) that finished before before_ms. Returns how many, or -1.    */
int64_t orch_store_prune (orch_store_t *self, int64_t before_ms, size_t limit);

/*  Load one task. full: with stdout, stderr and files. 1/0/-1.             */
int orch_store_get (orch_store_t *self, const char *id, bool full, orch_record_t **out);

/*  Newest first, optionally of one status (NONE: any), seq < before_seq
    (0: no bound), at most limit; never with outputs or files; with the
    spec only when with_spec (orch_store_query with these filters). *items is a malloc'd array of records: free
    with orch_store_list_free. 0 or -1.                                     */
int orch_store_list (orch_store_t *self, proto_status_t status, int64_t before_seq,
                     size_t limit, bool with_spec, orch_record_t ***items, size_t *count);
void orch_store_list_free (orch_record_t ***items, size_t count);

/*  A filtered page of tasks (store_query.c), newest first.                */
typedef struct {
    uint32_t statuses;                  /* bit (1 << status); 0: any */
    const char *text;                   /* substring of argv/code, or NULL */
    int64_t since_ms;                   /* created at or after; 0: any */
    int64_t until_ms;                   /* created before; 0: any */
    int64_t before_seq;                 /* cursor: seq < this; 0: none */
    size_t limit;                       /* 1.. */
    bool with_spec;                     /* load the spec too */
} orch_store_query_t;

/*  Like orch_store_list, filtered. *more tells whether more rows follow.   */
int orch_store_query (orch_store_t *self, const orch_store_query_t *query,
                      orch_record_t ***items, size_t *count, bool *more);

/*  One collected file's content: 1 found (*data malloc'd), 0 no such task
    or file, -1 error. *is_ref: the name is a file left in the shared volume
    (no content here).                                                     */
int orch_store_file (orch_store_t *self, const char *id, const char *name, uint8_t **data,
                     size_t *size, bool *is_ref);

/*  A task lost with its worker keeps the output streamed before (stdout and
    stderr were never set for it). 1 stored, 0 not lost / had output, -1.  */
int orch_store_keep_output (orch_store_t *self, const char *id, const uint8_t *out,
                            size_t out_len, const uint8_t *err, size_t err_len);

/*  Call fn for every task of a status, oldest first. 0 or -1.             */
typedef void (orch_store_scan_fn) (void *arg, const char *id, uint32_t attempt);
int orch_store_scan (orch_store_t *self, proto_status_t status, orch_store_scan_fn *fn,
                     void *arg);

/*  Number of tasks per status into counts[PROTO_STATUS_COUNT_]. 0 or -1.   */
int orch_store_count (orch_store_t *self, uint64_t *counts);

/*  Checkpoints that copied WAL frames into the database so far (they run
    on a thread of their own, never inside a commit).                     */
uint64_t orch_store_checkpoints (orch_store_t *self);

/*  The database file's path (for logs).                                    */
const char *orch_store_path (const orch_store_t *self);

#endif
