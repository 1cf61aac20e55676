/*  tasks.h - accepting a task: the one path shared by HTTP and the CLI.

    Accepting means: a new time-sortable id, the task encoded as the
    "task" frame of attempt 1 (this is what the store keeps as the spec,
    and what the first dispatch sends unchanged), the row committed as
    queued, the id queued for dispatch. Only then may the client be told.
*/
#ifndef ORCH_TASKS_H_INCLUDED
#define ORCH_TASKS_H_INCLUDED

#include "orch.h"
#include "proto.h"

/*  0 with the new id in id (PROTO_ID_MAX + 1 bytes), or -1 with err:
    413 "too_large" (the frame would exceed ORCH_MAX_FRAME), 400 (the task
    violates the wire contract), 500 "internal" (database).                */
int orch_tasks_accept (orch_t *orch, const proto_task_t *task, char *id, orch_err_t *err);

#endif
