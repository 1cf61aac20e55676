/*  proto_names.c - wire names of types, statuses, languages and streams,
    and the validators every component shares (ids, paths, env keys).
*/
#include "proto_internal.h"

#include <stdlib.h>
#include <string.h>

static const char *const s_type_names[PROTO_TYPE_COUNT_] = {
    [PROTO_NONE]         = "none",
    [PROTO_TASK]         = "task",
    [PROTO_HELLO]        = "hello",
    [PROTO_HEARTBEAT]    = "heartbeat",
    [PROTO_STARTED]      = "started",
    [PROTO_OUTPUT]       = "output",
    [PROTO_RESULT]       = "result",
    [PROTO_BYE]          = "bye",
    [PROTO_CANCEL]       = "cancel",
    [PROTO_ACK]          = "ack",
    [PROTO_REQ_SUBMIT]   = "submit",
    [PROTO_REQ_GET]      = "get",
    [PROTO_REQ_WAIT]     = "wait",
    [PROTO_REQ_CANCEL]   = "cancel",
    [PROTO_REQ_LIST]     = "list",
    [PROTO_REQ_WORKERS]  = "workers",
    [PROTO_REP_ACCEPTED] = "accepted",
    [PROTO_REP_TASK]     = "task",
    [PROTO_REP_TASKS]    = "tasks",
    [PROTO_REP_WORKERS]  = "workers",
    [PROTO_REP_ERROR]    = "error",
    [PROTO_REQ_RERUN]    = "rerun",
    [PROTO_REQ_STREAM]   = "stream",
    [PROTO_REP_OUTPUT]   = "output",
};

static const char *const s_status_names[PROTO_STATUS_COUNT_] = {
    [PROTO_STATUS_NONE]           = "none",
    [PROTO_STATUS_QUEUED]         = "queued",
    [PROTO_STATUS_DISPATCHED]     = "dispatched",
    [PROTO_STATUS_RUNNING]        = "running",
    [PROTO_STATUS_SUCCEEDED]      = "succeeded",
    [PROTO_STATUS_FAILED]         = "failed",
    [PROTO_STATUS_TIMED_OUT]      = "timed_out",
    [PROTO_STATUS_KILLED]         = "killed",
    [PROTO_STATUS_MEMORY_LIMIT]   = "memory_limit",
    [PROTO_STATUS_OUTPUT_LIMIT]   = "output_limit",
    [PROTO_STATUS_CANCELLED]      = "cancelled",
    [PROTO_STATUS_REJECTED]       = "rejected",
    [PROTO_STATUS_LOST]           = "lost",
    [PROTO_STATUS_INTERNAL_ERROR] = "internal_error",
};

static const char *const s_lang_names[] = {
    [PROTO_LANG_NONE]    = "none",
    [PROTO_LANG_SH]      = "sh",
    [PROTO_LANG_BASH]    = "bash",
    [PROTO_LANG_PYTHON3] = "python3",
};
#define LANG_COUNT (sizeof s_lang_names / sizeof s_lang_names[0])

const char *const proto_limit_names[PROTO_LIMIT_COUNT_] = {
    "wall_ms", "cpu_ms", "memory_bytes", "processes", "output_bytes", "file_bytes"
};

const char *
proto_type_name (proto_type_t type)
{
    if ((int) type < 0 || type >= PROTO_TYPE_COUNT_)
        return "unknown";
    return s_type_names[type];
}

const char *
proto_status_name (proto_status_t status)
{
    if ((int) status < 0 || status >= PROTO_STATUS_COUNT_)
        return "unknown";
    return s_status_names[status];
}

/*  "none" is not a wire name: only real statuses parse.                    */
int
proto_status_parse (const char *name, proto_status_t *status)
{
    if (!name)
        return -1;
    for (int i = PROTO_STATUS_NONE + 1; i < PROTO_STATUS_COUNT_; i++)
        if (strcmp (name, s_status_names[i]) == 0) {
            if (status)
                *status = (proto_status_t) i;
            return 0;
        }
    return -1;
}

bool
proto_status_is_terminal (proto_status_t status)
{
    return status >= PROTO_STATUS_SUCCEEDED && status < PROTO_STATUS_COUNT_;
}

const char *
proto_lang_name (proto_lang_t lang)
{
    if ((int) lang < 0 || (size_t) lang >= LANG_COUNT)
        return "unknown";
    return s_lang_names[lang];
}

int
proto_lang_parse (const char *name, proto_lang_t *lang)
{
    if (!name)
        return -1;
    for (size_t i = PROTO_LANG_NONE + 1; i < LANG_COUNT; i++)
        if (strcmp (name, s_lang_names[i]) == 0) {
            if (lang)
                *lang = (proto_lang_t) i;
            return 0;
        }
    return -1;
}

const char *
proto_stream_name (proto_stream_t stream)
{
    switch (stream) {
        case PROTO_STREAM_STDOUT: return "stdout";
        case PROTO_STREAM_STDERR: return "stderr";
    }
    return "unknown";
}

bool
proto_valid_id (const char *id, size_t len)
{
    if (!id || len == 0 || len > PROTO_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) id[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/*  Checked component by component, so "a/./b", "a/..", "a//b" and a
    trailing "/" are all caught with a precise reason.                      */
bool
proto_valid_rel_path (const char *path, size_t len, const char **why)
{
    const char *reason = NULL;
    if (!path || len == 0)
        reason = "must not be empty";
    else
    if (len > PROTO_PATH_MAX)
        reason = "is too long (max 1024 bytes)";
    else
    if (memchr (path, '\0', len))
        reason = "must not contain a NUL byte";
    else
    if (path[0] == '/')
        reason = "must be relative, not absolute";
    else
    if (path[len - 1] == '/')
        reason = "must not end with '/'";
    else {
        size_t start = 0;
        while (start <= len && !reason) {
            const char *slash = memchr (path + start, '/', len - start);
            size_t end = slash ? (size_t) (slash - path) : len;
            size_t clen = end - start;
            if (clen == 0)
                reason = "must not contain an empty component ('//')";
            else
            if (clen == 2 && path[start] == '.' && path[start + 1] == '.')
                reason = "must not contain '..'";
            else
            if (clen == 1 && path[start] == '.')
                reason = "must not contain a '.' component";
            start = end + 1;
        }
    }
    if (why)
        *why = reason;
    return reason == NULL;
}

bool
proto_valid_env_key (const char *key, size_t len)
{
    if (!key || len == 0 || len > PROTO_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) key[i];
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        bool digit = c >= '0' && c <= '9';
        if (!(alpha || (i > 0 && digit)))
            return false;
    }
    return true;
}

/*  A name (worker id, version, idempotency key, layer name, error code):
    1..max bytes, printable ASCII or any byte >= 0x80 (UTF-8 text), so a
    name can be logged and shown without escaping tricks.                   */
bool
proto_valid_name (const char *str, size_t len, size_t max)
{
    if (!str || len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) str[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

uint64_t *
proto_limit_slot (proto_limits_t *limits, size_t index)
{
    switch (index) {
        case 0: return &limits->wall_ms;
        case 1: return &limits->cpu_ms;
        case 2: return &limits->memory_bytes;
        case 3: return &limits->processes;
        case 4: return &limits->output_bytes;
        case 5: return &limits->file_bytes;
    }
    return NULL;
}

uint64_t
proto_limit_value (const proto_limits_t *limits, size_t index)
{
    return *proto_limit_slot ((proto_limits_t *) limits, index);
}

uint64_t
proto_limit_absurd (size_t index)
{
    switch (index) {
        case 0: case 1: return PROTO_LIMIT_ABSURD_MS;
        case 3:         return PROTO_LIMIT_ABSURD_COUNT;
        default:        return PROTO_LIMIT_ABSURD_BYTES;
    }
}

static int
s_name_cmp (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/*  Few names: compare every pair. Many: sort pointers, compare neighbours,
    so 1024 env entries cost n log n, not n squared.                        */
int
proto_find_duplicate (const void *items, size_t count, size_t stride,
                      const char **scratch, const char **dup)
{
    const unsigned char *base = (const unsigned char *) items;
#   define NAME_AT(i) (*(const char *const *) (base + (i) * stride))
    if (count <= 16) {
        for (size_t i = 1; i < count; i++)
            for (size_t j = 0; j < i; j++)
                if (strcmp (NAME_AT (i), NAME_AT (j)) == 0) {
                    *dup = NAME_AT (i);
                    return 1;
                }
        return 0;
    }
    const char **names = scratch;
    if (!names) {
        names = (const char **) malloc (count * sizeof *names);
        if (!names)
            return -1;
    }
    for (size_t i = 0; i < count; i++)
        names[i] = NAME_AT (i);
#   undef NAME_AT
    qsort (names, count, sizeof *names, s_name_cmp);
    int rc = 0;
    for (size_t i = 1; i < count && rc == 0; i++)
        if (strcmp (names[i], names[i - 1]) == 0) {
            *dup = names[i];
            rc = 1;
        }
    if (names != scratch)
        free (names);
    return rc;
}
