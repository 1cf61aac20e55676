/*  tasks.c - accept a task: key, room, id, encode, commit, queue, log.     */
#include "tasks.h"
#include "dispatch.h"
#include "leases.h"
#include "log.h"
#include "orch_config.h"
#include "store.h"
#include "task_summary.h"

#include <stdlib.h>
#include <string.h>

size_t
orch_tasks_waiting (const orch_t *orch)
{
    return orch_dispatch_queued (orch->dispatch) + orch_leases_waiting (orch->leases);
}

bool
orch_tasks_valid_key (const char *key)
{
    size_t len = key ? strlen (key) : 0;
    if (len < 1 || len > PROTO_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) key[i] < 0x20 || key[i] == 0x7f)
            return false;
    return true;
}

int
orch_tasks_accept (orch_t *orch, const proto_task_t *task, const char *key, char *id,
                   bool *existed, orch_err_t *err)
{
    *existed = false;
    if (key) {
        if (!orch_tasks_valid_key (key))
            return orch_err (err, 400, "bad_request", "key",
                             "must be 1..256 bytes without control characters");
        int found = orch_store_find_key (orch->store, key, id);
        if (found < 0)
            return orch_err (err, 500, "internal", NULL, "cannot read the task store");
        if (found) {
            *existed = true;
            log_event (CLOG_INFO, "task_replayed", "id=%s (idempotency key seen before)", id);
            return 0;
        }
    }
    size_t waiting = orch_tasks_waiting (orch);
    if ((int64_t) waiting >= orch->cfg->max_queued)
        return orch_err (err, 429, "queue_full", NULL,
                         "%zu tasks are waiting for a worker (ORCH_MAX_QUEUED=%lld); retry"
                         " later", waiting, (long long) orch->cfg->max_queued);

    proto_msg_t msg = { .type = PROTO_TASK };
    msg.u.task = *task;
    msg.u.task.attempt = 1;
    uint8_t *frame = NULL;
    size_t size = 0;
    int rc = 1;
    if (orch_store_begin (orch->store))
        return orch_err (err, 500, "internal", NULL, "cannot store the task");
    /*  Two tries: a clash of 32 random bits within one millisecond is
        unlikely enough that a second clash means a broken random source.  */
    for (int tries = 0; tries < 2 && rc == 1; tries++) {
        orch_new_task_id (id, PROTO_ID_MAX + 1);
        msg.u.task.id = id;
        free (frame);
        frame = NULL;
        if (proto_encode (&msg, &frame, &size)) {
            /*  The HTTP and CLI paths validate first; this is a backstop.  */
            orch_store_commit (orch->store);
            return orch_err (err, 400, "bad_request", "task",
                             "does not satisfy the wire protocol");
        }
        if ((int64_t) size > orch->cfg->max_frame) {
            free (frame);
            orch_store_commit (orch->store);
            return orch_err (err, 413, "too_large", "task",
                             "encodes to %zu bytes, above the frame limit of %lld bytes"
                             " (ORCH_MAX_FRAME)", size, (long long) orch->cfg->max_frame);
        }
        char *summary = task_summary (task);
        rc = orch_store_insert (orch->store, id, frame, size, summary ? summary : "",
                                orch_now_ms (), key);
        free (summary);
    }
    free (frame);
    if (orch_store_commit (orch->store) || rc != 0)
        return orch_err (err, 500, "internal", NULL, "cannot store the task");
    /*  Committed: durable from here on (store.h says what survives what). */
    if (orch_dispatch_enqueue (orch->dispatch, id))
        log_event (CLOG_ERROR, "queue_full", "id=%s (queued on disk; a restart picks it up)",
                   id);
    log_event (CLOG_INFO, "task_accepted", "id=%s size=%zu%s", id, size,
               key ? " key=yes" : "");
    return 0;
}
