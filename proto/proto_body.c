/*  proto_body.c - what each message type carries: one table of fields per
    map (task, result, record, worker, ...) and the handlers for values
    that are more than a scalar (argv, env, files, limits, lists of ids,
    nested task maps). The machinery that applies the tables is in
    proto_decode.c; PROTOCOL.md is the same information for people.
*/
#include "proto_internal.h"

#include <stddef.h>
#include <string.h>

#define FLD(k, kind, flags, off) \
    { k, sizeof k - 1, kind, flags, off, NO_AUX, 0, UINT64_MAX, NULL }
#define FLD_U(k, kind, flags, off, lo, hi) \
    { k, sizeof k - 1, kind, flags, off, NO_AUX, lo, hi, NULL }
#define FLD_HAS(k, kind, off, has) \
    { k, sizeof k - 1, kind, 0, off, has, 0, UINT64_MAX, NULL }
#define FLD_FN(k, fn, flags, off, aux) \
    { k, sizeof k - 1, K_FN, flags, off, aux, 0, 0, fn }
#define COUNT(table) (sizeof table / sizeof table[0])
#define M(member) offsetof (proto_msg_t, u.member)

/*  ---- value handlers -----------------------------------------------------  */

static int
s_array (dec_t *dec, const msgpack_object *val, size_t max)
{
    if (val->type != MSGPACK_OBJECT_ARRAY)
        return dec_expect (dec, val, "array");
    if (val->via.array.size > max)
        return dec_fail (dec, "has too many entries (%u, max %zu)",
                         (unsigned) val->via.array.size, max);
    return 0;
}

static int
s_map_of (dec_t *dec, const msgpack_object *val, size_t max)
{
    if (val->type != MSGPACK_OBJECT_MAP)
        return dec_expect (dec, val, "map");
    if (val->via.map.size > max)
        return dec_fail (dec, "has too many entries (%u, max %zu)",
                         (unsigned) val->via.map.size, max);
    return 0;
}

typedef enum { S_ARGV, S_PATH, S_ID } s_strings_t;

/*  Array of str into a NULL-terminated array in the arena.                 */
static int
s_strings (dec_t *dec, const msgpack_object *val, void *target, void *aux,
           s_strings_t what)
{
    size_t max = what == S_ARGV ? PROTO_ARGV_MAX
               : what == S_PATH ? PROTO_FILES_MAX : PROTO_LIST_MAX;
    if (s_array (dec, val, max))
        return -1;
    size_t count = val->via.array.size;
    if (what == S_ARGV && count == 0)
        return dec_fail (dec, "must not be empty");
    const char **list = (const char **) proto_arena_calloc (dec->arena, count + 1,
                                                            sizeof *list);
    if (!list)
        return dec_fail (dec, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const msgpack_object *item = &val->via.array.ptr[i];
        size_t mark = dec_push_index (dec, i);
        int rc = what == S_PATH ? dec_path (dec, item, &list[i])
               : what == S_ID   ? dec_id (dec, item, &list[i])
               :                  dec_text (dec, item, &list[i]);
        if (rc)
            return -1;
        if (what == S_ARGV && i == 0 && list[0][0] == '\0')
            return dec_fail (dec, "must not be empty");
        dec_pop (dec, mark);
    }
    *(const char ***) target = list;
    *(size_t *) aux = count;
    return 0;
}

static int
s_fn_argv (dec_t *dec, const msgpack_object *val, void *target, void *aux)
{
    return s_strings (dec, val, target, aux, S_ARGV);
}

static int
s_fn_paths (dec_t *dec, const msgpack_object *val, void *target, void *aux)
{
    return s_strings (dec, val, target, aux, S_PATH);
}

static int
s_fn_ids (dec_t *dec, const msgpack_object *val, void *target, void *aux)
{
    return s_strings (dec, val, target, aux, S_ID);
}

/*  Array of attempts (uint >= 1) into a uint32_t array in the arena; the
    caller checks that it matches its list of ids.                         */
static int
s_fn_attempts (dec_t *dec, const msgpack_object *val, void *target, void *aux)
{
    if (s_array (dec, val, PROTO_LIST_MAX))
        return -1;
    size_t count = val->via.array.size;
    uint32_t *list = (uint32_t *) proto_arena_calloc (dec->arena, count + 1, sizeof *list);
    if (!list)
        return dec_fail (dec, "out of memory");
    for (size_t i = 0; i < count; i++) {
        size_t mark = dec_push_index (dec, i);
        uint64_t value;
        if (dec_uint (dec, &val->via.array.ptr[i], 1, UINT32_MAX, &value))
            return -1;
        list[i] = (uint32_t) value;
        dec_pop (dec, mark);
    }
    *(const uint32_t **) target = list;
    *(size_t *) aux = count;
    return 0;
}

static int
s_fn_lang (dec_t *dec, const msgpack_object *val, void *target, void *aux)
{
    (void) aux;
    if (val->type != MSGPACK_OBJECT_STR)
        return dec_expect (dec, val, "str");
    char name[16];
    size_t len = val->via.str.size;
    if (len < sizeof name && !memchr (val->via.str.ptr, '\0', len)) {
        memcpy (name, val->via.str.ptr, len);
        name[len] = '\0';
        if (proto_lang_parse (name, (proto_lang_t *) target) == 0)
            return 0;
    }
    return dec_fail (dec, "must be one of sh, bash, python3");
}

static int
s_fn_stream (dec_t *dec, const msgpack_object *val, void *target, void *aux)
{
    (void) aux;
    if (val->type != MSGPACK_OBJECT_STR)
        return dec_expect (dec, val, "str");
    const char *ptr = val->via.str.ptr;
    size_t len = val->via.str.size;
    if (len == 6 && memcmp (ptr, "stdout", 6) == 0)
        *(proto_stream_t *) target = PROTO_STREAM_STDOUT;
    else
    if (len == 6 && memcmp (ptr, "stderr", 6) == 0)
        *(proto_stream_t *) target = PROTO_STREAM_STDERR;
    else
        return dec_fail (dec, "must be \"stdout\" or \"stderr\"");
    return 0;
}

/*  The key of a user-keyed map (env, files, isolation): str, pushed onto
    the path as "[key]" so the error names it.                              */
static int
s_user_key (dec_t *dec, const msgpack_object *key, size_t *mark)
{
    if (key->type != MSGPACK_OBJECT_STR)
        return dec_fail (dec, "keys must be str, got %s", dec_kind_name (key));
    *mark = dec_push_user (dec, key->via.str.ptr, key->via.str.size);
    return 0;
}

/*  Names given twice in env / files / isolation are refused: which one
    would win is exactly the kind of thing two implementations disagree on. */
static int
s_unique (dec_t *dec, const void *items, size_t count, size_t stride)
{
    const char **scratch = NULL;
    if (count > 16) {
        scratch = (const char **) proto_arena_alloc (dec->arena, count * sizeof *scratch);
        if (!scratch)
            return dec_fail (dec, "out of memory");
    }
    const char *dup = NULL;
    int rc = proto_find_duplicate (items, count, stride, scratch, &dup);
    if (rc < 0)
        return dec_fail (dec, "out of memory");
    if (rc > 0) {
        dec_push_user (dec, dup, strlen (dup));
        return dec_fail (dec, "duplicate key");
    }
    return 0;
}

static int
s_fn_env (dec_t *dec, const msgpack_object *val, void *target, void *aux)
{
    if (s_map_of (dec, val, PROTO_ENV_MAX))
        return -1;
    size_t count = val->via.map.size;
    proto_env_t *env = (proto_env_t *) proto_arena_calloc (dec->arena, count + 1,
                                                           sizeof *env);
    if (!env)
        return dec_fail (dec, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const msgpack_object_kv *kv = &val->via.map.ptr[i];
        size_t mark = 0;
        if (s_user_key (dec, &kv->key, &mark))
            return -1;
        if (!proto_valid_env_key (kv->key.via.str.ptr, kv->key.via.str.size))
            return dec_fail (dec, "invalid name: must match [A-Za-z_][A-Za-z0-9_]*"
                                  " (at most 256 characters)");
        if (dec_text (dec, &kv->key, &env[i].key)
        ||  dec_text (dec, &kv->val, &env[i].value))
            return -1;
        dec_pop (dec, mark);
    }
    if (s_unique (dec, env, count, sizeof *env))
        return -1;
    *(proto_env_t **) target = env;
    *(size_t *) aux = count;
    return 0;
}

static int
s_fn_files (dec_t *dec, const msgpack_object *val, void *target, void *aux)
{
    if (s_map_of (dec, val, PROTO_FILES_MAX))
        return -1;
    size_t count = val->via.map.size;
    proto_file_t *files = (proto_file_t *) proto_arena_calloc (dec->arena, count + 1,
                                                               sizeof *files);
    if (!files)
        return dec_fail (dec, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const msgpack_object_kv *kv = &val->via.map.ptr[i];
        size_t mark = 0;
        if (s_user_key (dec, &kv->key, &mark)
        ||  dec_path (dec, &kv->key, &files[i].path)
        ||  dec_bytes (dec, &kv->val, &files[i].content))
            return -1;
        dec_pop (dec, mark);
    }
    if (s_unique (dec, files, count, sizeof *files))
        return -1;
    *(proto_file_t **) target = files;
    *(size_t *) aux = count;
    return 0;
}

/*  isolation: layer name -> bool (can enforce) or int (a level).           */
static int
s_fn_layers (dec_t *dec, const msgpack_object *val, void *target, void *aux)
{
    if (s_map_of (dec, val, PROTO_LAYERS_MAX))
        return -1;
    size_t count = val->via.map.size;
    proto_layer_t *layers = (proto_layer_t *) proto_arena_calloc (dec->arena, count + 1,
                                                                  sizeof *layers);
    if (!layers)
        return dec_fail (dec, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const msgpack_object_kv *kv = &val->via.map.ptr[i];
        size_t mark = 0;
        if (s_user_key (dec, &kv->key, &mark)
        ||  dec_name (dec, &kv->key, PROTO_NAME_MAX, &layers[i].name))
            return -1;
        if (kv->val.type == MSGPACK_OBJECT_BOOLEAN) {
            layers[i].is_bool = true;
            layers[i].value = kv->val.via.boolean ? 1 : 0;
        }
        else
        if (kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER
        ||  kv->val.type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
            if (dec_int (dec, &kv->val, &layers[i].value))
                return -1;
        }
        else
            return dec_expect (dec, &kv->val, "bool or int");
        dec_pop (dec, mark);
    }
    if (s_unique (dec, layers, count, sizeof *layers))
        return -1;
    *(proto_layer_t **) target = layers;
    *(size_t *) aux = count;
    return 0;
}

/*  ---- limits and the task map -------------------------------------------  */

#define L(member) offsetof (proto_limits_t, member)
static const dec_field_t s_limits_fields[] = {
    FLD_U ("wall_ms",      K_LIMIT, 0, L (wall_ms),      1, PROTO_LIMIT_ABSURD_MS),
    FLD_U ("cpu_ms",       K_LIMIT, 0, L (cpu_ms),       1, PROTO_LIMIT_ABSURD_MS),
    FLD_U ("memory_bytes", K_LIMIT, 0, L (memory_bytes), 1, PROTO_LIMIT_ABSURD_BYTES),
    FLD_U ("processes",    K_LIMIT, 0, L (processes),    1, PROTO_LIMIT_ABSURD_COUNT),
    FLD_U ("output_bytes", K_LIMIT, 0, L (output_bytes), 1, PROTO_LIMIT_ABSURD_BYTES),
    FLD_U ("file_bytes",   K_LIMIT, 0, L (file_bytes),   1, PROTO_LIMIT_ABSURD_BYTES),
    FLD   ("network",      K_NETWORK, 0, L (network)),
};

static int
s_fn_limits (dec_t *dec, const msgpack_object *val, void *target, void *aux)
{
    (void) aux;
    dec_layer_t layer = { s_limits_fields, COUNT (s_limits_fields), target, 0, 0 };
    return dec_map (dec, val, &layer, 1);
}

#define T(member) offsetof (proto_task_t, member)
static const dec_field_t s_task_fields[] = {
    FLD_FN  ("argv",    s_fn_argv,   0, T (argv),    T (argc)),
    FLD     ("code",    K_BYTES,     0, T (code)),
    FLD_FN  ("lang",    s_fn_lang,   0, T (lang),    NO_AUX),
    FLD_HAS ("stdin",   K_BYTES,        T (stdin_data), T (has_stdin)),
    FLD_FN  ("env",     s_fn_env,    0, T (env),     T (env_count)),
    FLD_FN  ("files",   s_fn_files,  0, T (files),   T (file_count)),
    FLD_FN  ("limits",  s_fn_limits, 0, T (limits),  NO_AUX),
    FLD_FN  ("collect", s_fn_paths,  0, T (collect), T (collect_count)),
};

/*  Rules that span keys. The path is the task map's own.                   */
static int
s_task_check (dec_t *dec, const dec_layer_t *layer, const proto_task_t *task)
{
    bool has_argv = dec_seen (layer, "argv");
    bool has_code = dec_seen (layer, "code");
    bool has_lang = dec_seen (layer, "lang");
    if (has_argv == has_code) {
        dec_push_key (dec, "argv", 4);
        return dec_fail (dec, "exactly one of argv or code+lang is required");
    }
    if (has_code && !has_lang) {
        dec_push_key (dec, "lang", 4);
        return dec_fail (dec, "missing (code needs lang)");
    }
    if (has_argv && has_lang) {
        dec_push_key (dec, "lang", 4);
        return dec_fail (dec, "is only valid together with code");
    }
    (void) task;
    return 0;
}

/*  Task map nested in a submit request or a record: no id, no attempt
    (ignored if present).                                                   */
static int
s_fn_task (dec_t *dec, const msgpack_object *val, void *target, void *aux)
{
    (void) aux;
    proto_task_t *task = (proto_task_t *) target;
    task->limits.network = -1;
    dec_layer_t layer = { s_task_fields, COUNT (s_task_fields), task, 0, 0 };
    if (dec_map (dec, val, &layer, 1))
        return -1;
    return s_task_check (dec, &layer, task);
}

/*  ---- result fields, records, worker maps ----------------------------------  */

#define R(member) offsetof (proto_result_t, member)
static const dec_field_t s_result_fields[] = {
    FLD_HAS ("exit_code",        K_INT_NIL, R (exit_code),   R (has_exit_code)),
    FLD_HAS ("signal",           K_INT_NIL, R (signal),      R (has_signal)),
    FLD     ("stdout",           K_BYTES, 0, R (stdout_data)),
    FLD     ("stderr",           K_BYTES, 0, R (stderr_data)),
    FLD     ("stdout_truncated", K_BOOL,  0, R (stdout_truncated)),
    FLD     ("stderr_truncated", K_BOOL,  0, R (stderr_truncated)),
    FLD     ("wall_ms",          K_U64,   0, R (wall_ms)),
    FLD     ("cpu_ms",           K_U64,   0, R (cpu_ms)),
    FLD     ("max_rss_kb",       K_U64,   0, R (max_rss_kb)),
    FLD_FN  ("files",     s_fn_files, 0, R (files),     R (file_count)),
    FLD_FN  ("file_refs", s_fn_paths, 0, R (file_refs), R (file_ref_count)),
    FLD     ("error",            K_TEXT,  0, R (error)),
};

#define RC(member) offsetof (proto_record_t, member)
static const dec_field_t s_record_fields[] = {
    FLD    ("id",            K_ID,     F_REQ, RC (id)),
    FLD    ("status",        K_STATUS, F_REQ, RC (status)),
    FLD_U  ("attempt",       K_U32,    0, RC (attempt), 0, UINT32_MAX),
    FLD    ("worker",        K_NAME,   0, RC (worker)),
    FLD    ("created_ms",    K_I64,    0, RC (created_ms)),
    FLD    ("dispatched_ms", K_I64,    0, RC (dispatched_ms)),
    FLD    ("started_ms",    K_I64,    0, RC (started_ms)),
    FLD    ("finished_ms",   K_I64,    0, RC (finished_ms)),
    FLD_FN ("task",          s_fn_task, F_REQ, RC (task), NO_AUX),
};

static int
s_record (dec_t *dec, const msgpack_object *val, proto_record_t *record)
{
    record->task.limits.network = -1;
    dec_layer_t layers[] = {
        { s_record_fields, COUNT (s_record_fields), record, 0, 0 },
        { s_result_fields, COUNT (s_result_fields), &record->result, 0, 0 },
    };
    return dec_map (dec, val, layers, 2);
}

static int
s_fn_record (dec_t *dec, const msgpack_object *val, void *target, void *aux)
{
    (void) aux;
    return s_record (dec, val, (proto_record_t *) target);
}

static int
s_fn_records (dec_t *dec, const msgpack_object *val, void *target, void *aux)
{
    if (s_array (dec, val, PROTO_LIST_MAX))
        return -1;
    size_t count = val->via.array.size;
    proto_record_t *items = (proto_record_t *) proto_arena_calloc (dec->arena, count + 1,
                                                                   sizeof *items);
    if (!items)
        return dec_fail (dec, "out of memory");
    for (size_t i = 0; i < count; i++) {
        size_t mark = dec_push_index (dec, i);
        if (s_record (dec, &val->via.array.ptr[i], &items[i]))
            return -1;
        dec_pop (dec, mark);
    }
    *(proto_record_t **) target = items;
    *(size_t *) aux = count;
    return 0;
}

#define W(member) offsetof (proto_worker_info_t, member)
static const dec_field_t s_worker_fields[] = {
    FLD    ("worker",       K_NAME, F_REQ, W (worker)),
    FLD_U  ("slots",        K_U32,  F_REQ, W (slots), 1, 1024),
    FLD_U  ("free",         K_U32,  F_REQ, W (free),  0, 1024),
    FLD    ("version",      K_NAME, F_REQ, W (version)),
    FLD    ("last_seen_ms", K_I64,  0, W (last_seen_ms)),
    FLD    ("tasks_done",   K_U64,  0, W (tasks_done)),
    FLD_FN ("isolation",    s_fn_layers, 0, W (isolation), W (isolation_count)),
    FLD_FN ("running",      s_fn_ids, 0, W (running), W (running_count)),
};

static int
s_fn_workers (dec_t *dec, const msgpack_object *val, void *target, void *aux)
{
    if (s_array (dec, val, PROTO_LIST_MAX))
        return -1;
    size_t count = val->via.array.size;
    proto_worker_info_t *items =
        (proto_worker_info_t *) proto_arena_calloc (dec->arena, count + 1, sizeof *items);
    if (!items)
        return dec_fail (dec, "out of memory");
    for (size_t i = 0; i < count; i++) {
        size_t mark = dec_push_index (dec, i);
        dec_layer_t layer = { s_worker_fields, COUNT (s_worker_fields), &items[i], 0, 0 };
        if (dec_map (dec, &val->via.array.ptr[i], &layer, 1))
            return -1;
        dec_pop (dec, mark);
    }
    *(proto_worker_info_t **) target = items;
    *(size_t *) aux = count;
    return 0;
}

/*  ---- top-level messages (offsets from proto_msg_t) ------------------------  */

static const dec_field_t s_hdr_link[] = {
    FLD ("v",    K_SKIP, F_REQ, 0),
    FLD ("type", K_SKIP, F_REQ, 0),
};
static const dec_field_t s_hdr_request[] = {
    FLD ("v",     K_SKIP, F_REQ, 0),
    FLD ("type",  K_SKIP, F_REQ, 0),
    FLD ("req",   K_U64,  F_REQ, offsetof (proto_msg_t, req)),
    FLD ("token", K_TEXT, F_REQ, offsetof (proto_msg_t, token)),
};
static const dec_field_t s_hdr_reply[] = {
    FLD ("v",     K_SKIP, F_REQ, 0),
    FLD ("type",  K_SKIP, F_REQ, 0),
    FLD ("req",   K_U64,  F_REQ, offsetof (proto_msg_t, req)),
};

static const dec_field_t s_task_top[] = {
    FLD   ("id",      K_ID,  F_REQ, M (task.id)),
    FLD_U ("attempt", K_U32, F_REQ, M (task.attempt), 1, UINT32_MAX),
};
static const dec_field_t s_hello[] = {
    FLD    ("worker",    K_NAME, F_REQ, M (hello.worker)),
    FLD_U  ("slots",     K_U32,  F_REQ, M (hello.slots), 1, 1024),
    FLD    ("version",   K_NAME, F_REQ, M (hello.version)),
    FLD_FN ("isolation", s_fn_layers, 0, M (hello.isolation), M (hello.isolation_count)),
};
static const dec_field_t s_heartbeat[] = {
    FLD    ("worker",  K_NAME, F_REQ, M (heartbeat.worker)),
    FLD_U  ("free",    K_U32,  F_REQ, M (heartbeat.free), 0, 1024),
    FLD_FN ("running", s_fn_ids, 0, M (heartbeat.running), M (heartbeat.running_count)),
    FLD_FN ("attempts", s_fn_attempts, 0, M (heartbeat.attempts),
            M (heartbeat.attempt_count)),
};
static const dec_field_t s_started[] = {
    FLD   ("id",      K_ID,   F_REQ, M (started.id)),
    FLD_U ("attempt", K_U32,  F_REQ, M (started.attempt), 1, UINT32_MAX),
    FLD   ("worker",  K_NAME, F_REQ, M (started.worker)),
};
static const dec_field_t s_output[] = {
    FLD    ("id",      K_ID,    F_REQ, M (output.id)),
    FLD_U  ("attempt", K_U32,   F_REQ, M (output.attempt), 1, UINT32_MAX),
    FLD_FN ("stream",  s_fn_stream, F_REQ, M (output.stream), NO_AUX),
    FLD    ("seq",     K_U64,   F_REQ, M (output.seq)),
    FLD    ("data",    K_BYTES, F_REQ, M (output.data)),
};
static const dec_field_t s_result_top[] = {
    FLD   ("id",      K_ID,       F_REQ, M (result.id)),
    FLD_U ("attempt", K_U32,      F_REQ, M (result.attempt), 1, UINT32_MAX),
    FLD   ("worker",  K_NAME,     F_REQ, M (result.worker)),
    FLD   ("status",  K_TERMINAL, F_REQ, M (result.status)),
};
static const dec_field_t s_bye[] = {
    FLD ("worker", K_NAME, F_REQ, M (bye.worker)),
};
static const dec_field_t s_cancel[] = {
    FLD   ("id",      K_ID,   F_REQ, M (cancel.id)),
    FLD_U ("attempt", K_U32,  0,     M (cancel.attempt), 1, UINT32_MAX),
    FLD   ("worker",  K_NAME, 0,     M (cancel.worker)),
};
static const dec_field_t s_ack[] = {
    FLD_FN ("ids",      s_fn_ids, F_REQ, M (ack.ids), M (ack.id_count)),
    FLD_FN ("attempts", s_fn_attempts, 0, M (ack.attempts), M (ack.attempt_count)),
};
static const dec_field_t s_submit[] = {
    FLD_FN  ("task",    s_fn_task, F_REQ, M (submit.task), NO_AUX),
    FLD     ("key",     K_NAME, 0, M (submit.key)),
    FLD_HAS ("wait_ms", K_U64,     M (submit.wait_ms), M (submit.has_wait)),
};
static const dec_field_t s_by_id[] = {
    FLD ("id", K_ID, F_REQ, M (get.id)),
};
static const dec_field_t s_wait[] = {
    FLD ("id",         K_ID,  F_REQ, M (get.id)),
    FLD ("timeout_ms", K_U64, 0,     M (get.timeout_ms)),
};
static const dec_field_t s_list[] = {
    FLD   ("status", K_STATUS, 0, M (list.status)),
    FLD_U ("limit",  K_U32,    0, M (list.limit), 0, UINT32_MAX),
};
static const dec_field_t s_stream_req[] = {
    FLD ("id",          K_ID,  F_REQ, M (stream.id)),
    FLD ("stdout_from", K_U64, 0,     M (stream.stdout_from)),
    FLD ("stderr_from", K_U64, 0,     M (stream.stderr_from)),
};
static const dec_field_t s_rep_output[] = {
    FLD    ("id",      K_ID,    F_REQ, M (chunk.id)),
    FLD_U  ("attempt", K_U32,   F_REQ, M (chunk.attempt), 0, UINT32_MAX),
    FLD_FN ("stream",  s_fn_stream, F_REQ, M (chunk.stream), NO_AUX),
    FLD    ("offset",  K_U64,   F_REQ, M (chunk.offset)),
    FLD    ("data",    K_BYTES, F_REQ, M (chunk.data)),
};
static const dec_field_t s_accepted[] = {
    FLD ("id", K_ID, F_REQ, M (accepted_id)),
};
static const dec_field_t s_rep_task[] = {
    FLD_FN ("task", s_fn_record, F_REQ, M (record), NO_AUX),
};
static const dec_field_t s_rep_tasks[] = {
    FLD_FN ("items", s_fn_records, F_REQ, M (tasks.items), M (tasks.count)),
};
static const dec_field_t s_rep_workers[] = {
    FLD_FN ("items", s_fn_workers, F_REQ, M (workers.items), M (workers.count)),
};
static const dec_field_t s_rep_error[] = {
    FLD ("code",    K_NAME, F_REQ, M (error.code)),
    FLD ("message", K_TEXT, F_REQ, M (error.message)),
    FLD ("field",   K_TEXT, 0,     M (error.field)),
};

proto_channel_t
proto_type_channel (proto_type_t type)
{
    switch (type) {
        case PROTO_TASK:
            return PROTO_CH_TASKS;
        case PROTO_HELLO: case PROTO_HEARTBEAT: case PROTO_STARTED:
        case PROTO_OUTPUT: case PROTO_RESULT: case PROTO_BYE:
            return PROTO_CH_RESULTS;
        case PROTO_CANCEL: case PROTO_ACK:
            return PROTO_CH_CONTROL;
        case PROTO_REQ_SUBMIT: case PROTO_REQ_GET: case PROTO_REQ_WAIT:
        case PROTO_REQ_CANCEL: case PROTO_REQ_LIST: case PROTO_REQ_WORKERS:
        case PROTO_REQ_RERUN: case PROTO_REQ_STREAM:
            return PROTO_CH_SUBMIT;
        case PROTO_REP_ACCEPTED: case PROTO_REP_TASK: case PROTO_REP_TASKS:
        case PROTO_REP_WORKERS: case PROTO_REP_ERROR: case PROTO_REP_OUTPUT:
            return PROTO_CH_REPLY;
        default:
            return (proto_channel_t) 0;
    }
}

int
dec_body (dec_t *dec, proto_msg_t *msg, const msgpack_object *root)
{
    dec_layer_t layers[3];
    size_t n = 0;
#   define LAYER(table, base) \
        layers[n++] = (dec_layer_t) { table, COUNT (table), base, 0, 0 }

    switch (proto_type_channel (msg->type)) {
        case PROTO_CH_SUBMIT: LAYER (s_hdr_request, msg); break;
        case PROTO_CH_REPLY:  LAYER (s_hdr_reply, msg); break;
        default:              LAYER (s_hdr_link, msg); break;
    }
    switch (msg->type) {
        case PROTO_TASK:
            msg->u.task.limits.network = -1;
            LAYER (s_task_top, msg);
            LAYER (s_task_fields, &msg->u.task);
            break;
        case PROTO_HELLO:        LAYER (s_hello, msg); break;
        case PROTO_HEARTBEAT:    LAYER (s_heartbeat, msg); break;
        case PROTO_STARTED:      LAYER (s_started, msg); break;
        case PROTO_OUTPUT:       LAYER (s_output, msg); break;
        case PROTO_RESULT:
            LAYER (s_result_top, msg);
            LAYER (s_result_fields, &msg->u.result);
            break;
        case PROTO_BYE:          LAYER (s_bye, msg); break;
        case PROTO_CANCEL:       LAYER (s_cancel, msg); break;
        case PROTO_ACK:          LAYER (s_ack, msg); break;
        case PROTO_REQ_SUBMIT:   LAYER (s_submit, msg); break;
        case PROTO_REQ_GET:
        case PROTO_REQ_CANCEL:
        case PROTO_REQ_RERUN:    LAYER (s_by_id, msg); break;
        case PROTO_REQ_STREAM:   LAYER (s_stream_req, msg); break;
        case PROTO_REQ_WAIT:     LAYER (s_wait, msg); break;
        case PROTO_REQ_LIST:     LAYER (s_list, msg); break;
        case PROTO_REQ_WORKERS:  break;
        case PROTO_REP_ACCEPTED: LAYER (s_accepted, msg); break;
        case PROTO_REP_TASK:     LAYER (s_rep_task, msg); break;
        case PROTO_REP_TASKS:    LAYER (s_rep_tasks, msg); break;
        case PROTO_REP_WORKERS:  LAYER (s_rep_workers, msg); break;
        case PROTO_REP_ERROR:    LAYER (s_rep_error, msg); break;
        case PROTO_REP_OUTPUT:   LAYER (s_rep_output, msg); break;
        default:
            return dec_fail (dec, "unknown type");
    }
#   undef LAYER
    if (dec_map (dec, root, layers, n))
        return -1;
    if (msg->type == PROTO_TASK)
        return s_task_check (dec, &layers[2], &msg->u.task);
    /*  "attempts" runs parallel to the list of ids it belongs to.          */
    if (msg->type == PROTO_HEARTBEAT && msg->u.heartbeat.attempts
    &&  msg->u.heartbeat.attempt_count != msg->u.heartbeat.running_count) {
        dec_push_key (dec, "attempts", 8);
        return dec_fail (dec, "must have as many entries as running (%zu, not %zu)",
                         msg->u.heartbeat.running_count, msg->u.heartbeat.attempt_count);
    }
    if (msg->type == PROTO_ACK && msg->u.ack.attempts
    &&  msg->u.ack.attempt_count != msg->u.ack.id_count) {
        dec_push_key (dec, "attempts", 8);
        return dec_fail (dec, "must have as many entries as ids (%zu, not %zu)",
                         msg->u.ack.id_count, msg->u.ack.attempt_count);
    }
    return 0;
}
