/*  tasks.c - accept a task: id, encode, commit, queue, log.                */
#include "tasks.h"
#include "dispatch.h"
#include "log.h"
#include "orch_config.h"
#include "store.h"
#include "task_summary.h"

#include <stdlib.h>
#include <string.h>

int
orch_tasks_accept (orch_t *orch, const proto_task_t *task, char *id, orch_err_t *err)
{
    proto_msg_t msg = { .type = PROTO_TASK };
    msg.u.task = *task;
    msg.u.task.attempt = 1;
    uint8_t *frame = NULL;
    size_t size = 0;
    int rc = 1;
    /*  Two tries: a clash of 32 random bits within one millisecond is
        unlikely enough that a second clash means a broken random source.  */
    for (int tries = 0; tries < 2 && rc == 1; tries++) {
        orch_new_task_id (id, PROTO_ID_MAX + 1);
        msg.u.task.id = id;
        free (frame);
        frame = NULL;
        if (proto_encode (&msg, &frame, &size))
            /*  The HTTP and CLI paths validate first; this is a backstop.  */
            return orch_err (err, 400, "bad_request", "task",
                             "does not satisfy the wire protocol");
        if ((int64_t) size > orch->cfg->max_frame) {
            free (frame);
            return orch_err (err, 413, "too_large", "task",
                             "encodes to %zu bytes, above the frame limit of %lld bytes"
                             " (ORCH_MAX_FRAME)", size, (long long) orch->cfg->max_frame);
        }
        char *summary = task_summary (task);
        rc = orch_store_insert (orch->store, id, frame, size, summary ? summary : "",
                                orch_now_ms ());
        free (summary);
    }
    free (frame);
    if (rc != 0)
        return orch_err (err, 500, "internal", NULL, "cannot store the task");
    if (orch_dispatch_enqueue (orch->dispatch, id))
        log_event (CLOG_ERROR, "queue_full", "id=%s (queued on disk; a restart picks it up)",
                   id);
    log_event (CLOG_INFO, "task_accepted", "id=%s size=%zu", id, size);
    return 0;
}
