/*  tasks.h - accepting a task: the one path shared by HTTP and the CLI.

    Accepting means: a new time-sortable id, the task encoded as the
    "task" frame of attempt 1 (this is what the store keeps as the spec,
    and what the first dispatch sends unchanged), the row and its "queued"
    event committed, the id queued for dispatch. Only then may the client
    be told (durability: store.h).

    Idempotency: with a key, a task already stored under the same key is
    returned instead of a new one (the body of the repeated request is not
    compared; the key wins). Keys live as long as their task (retention).

    Backpressure: at most ORCH_MAX_QUEUED tasks may wait (queued, or sent
    and not started); beyond, new tasks are refused with 429 "queue_full".
    A repeated key is answered even then: its task exists already.
*/
#ifndef ORCH_TASKS_H_INCLUDED
#define ORCH_TASKS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "orch.h"
#include "proto.h"

/*  0 with the id in id (PROTO_ID_MAX + 1 bytes) and *existed telling
    whether the key named a task stored before; or -1 with err:
    400 (a bad key, or the task violates the wire contract), 413
    "too_large" (the frame would exceed ORCH_MAX_FRAME), 429 "queue_full",
    500 "internal" (database). key may be NULL.                              */
int orch_tasks_accept (orch_t *orch, const proto_task_t *task, const char *key, char *id,
                       bool *existed, orch_err_t *err);

/*  The same, recording that the task is a re-run of task rerun_of (NULL:
    it is not).                                                             */
int orch_tasks_accept_from (orch_t *orch, const proto_task_t *task, const char *key,
                            const char *rerun_of, char *id, bool *existed, orch_err_t *err);

/*  Accept the task of id again under a new id (written to new_id,
    PROTO_ID_MAX + 1 bytes). 0, or -1 with err: 400 bad id, 404 unknown,
    413, 429, 500 as for accept.                                            */
int orch_tasks_rerun (orch_t *orch, const char *id, char *new_id, orch_err_t *err);

/*  Tasks waiting for a worker: queued, or sent and not started.            */
size_t orch_tasks_waiting (const orch_t *orch);

/*  An idempotency key is 1..256 bytes without control characters.         */
bool orch_tasks_valid_key (const char *key);

#endif
