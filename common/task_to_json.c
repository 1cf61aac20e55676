/*  task_to_json.c - proto_task_t -> JSON (see task_to_json.h).            */
#include "task_to_json.h"
#include "json_text.h"
#include "utf8.h"

#include <stddef.h>
#include <stdio.h>

/*  Limits in proto_limits_t order, by their JSON names.                    */
static const struct {
    const char *name;
    size_t offset;
} s_limits[] = {
    { "wall_ms",      offsetof (proto_limits_t, wall_ms) },
    { "cpu_ms",       offsetof (proto_limits_t, cpu_ms) },
    { "memory_bytes", offsetof (proto_limits_t, memory_bytes) },
    { "processes",    offsetof (proto_limits_t, processes) },
    { "output_bytes", offsetof (proto_limits_t, output_bytes) },
    { "file_bytes",   offsetof (proto_limits_t, file_bytes) },
};
#define LIMITS (sizeof s_limits / sizeof s_limits[0])

/*  obj[name] = text, or obj[name_b64] = base64 when the bytes are not
    text. 0 or -1.                                                          */
static int
s_set_bytes (json_t *obj, const char *name, proto_bytes_t b)
{
    if (utf8_is_text (b.data, b.size))
        return json_object_set_new (obj, name, jtext_string (b.data, b.size));
    char b64_name[32];
    snprintf (b64_name, sizeof b64_name, "%s_b64", name);
    return json_object_set_new (obj, b64_name, jtext_b64 (b.data, b.size));
}

static json_t *
s_names (const char *const *names, size_t count)
{
    json_t *array = json_array ();
    for (size_t i = 0; array && i < count; i++)
        if (json_array_append_new (array, jtext_name (names[i]))) {
            json_decref (array);
            return NULL;
        }
    return array;
}

/*  obj[name] = value when value is a non-empty object; drops value.       */
static int
s_set_if_any (json_t *obj, const char *name, json_t *value)
{
    int rc = value ? 0 : -1;
    if (json_object_size (value))
        rc = json_object_set (obj, name, value);
    json_decref (value);
    return rc;
}

static int
s_files (json_t *obj, const proto_task_t *task)
{
    json_t *text = json_object (), *b64 = json_object ();
    int rc = jtext_split_files (task->files, task->file_count, text, b64);
    rc |= s_set_if_any (obj, "files", text);
    rc |= s_set_if_any (obj, "files_b64", b64);
    return rc;
}

static int
s_limits_set (json_t *obj, const proto_limits_t *l)
{
    json_t *limits = json_object ();
    int rc = 0;
    for (size_t i = 0; limits && i < LIMITS; i++) {
        uint64_t v = *(const uint64_t *) ((const char *) l + s_limits[i].offset);
        if (v)
            rc |= json_object_set_new (limits, s_limits[i].name, json_integer ((json_int_t) v));
    }
    if (limits && l->network >= 0)
        rc |= json_object_set_new (limits, "network", json_boolean (l->network > 0));
    return rc | s_set_if_any (obj, "limits", limits);
}

json_t *
task_to_json (const proto_task_t *task)
{
    json_t *obj = json_object ();
    if (!obj)
        return NULL;
    int rc = 0;
    if (task->lang != PROTO_LANG_NONE) {
        rc |= json_object_set_new (obj, "lang", json_string (proto_lang_name (task->lang)));
        rc |= s_set_bytes (obj, "code", task->code);
    }
    else
        rc |= json_object_set_new (obj, "argv", s_names (task->argv, task->argc));
    if (task->has_stdin)
        rc |= s_set_bytes (obj, "stdin", task->stdin_data);
    if (task->env_count) {
        json_t *env = json_object ();
        for (size_t i = 0; env && i < task->env_count; i++)
            rc |= jtext_set_key (env, task->env[i].key, jtext_name (task->env[i].value));
        rc |= json_object_set_new (obj, "env", env);
    }
    if (task->file_count)
        rc |= s_files (obj, task);
    rc |= s_limits_set (obj, &task->limits);
    if (task->collect_count)
        rc |= json_object_set_new (obj, "collect", s_names (task->collect, task->collect_count));
    if (rc) {
        json_decref (obj);
        return NULL;
    }
    return obj;
}
