/*  cli_json.c - task records as JSON (jansson).                            */
#include "cli_json.h"
#include "cli.h"
#include "cli_text.h"

#include <stdlib.h>
#include <string.h>

/*  Every setter records a failure (out of memory) in *ok instead of
    returning, so that building an object reads as a flat list.             */
static void
s_set (json_t *obj, const char *key, json_t *value, bool *ok)
{
    if (!value || json_object_set_new (obj, key, value))
        *ok = false;
}

/*  Object keys must be valid UTF-8 too; a path from the wire may not be.  */
static void
s_set_path (json_t *obj, const char *path, json_t *value, bool *ok)
{
    size_t len = strlen (path);
    if (cli_utf8_valid ((const uint8_t *) path, len)) {
        s_set (obj, path, value, ok);
        return;
    }
    char *lossy = cli_utf8_lossy ((const uint8_t *) path, len, NULL);
    if (lossy)
        s_set (obj, lossy, value, ok);
    else {
        json_decref (value);
        *ok = false;
    }
    free (lossy);
}

static json_t *
s_str_or_null (const char *text)
{
    if (!text)
        return json_null ();
    /*  Decoded strings are NUL-free; keep them valid UTF-8 for JSON.       */
    size_t len = strlen (text);
    if (cli_utf8_valid ((const uint8_t *) text, len))
        return json_stringn (text, len);
    char *lossy = cli_utf8_lossy ((const uint8_t *) text, len, &len);
    json_t *json = lossy ? json_stringn (lossy, len) : NULL;
    free (lossy);
    return json;
}

static json_t *
s_lossy (proto_bytes_t bytes)
{
    size_t len;
    char *text = cli_utf8_lossy (bytes.data, bytes.size, &len);
    json_t *json = text ? json_stringn (text, len) : NULL;
    free (text);
    return json;
}

static json_t *
s_b64 (proto_bytes_t bytes)
{
    char *text = cli_base64 (bytes.data, bytes.size);
    json_t *json = text ? json_string (text) : NULL;
    free (text);
    return json;
}

/*  Answer style: key = (lossy) text, plus key_b64 when not text.          */
static void
s_set_bytes_answer (json_t *obj, const char *key, proto_bytes_t bytes, bool *ok)
{
    s_set (obj, key, s_lossy (bytes), ok);
    if (!cli_is_text (bytes.data, bytes.size)) {
        char b64_key[64];
        snprintf (b64_key, sizeof b64_key, "%s_b64", key);
        s_set (obj, b64_key, s_b64 (bytes), ok);
    }
}

/*  Request style: key = text, or key_b64 alone.                           */
static void
s_set_bytes_request (json_t *obj, const char *key, proto_bytes_t bytes, bool *ok)
{
    if (cli_is_text (bytes.data, bytes.size))
        s_set (obj, key, json_stringn ((const char *) bytes.data, bytes.size), ok);
    else {
        char b64_key[64];
        snprintf (b64_key, sizeof b64_key, "%s_b64", key);
        s_set (obj, b64_key, s_b64 (bytes), ok);
    }
}

static json_t *
s_ms (int64_t ms)
{
    return ms > 0 ? json_integer (ms) : json_null ();
}

static json_t *
s_str_array (const char **items, size_t count, bool *ok)
{
    json_t *array = json_array ();
    if (!array) {
        *ok = false;
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        if (json_array_append_new (array, s_str_or_null (items[i])))
            *ok = false;
    return array;
}

json_t *
cli_json_task (const proto_task_t *task)
{
    bool ok = true;
    json_t *obj = json_object ();
    if (!obj)
        return NULL;
    if (task->lang != PROTO_LANG_NONE) {
        s_set (obj, "lang", json_string (proto_lang_name (task->lang)), &ok);
        s_set_bytes_request (obj, "code", task->code, &ok);
    }
    else
        s_set (obj, "argv", s_str_array (task->argv, task->argc, &ok), &ok);
    if (task->has_stdin)
        s_set_bytes_request (obj, "stdin", task->stdin_data, &ok);
    if (task->env_count) {
        json_t *env = json_object ();
        for (size_t i = 0; env && i < task->env_count; i++)
            s_set (env, task->env[i].key, s_str_or_null (task->env[i].value), &ok);
        s_set (obj, "env", env, &ok);
    }
    if (task->file_count) {
        json_t *files = json_object ();
        json_t *files_b64 = json_object ();
        for (size_t i = 0; files && files_b64 && i < task->file_count; i++) {
            const proto_file_t *f = &task->files[i];
            if (cli_is_text (f->content.data, f->content.size))
                s_set_path (files, f->path,
                       json_stringn ((const char *) f->content.data, f->content.size), &ok);
            else
                s_set_path (files_b64, f->path, s_b64 (f->content), &ok);
        }
        if (files && json_object_size (files))
            s_set (obj, "files", files, &ok);
        else
            json_decref (files);
        if (files_b64 && json_object_size (files_b64))
            s_set (obj, "files_b64", files_b64, &ok);
        else
            json_decref (files_b64);
        if (!files || !files_b64)
            ok = false;
    }
    if (task->collect_count)
        s_set (obj, "collect", s_str_array (task->collect, task->collect_count, &ok), &ok);

    const proto_limits_t *l = &task->limits;
    const struct { const char *name; uint64_t value; } limits[] = {
        { "wall_ms", l->wall_ms },           { "cpu_ms", l->cpu_ms },
        { "memory_bytes", l->memory_bytes }, { "processes", l->processes },
        { "output_bytes", l->output_bytes }, { "file_bytes", l->file_bytes },
    };
    json_t *lim = json_object ();
    for (size_t i = 0; lim && i < sizeof limits / sizeof limits[0]; i++)
        if (limits[i].value)
            s_set (lim, limits[i].name, json_integer ((json_int_t) limits[i].value), &ok);
    if (lim && l->network >= 0)
        s_set (lim, "network", json_boolean (l->network > 0), &ok);
    if (lim && json_object_size (lim))
        s_set (obj, "limits", lim, &ok);
    else
    if (lim)
        json_decref (lim);
    else
        ok = false;

    if (!ok) {
        json_decref (obj);
        return NULL;
    }
    return obj;
}

json_t *
cli_json_record (const proto_record_t *record)
{
    bool ok = true;
    json_t *obj = json_object ();
    if (!obj)
        return NULL;
    const proto_result_t *r = &record->result;
    bool done = proto_status_is_terminal (record->status);

    s_set (obj, "id", s_str_or_null (record->id), &ok);
    s_set (obj, "status", json_string (proto_status_name (record->status)), &ok);
    s_set (obj, "attempt", json_integer (record->attempt), &ok);
    s_set (obj, "worker", s_str_or_null (record->worker), &ok);
    s_set (obj, "created_ms", s_ms (record->created_ms), &ok);
    s_set (obj, "dispatched_ms", s_ms (record->dispatched_ms), &ok);
    s_set (obj, "started_ms", s_ms (record->started_ms), &ok);
    s_set (obj, "finished_ms", s_ms (record->finished_ms), &ok);
    s_set (obj, "task", cli_json_task (&record->task), &ok);

    if (!done) {
        static const char *const result_keys[] = {
            "exit_code", "signal", "stdout", "stderr", "stdout_truncated",
            "stderr_truncated", "wall_ms", "cpu_ms", "max_rss_kb", "error",
            "files", "files_b64", "file_refs"
        };
        for (size_t i = 0; i < sizeof result_keys / sizeof result_keys[0]; i++)
            s_set (obj, result_keys[i], json_null (), &ok);
    }
    else {
        s_set (obj, "exit_code", r->has_exit_code ? json_integer (r->exit_code) : json_null (),
               &ok);
        s_set (obj, "signal", r->has_signal ? json_integer (r->signal) : json_null (), &ok);
        s_set_bytes_answer (obj, "stdout", r->stdout_data, &ok);
        s_set_bytes_answer (obj, "stderr", r->stderr_data, &ok);
        s_set (obj, "stdout_truncated", json_boolean (r->stdout_truncated), &ok);
        s_set (obj, "stderr_truncated", json_boolean (r->stderr_truncated), &ok);
        s_set (obj, "wall_ms", json_integer ((json_int_t) r->wall_ms), &ok);
        s_set (obj, "cpu_ms", json_integer ((json_int_t) r->cpu_ms), &ok);
        s_set (obj, "max_rss_kb", json_integer ((json_int_t) r->max_rss_kb), &ok);
        s_set (obj, "error", s_str_or_null (r->error), &ok);
        json_t *files = json_object ();
        json_t *files_b64 = json_object ();
        for (size_t i = 0; files && files_b64 && i < r->file_count; i++) {
            const proto_file_t *f = &r->files[i];
            s_set_path (files, f->path, s_lossy (f->content), &ok);
            if (!cli_is_text (f->content.data, f->content.size))
                s_set_path (files_b64, f->path, s_b64 (f->content), &ok);
        }
        s_set (obj, "files", files, &ok);
        s_set (obj, "files_b64", files_b64, &ok);
        s_set (obj, "file_refs", s_str_array (r->file_refs, r->file_ref_count, &ok), &ok);
    }
    if (!ok) {
        json_decref (obj);
        return NULL;
    }
    return obj;
}

int
cli_json_print (FILE *out, const json_t *json)
{
    if (json_dumpf (json, out, JSON_COMPACT) || fputc ('\n', out) == EOF)
        return -1;
    return fflush (out) ? -1 : 0;
}

int
cli_json_print_record (FILE *out, const proto_record_t *record)
{
    json_t *json = cli_json_record (record);
    if (!json) {
        cli_error ("out of memory while rendering task %s as JSON", record->id ? record->id : "?");
        return -1;
    }
    int rc = cli_json_print (out, json);
    json_decref (json);
    if (rc)
        cli_error ("cannot write the JSON record to stdout");
    return rc;
}
