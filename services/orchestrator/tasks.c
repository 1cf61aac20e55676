/*  tasks.c - accept a task: key, room, id, encode, commit, queue, log.     */
#include "tasks.h"
#include "dispatch.h"
#include "leases.h"
#include "log.h"
#include "orch_config.h"
#include "store.h"
#include "task_summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEARCH_MAX (16 * 1024)          /* bytes of argv/code searchable */

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

/*  Append at most SEARCH_MAX bytes in total, ASCII lowercased (SQLite's
    instr() then matches case-insensitively for ASCII).                    */
static void
s_search_add (char *buf, size_t *len, const void *data, size_t size)
{
    const uint8_t *bytes = data;
    for (size_t i = 0; i < size && *len < SEARCH_MAX; i++) {
        uint8_t c = bytes[i];
        buf[(*len)++] = c >= 'A' && c <= 'Z' ? (char) (c + 32) : c ? (char) c : ' ';
    }
    buf[*len] = '\0';
}

/*  What a text search over argv and code looks at. malloc'd or NULL.      */
static char *
s_search_text (const proto_task_t *task)
{
    char *buf = malloc (SEARCH_MAX + 1);
    if (!buf)
        return NULL;
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < task->argc; i++) {
        if (i)
            s_search_add (buf, &len, " ", 1);
        s_search_add (buf, &len, task->argv[i], strlen (task->argv[i]));
    }
    if (task->lang != PROTO_LANG_NONE) {
        const char *lang = proto_lang_name (task->lang);
        s_search_add (buf, &len, lang, strlen (lang));
        s_search_add (buf, &len, "\n", 1);
        s_search_add (buf, &len, task->code.data, task->code.size);
    }
    return buf;
}

int
orch_tasks_accept (orch_t *orch, const proto_task_t *task, const char *key, char *id,
                   bool *existed, orch_err_t *err)
{
    return orch_tasks_accept_from (orch, task, key, NULL, id, existed, err);
}

int
orch_tasks_accept_from (orch_t *orch, const proto_task_t *task, const char *key,
                        const char *rerun_of, char *id, bool *existed, orch_err_t *err)
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
        char *search = s_search_text (task);
        char detail[PROTO_ID_MAX + 16];
        if (rerun_of)
            snprintf (detail, sizeof detail, "rerun of %s", rerun_of);
        rc = orch_store_insert (orch->store, id, frame, size, summary ? summary : "",
                                orch_now_ms (), key, search, rerun_of ? detail : NULL);
        free (summary);
        free (search);
    }
    free (frame);
    if (orch_store_commit (orch->store) || rc != 0)
        return orch_err (err, 500, "internal", NULL, "cannot store the task");
    /*  Committed: durable from here on (store.h says what survives what). */
    if (orch_dispatch_enqueue (orch->dispatch, id))
        log_event (CLOG_ERROR, "queue_full", "id=%s (queued on disk; a restart picks it up)",
                   id);
    log_event (CLOG_INFO, "task_accepted", "id=%s size=%zu%s%s%s", id, size,
               key ? " key=yes" : "", rerun_of ? " rerun_of=" : "", rerun_of ? rerun_of : "");
    return 0;
}

int
orch_tasks_rerun (orch_t *orch, const char *id, char *new_id, orch_err_t *err)
{
    if (!proto_valid_id (id, strlen (id)))
        return orch_err (err, 400, "bad_request", "id", "must be 1..64 characters of"
                         " [A-Za-z0-9_-]");
    orch_record_t *rec = NULL;
    int found = orch_store_get (orch->store, id, false, &rec);
    if (found == 0)
        return orch_err (err, 404, "not_found", NULL, "no task with id %s", id);
    /*  The list statement leaves the spec out; the single get keeps it.   */
    if (found < 0 || orch_record_decode_spec (rec)) {
        orch_record_destroy (&rec);
        return orch_err (err, 500, "internal", NULL, "cannot read task %s", id);
    }
    bool existed = false;
    int rc = orch_tasks_accept_from (orch, &rec->view.task, NULL, id, new_id, &existed, err);
    orch_record_destroy (&rec);
    return rc;
}
