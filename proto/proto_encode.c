/*  proto_encode.c - proto_msg_t -> one msgpack frame.

    The encoder checks what it writes against the same rules the decoder
    enforces (ids, names, paths, env keys, limits, counts, terminal
    statuses), so a frame we emit is never one a peer must reject. Keys
    are written in a fixed order; byte payloads are always msgpack bin.

    One growing buffer per frame, pre-sized from the payload sizes, so a
    frame costs one malloc (the buffer handed to the caller), not one per
    field.
*/
#include "proto_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    msgpack_packer pk;                  /* writes into data */
    uint8_t *data;                      /* the frame being built */
    size_t size;                        /* bytes written */
    size_t cap;                         /* bytes allocated */
    bool bad;                           /* out of memory or invalid msg */
} enc_t;

static int
s_write (void *self_, const char *buf, size_t len)
{
    enc_t *self = (enc_t *) self_;
    if (self->bad)
        return -1;
    if (len > self->cap - self->size) {
        size_t cap = self->cap ? self->cap : 256;
        while (cap - self->size < len) {
            if (cap > SIZE_MAX / 2) {
                self->bad = true;
                return -1;
            }
            cap *= 2;
        }
        uint8_t *grown = (uint8_t *) realloc (self->data, cap);
        if (!grown) {
            self->bad = true;
            return -1;
        }
        self->data = grown;
        self->cap = cap;
    }
    memcpy (self->data + self->size, buf, len);
    self->size += len;
    return 0;
}

/*  ---- primitives: each checks what it writes --------------------------  */

static void
s_invalid (enc_t *enc)
{
    enc->bad = true;
}

static void
s_key (enc_t *enc, const char *key)
{
    size_t len = strlen (key);
    msgpack_pack_str (&enc->pk, len);
    msgpack_pack_str_body (&enc->pk, key, len);
}

static void
s_text (enc_t *enc, const char *text)
{
    if (!text) {
        s_invalid (enc);
        return;
    }
    s_key (enc, text);
}

static void
s_name (enc_t *enc, const char *name)
{
    if (!name || !proto_valid_name (name, strlen (name), PROTO_NAME_MAX))
        s_invalid (enc);
    else
        s_key (enc, name);
}

static void
s_id (enc_t *enc, const char *id)
{
    if (!id || !proto_valid_id (id, strlen (id)))
        s_invalid (enc);
    else
        s_key (enc, id);
}

static void
s_path (enc_t *enc, const char *path)
{
    if (!path || !proto_valid_rel_path (path, strlen (path), NULL))
        s_invalid (enc);
    else
        s_key (enc, path);
}

static void
s_bytes (enc_t *enc, proto_bytes_t bytes)
{
    if (!bytes.data && bytes.size) {
        s_invalid (enc);
        return;
    }
    msgpack_pack_bin (&enc->pk, bytes.size);
    if (bytes.size)
        msgpack_pack_bin_body (&enc->pk, bytes.data, bytes.size);
}

static void
s_uint (enc_t *enc, uint64_t value)
{
    msgpack_pack_uint64 (&enc->pk, value);
}

static void
s_int (enc_t *enc, int64_t value)
{
    msgpack_pack_int64 (&enc->pk, value);
}

static void
s_bool (enc_t *enc, bool value)
{
    if (value)
        msgpack_pack_true (&enc->pk);
    else
        msgpack_pack_false (&enc->pk);
}

static void
s_int_or_nil (enc_t *enc, bool has, int64_t value)
{
    if (has)
        s_int (enc, value);
    else
        msgpack_pack_nil (&enc->pk);
}

static void
s_attempt (enc_t *enc, uint32_t attempt)
{
    if (attempt < 1)
        s_invalid (enc);
    s_uint (enc, attempt);
}

static void
s_status (enc_t *enc, proto_status_t status, bool terminal)
{
    if (status <= PROTO_STATUS_NONE || status >= PROTO_STATUS_COUNT_
    ||  (terminal && !proto_status_is_terminal (status)))
        s_invalid (enc);
    else
        s_key (enc, proto_status_name (status));
}

/*  ---- lists and maps ------------------------------------------------------  */

/*  Attempts parallel to a list of count ids (each >= 1).                   */
static void
s_attempts (enc_t *enc, const uint32_t *list, size_t count)
{
    if (count > PROTO_LIST_MAX || (count && !list)) {
        s_invalid (enc);
        return;
    }
    msgpack_pack_array (&enc->pk, count);
    for (size_t i = 0; i < count && !enc->bad; i++)
        s_attempt (enc, list[i]);
}

typedef enum { S_ARGV, S_PATH, S_ID } s_strings_t;

static void
s_strings (enc_t *enc, const char *const *list, size_t count, s_strings_t what)
{
    size_t max = what == S_ARGV ? PROTO_ARGV_MAX
               : what == S_PATH ? PROTO_FILES_MAX : PROTO_LIST_MAX;
    if (count > max || (count && !list)) {
        s_invalid (enc);
        return;
    }
    msgpack_pack_array (&enc->pk, count);
    for (size_t i = 0; i < count && !enc->bad; i++) {
        if (what == S_PATH)
            s_path (enc, list[i]);
        else
        if (what == S_ID)
            s_id (enc, list[i]);
        else
        if (!list[i] || (i == 0 && list[0][0] == '\0'))
            s_invalid (enc);
        else
            s_text (enc, list[i]);
    }
}

static void
s_unique (enc_t *enc, const void *items, size_t count, size_t stride)
{
    const char *dup = NULL;
    if (proto_find_duplicate (items, count, stride, NULL, &dup) != 0)
        s_invalid (enc);
}

static void
s_files (enc_t *enc, const proto_file_t *files, size_t count)
{
    if (count > PROTO_FILES_MAX || !files) {
        s_invalid (enc);
        return;
    }
    for (size_t i = 0; i < count; i++)
        if (!files[i].path) {
            s_invalid (enc);
            return;
        }
    s_unique (enc, files, count, sizeof *files);
    msgpack_pack_map (&enc->pk, count);
    for (size_t i = 0; i < count && !enc->bad; i++) {
        s_path (enc, files[i].path);
        s_bytes (enc, files[i].content);
    }
}

static void
s_env (enc_t *enc, const proto_env_t *env, size_t count)
{
    if (count > PROTO_ENV_MAX || !env) {
        s_invalid (enc);
        return;
    }
    for (size_t i = 0; i < count; i++)
        if (!env[i].key || !env[i].value
        ||  !proto_valid_env_key (env[i].key, strlen (env[i].key))) {
            s_invalid (enc);
            return;
        }
    s_unique (enc, env, count, sizeof *env);
    msgpack_pack_map (&enc->pk, count);
    for (size_t i = 0; i < count && !enc->bad; i++) {
        s_key (enc, env[i].key);
        s_text (enc, env[i].value);
    }
}

static void
s_layers (enc_t *enc, const proto_layer_t *layers, size_t count)
{
    if (count > PROTO_LAYERS_MAX || (count && !layers)) {
        s_invalid (enc);
        return;
    }
    for (size_t i = 0; i < count; i++)
        if (!layers[i].name) {
            s_invalid (enc);
            return;
        }
    if (count)
        s_unique (enc, layers, count, sizeof *layers);
    msgpack_pack_map (&enc->pk, count);
    for (size_t i = 0; i < count && !enc->bad; i++) {
        s_name (enc, layers[i].name);
        if (layers[i].is_bool)
            s_bool (enc, layers[i].value != 0);
        else
            s_int (enc, layers[i].value);
    }
}

static void
s_limits (enc_t *enc, const proto_limits_t *limits, size_t count)
{
    msgpack_pack_map (&enc->pk, count);
    for (size_t i = 0; i < PROTO_LIMIT_COUNT_; i++) {
        uint64_t value = proto_limit_value (limits, i);
        if (value == 0)
            continue;
        if (value > proto_limit_absurd (i))
            s_invalid (enc);
        s_key (enc, proto_limit_names[i]);
        s_uint (enc, value);
    }
    if (limits->network >= 0) {
        s_key (enc, "network");
        s_bool (enc, limits->network != 0);
    }
}

static size_t
s_limits_count (const proto_limits_t *limits)
{
    size_t count = limits->network >= 0;
    for (size_t i = 0; i < PROTO_LIMIT_COUNT_; i++)
        count += proto_limit_value (limits, i) != 0;
    return count;
}

/*  The task map's keys other than id and attempt, and their number.       */
static size_t
s_task_count (const proto_task_t *task)
{
    return (task->lang != PROTO_LANG_NONE ? 2 : 1) + task->has_stdin
         + (task->env_count > 0) + (task->file_count > 0)
         + (s_limits_count (&task->limits) > 0) + (task->collect_count > 0);
}

static void
s_task_keys (enc_t *enc, const proto_task_t *task)
{
    bool use_argv = task->argc > 0;
    bool use_code = task->lang != PROTO_LANG_NONE;
    if (use_argv == use_code
    ||  (use_code && (task->lang < PROTO_LANG_SH || task->lang > PROTO_LANG_PYTHON3))
    ||  task->limits.network < -1 || task->limits.network > 1) {
        s_invalid (enc);
        return;
    }
    if (use_argv) {
        s_key (enc, "argv");
        s_strings (enc, task->argv, task->argc, S_ARGV);
    }
    else {
        s_key (enc, "code");
        s_bytes (enc, task->code);
        s_key (enc, "lang");
        s_key (enc, proto_lang_name (task->lang));
    }
    if (task->has_stdin) {
        s_key (enc, "stdin");
        s_bytes (enc, task->stdin_data);
    }
    if (task->env_count) {
        s_key (enc, "env");
        s_env (enc, task->env, task->env_count);
    }
    if (task->file_count) {
        s_key (enc, "files");
        s_files (enc, task->files, task->file_count);
    }
    size_t limit_count = s_limits_count (&task->limits);
    if (limit_count) {
        s_key (enc, "limits");
        s_limits (enc, &task->limits, limit_count);
    }
    if (task->collect_count) {
        s_key (enc, "collect");
        s_strings (enc, task->collect, task->collect_count, S_PATH);
    }
}

/*  Task map nested in a submit request or a record: no id, no attempt.    */
static void
s_task_map (enc_t *enc, const proto_task_t *task)
{
    msgpack_pack_map (&enc->pk, s_task_count (task));
    s_task_keys (enc, task);
}

/*  The result fields shared by "result" and a record, without a map header */
static size_t
s_result_count (const proto_result_t *result)
{
    return 9 + (result->file_count > 0) + (result->file_ref_count > 0)
             + (result->error != NULL);
}

static void
s_result_body (enc_t *enc, const proto_result_t *result)
{
    s_key (enc, "exit_code");
    s_int_or_nil (enc, result->has_exit_code, result->exit_code);
    s_key (enc, "signal");
    s_int_or_nil (enc, result->has_signal, result->signal);
    s_key (enc, "stdout");
    s_bytes (enc, result->stdout_data);
    s_key (enc, "stderr");
    s_bytes (enc, result->stderr_data);
    s_key (enc, "stdout_truncated");
    s_bool (enc, result->stdout_truncated);
    s_key (enc, "stderr_truncated");
    s_bool (enc, result->stderr_truncated);
    s_key (enc, "wall_ms");
    s_uint (enc, result->wall_ms);
    s_key (enc, "cpu_ms");
    s_uint (enc, result->cpu_ms);
    s_key (enc, "max_rss_kb");
    s_uint (enc, result->max_rss_kb);
    if (result->file_count) {
        s_key (enc, "files");
        s_files (enc, result->files, result->file_count);
    }
    if (result->file_ref_count) {
        s_key (enc, "file_refs");
        s_strings (enc, result->file_refs, result->file_ref_count, S_PATH);
    }
    if (result->error) {
        s_key (enc, "error");
        s_text (enc, result->error);
    }
}

/*  Record: top-level id/status/worker come from the record, never from
    record->result (whose id/worker/status are ignored).                    */
static void
s_record (enc_t *enc, const proto_record_t *record)
{
    msgpack_pack_map (&enc->pk, 9 + s_result_count (&record->result));
    s_key (enc, "id");
    s_id (enc, record->id);
    s_key (enc, "status");
    s_status (enc, record->status, false);
    s_key (enc, "attempt");
    s_uint (enc, record->attempt);
    s_key (enc, "worker");
    if (record->worker)
        s_name (enc, record->worker);
    else
        msgpack_pack_nil (&enc->pk);
    s_key (enc, "created_ms");
    s_int (enc, record->created_ms);
    s_key (enc, "dispatched_ms");
    s_int (enc, record->dispatched_ms);
    s_key (enc, "started_ms");
    s_int (enc, record->started_ms);
    s_key (enc, "finished_ms");
    s_int (enc, record->finished_ms);
    s_key (enc, "task");
    s_task_map (enc, &record->task);
    s_result_body (enc, &record->result);
}

static void
s_worker_info (enc_t *enc, const proto_worker_info_t *info)
{
    if (info->slots < 1 || info->slots > 1024 || info->free > 1024)
        s_invalid (enc);
    msgpack_pack_map (&enc->pk, 7 + (info->running_count > 0));
    s_key (enc, "worker");
    s_name (enc, info->worker);
    s_key (enc, "slots");
    s_uint (enc, info->slots);
    s_key (enc, "free");
    s_uint (enc, info->free);
    s_key (enc, "version");
    s_name (enc, info->version);
    s_key (enc, "last_seen_ms");
    s_int (enc, info->last_seen_ms);
    s_key (enc, "tasks_done");
    s_uint (enc, info->tasks_done);
    s_key (enc, "isolation");
    s_layers (enc, info->isolation, info->isolation_count);
    /*  Optional, added later: absent when empty, so the map of a worker
        without running tasks is byte for byte what it always was.         */
    if (info->running_count) {
        s_key (enc, "running");
        s_strings (enc, info->running, info->running_count, S_ID);
    }
}

/*  ---- size estimate: payload bytes dominate big frames -----------------  */

static size_t
s_files_size (const proto_file_t *files, size_t count)
{
    size_t size = 0;
    for (size_t i = 0; files && i < count; i++)
        size += files[i].content.size + 64;
    return size;
}

static size_t
s_task_size (const proto_task_t *task)
{
    return task->code.size + task->stdin_data.size
         + s_files_size (task->files, task->file_count)
         + 32 * (task->argc + task->env_count + task->collect_count);
}

static size_t
s_result_size (const proto_result_t *result)
{
    return result->stdout_data.size + result->stderr_data.size
         + s_files_size (result->files, result->file_count) + 256;
}

static size_t
s_estimate (const proto_msg_t *msg)
{
    size_t size = 256;
    switch (msg->type) {
        case PROTO_TASK:       size += s_task_size (&msg->u.task); break;
        case PROTO_REQ_SUBMIT: size += s_task_size (&msg->u.submit.task); break;
        case PROTO_RESULT:     size += s_result_size (&msg->u.result); break;
        case PROTO_OUTPUT:     size += msg->u.output.data.size; break;
        case PROTO_REP_OUTPUT: size += msg->u.chunk.data.size; break;
        case PROTO_REP_TASK:
            size += s_task_size (&msg->u.record.task) + s_result_size (&msg->u.record.result);
            break;
        case PROTO_REP_TASKS:
            for (size_t i = 0; msg->u.tasks.items && i < msg->u.tasks.count; i++)
                size += 128 + s_task_size (&msg->u.tasks.items[i].task)
                            + s_result_size (&msg->u.tasks.items[i].result);
            break;
        case PROTO_ACK:        size += 72 * msg->u.ack.id_count; break;
        case PROTO_HEARTBEAT:  size += 72 * msg->u.heartbeat.running_count; break;
        case PROTO_REP_WORKERS: size += 256 * msg->u.workers.count; break;
        default: break;
    }
    return size;
}

/*  ---- messages ------------------------------------------------------------  */

static void
s_header (enc_t *enc, const proto_msg_t *msg, size_t body_keys)
{
    proto_channel_t channel = proto_type_channel (msg->type);
    bool request = channel == PROTO_CH_SUBMIT;
    bool reply = channel == PROTO_CH_REPLY;
    msgpack_pack_map (&enc->pk, 2 + body_keys + (request || reply) + request);
    s_key (enc, "v");
    s_uint (enc, PROTO_VERSION);
    s_key (enc, "type");
    s_key (enc, proto_type_name (msg->type));
    if (request || reply) {
        s_key (enc, "req");
        s_uint (enc, msg->req);
    }
    if (request) {
        s_key (enc, "token");
        s_key (enc, msg->token ? msg->token : "");
    }
}

static void
s_message (enc_t *enc, const proto_msg_t *msg)
{
    const proto_result_t *result = &msg->u.result;
    switch (msg->type) {
        case PROTO_TASK:
            /*  The task map is the frame itself: header, id, attempt, body */
            s_header (enc, msg, 2 + s_task_count (&msg->u.task));
            s_key (enc, "id");
            s_id (enc, msg->u.task.id);
            s_key (enc, "attempt");
            s_attempt (enc, msg->u.task.attempt);
            s_task_keys (enc, &msg->u.task);
            break;
        case PROTO_HELLO:
            if (msg->u.hello.slots < 1 || msg->u.hello.slots > 1024)
                s_invalid (enc);
            s_header (enc, msg, 4);
            s_key (enc, "worker");
            s_name (enc, msg->u.hello.worker);
            s_key (enc, "slots");
            s_uint (enc, msg->u.hello.slots);
            s_key (enc, "version");
            s_name (enc, msg->u.hello.version);
            s_key (enc, "isolation");
            s_layers (enc, msg->u.hello.isolation, msg->u.hello.isolation_count);
            break;
        case PROTO_HEARTBEAT:
            if (msg->u.heartbeat.free > 1024)
                s_invalid (enc);
            s_header (enc, msg, 3 + (msg->u.heartbeat.attempts != NULL));
            s_key (enc, "worker");
            s_name (enc, msg->u.heartbeat.worker);
            s_key (enc, "free");
            s_uint (enc, msg->u.heartbeat.free);
            s_key (enc, "running");
            s_strings (enc, msg->u.heartbeat.running, msg->u.heartbeat.running_count, S_ID);
            if (msg->u.heartbeat.attempts) {
                s_key (enc, "attempts");
                s_attempts (enc, msg->u.heartbeat.attempts, msg->u.heartbeat.running_count);
            }
            break;
        case PROTO_STARTED:
            s_header (enc, msg, 3);
            s_key (enc, "id");
            s_id (enc, msg->u.started.id);
            s_key (enc, "attempt");
            s_attempt (enc, msg->u.started.attempt);
            s_key (enc, "worker");
            s_name (enc, msg->u.started.worker);
            break;
        case PROTO_OUTPUT:
            if (msg->u.output.stream != PROTO_STREAM_STDOUT
            &&  msg->u.output.stream != PROTO_STREAM_STDERR)
                s_invalid (enc);
            s_header (enc, msg, 5);
            s_key (enc, "id");
            s_id (enc, msg->u.output.id);
            s_key (enc, "attempt");
            s_attempt (enc, msg->u.output.attempt);
            s_key (enc, "stream");
            s_key (enc, proto_stream_name (msg->u.output.stream));
            s_key (enc, "seq");
            s_uint (enc, msg->u.output.seq);
            s_key (enc, "data");
            s_bytes (enc, msg->u.output.data);
            break;
        case PROTO_RESULT:
            s_header (enc, msg, 4 + s_result_count (result));
            s_key (enc, "id");
            s_id (enc, result->id);
            s_key (enc, "attempt");
            s_attempt (enc, result->attempt);
            s_key (enc, "worker");
            s_name (enc, result->worker);
            s_key (enc, "status");
            s_status (enc, result->status, true);
            s_result_body (enc, result);
            break;
        case PROTO_BYE:
            s_header (enc, msg, 1);
            s_key (enc, "worker");
            s_name (enc, msg->u.bye.worker);
            break;
        case PROTO_CANCEL:
            s_header (enc, msg, 1 + (msg->u.cancel.attempt != 0)
                              + (msg->u.cancel.worker != NULL));
            s_key (enc, "id");
            s_id (enc, msg->u.cancel.id);
            if (msg->u.cancel.attempt) {
                s_key (enc, "attempt");
                s_uint (enc, msg->u.cancel.attempt);
            }
            if (msg->u.cancel.worker) {
                s_key (enc, "worker");
                s_name (enc, msg->u.cancel.worker);
            }
            break;
        case PROTO_ACK:
            s_header (enc, msg, 1 + (msg->u.ack.attempts != NULL));
            s_key (enc, "ids");
            s_strings (enc, msg->u.ack.ids, msg->u.ack.id_count, S_ID);
            if (msg->u.ack.attempts) {
                s_key (enc, "attempts");
                s_attempts (enc, msg->u.ack.attempts, msg->u.ack.id_count);
            }
            break;
        case PROTO_REQ_SUBMIT:
            s_header (enc, msg, 1 + (msg->u.submit.key != NULL) + msg->u.submit.has_wait);
            s_key (enc, "task");
            s_task_map (enc, &msg->u.submit.task);
            if (msg->u.submit.key) {
                s_key (enc, "key");
                s_name (enc, msg->u.submit.key);
            }
            if (msg->u.submit.has_wait) {
                s_key (enc, "wait_ms");
                s_uint (enc, msg->u.submit.wait_ms);
            }
            break;
        case PROTO_REQ_GET:
        case PROTO_REQ_CANCEL:
        case PROTO_REQ_RERUN:
            s_header (enc, msg, 1);
            s_key (enc, "id");
            s_id (enc, msg->u.get.id);
            break;
        case PROTO_REQ_WAIT:
            s_header (enc, msg, 2);
            s_key (enc, "id");
            s_id (enc, msg->u.get.id);
            s_key (enc, "timeout_ms");
            s_uint (enc, msg->u.get.timeout_ms);
            break;
        case PROTO_REQ_LIST:
            s_header (enc, msg, (msg->u.list.status != PROTO_STATUS_NONE)
                              + (msg->u.list.limit != 0));
            if (msg->u.list.status != PROTO_STATUS_NONE) {
                s_key (enc, "status");
                s_status (enc, msg->u.list.status, false);
            }
            if (msg->u.list.limit) {
                s_key (enc, "limit");
                s_uint (enc, msg->u.list.limit);
            }
            break;
        case PROTO_REQ_WORKERS:
            s_header (enc, msg, 0);
            break;
        case PROTO_REQ_STREAM:
            s_header (enc, msg, 3);
            s_key (enc, "id");
            s_id (enc, msg->u.stream.id);
            s_key (enc, "stdout_from");
            s_uint (enc, msg->u.stream.stdout_from);
            s_key (enc, "stderr_from");
            s_uint (enc, msg->u.stream.stderr_from);
            break;
        case PROTO_REP_OUTPUT:
            if (msg->u.chunk.stream != PROTO_STREAM_STDOUT
            &&  msg->u.chunk.stream != PROTO_STREAM_STDERR)
                s_invalid (enc);
            s_header (enc, msg, 5);
            s_key (enc, "id");
            s_id (enc, msg->u.chunk.id);
            s_key (enc, "attempt");
            s_uint (enc, msg->u.chunk.attempt);
            s_key (enc, "stream");
            s_key (enc, proto_stream_name (msg->u.chunk.stream));
            s_key (enc, "offset");
            s_uint (enc, msg->u.chunk.offset);
            s_key (enc, "data");
            s_bytes (enc, msg->u.chunk.data);
            break;
        case PROTO_REP_ACCEPTED:
            s_header (enc, msg, 1);
            s_key (enc, "id");
            s_id (enc, msg->u.accepted_id);
            break;
        case PROTO_REP_TASK:
            s_header (enc, msg, 1);
            s_key (enc, "task");
            s_record (enc, &msg->u.record);
            break;
        case PROTO_REP_TASKS:
            if (msg->u.tasks.count > PROTO_LIST_MAX
            ||  (msg->u.tasks.count && !msg->u.tasks.items)) {
                s_invalid (enc);
                break;
            }
            s_header (enc, msg, 1);
            s_key (enc, "items");
            msgpack_pack_array (&enc->pk, msg->u.tasks.count);
            for (size_t i = 0; i < msg->u.tasks.count && !enc->bad; i++)
                s_record (enc, &msg->u.tasks.items[i]);
            break;
        case PROTO_REP_WORKERS:
            if (msg->u.workers.count > PROTO_LIST_MAX
            ||  (msg->u.workers.count && !msg->u.workers.items)) {
                s_invalid (enc);
                break;
            }
            s_header (enc, msg, 1);
            s_key (enc, "items");
            msgpack_pack_array (&enc->pk, msg->u.workers.count);
            for (size_t i = 0; i < msg->u.workers.count && !enc->bad; i++)
                s_worker_info (enc, &msg->u.workers.items[i]);
            break;
        case PROTO_REP_ERROR:
            s_header (enc, msg, 2 + (msg->u.error.field != NULL));
            s_key (enc, "code");
            s_name (enc, msg->u.error.code);
            s_key (enc, "message");
            s_text (enc, msg->u.error.message);
            if (msg->u.error.field) {
                s_key (enc, "field");
                s_text (enc, msg->u.error.field);
            }
            break;
        default:
            s_invalid (enc);
            break;
    }
}

int
proto_encode (const proto_msg_t *msg, uint8_t **out, size_t *out_size)
{
    if (!out || !out_size)
        return -1;
    *out = NULL;
    *out_size = 0;
    if (!msg)
        return -1;
    enc_t enc = { .bad = false };
    enc.cap = s_estimate (msg);
    enc.data = (uint8_t *) malloc (enc.cap);
    if (!enc.data)
        return -1;
    msgpack_packer_init (&enc.pk, &enc, s_write);
    s_message (&enc, msg);
    if (enc.bad) {
        free (enc.data);
        return -1;
    }
    *out = enc.data;
    *out_size = enc.size;
    return 0;
}
