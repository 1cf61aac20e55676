/*  record_to_json.c - proto_record_t -> JSON (see record_to_json.h).       */
#include "record_to_json.h"
#include "json_text.h"
#include "task_summary.h"
#include "task_to_json.h"
#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>

static json_t *
s_ms (int64_t ms)
{
    return ms > 0 ? json_integer (ms) : json_null ();
}

static json_t *
s_int_or_null (bool known, int64_t value)
{
    return known ? json_integer (value) : json_null ();
}

/*  obj[name] = text, plus obj[name_b64] when the bytes are not text.      */
static int
s_output (json_t *obj, const char *name, proto_bytes_t b)
{
    int rc = json_object_set_new (obj, name, jtext_string (b.data, b.size));
    if (!utf8_is_text (b.data, b.size)) {
        char twin[32];
        snprintf (twin, sizeof twin, "%s_b64", name);
        rc |= json_object_set_new (obj, twin, jtext_b64 (b.data, b.size));
    }
    return rc;
}

/*  "files", "files_b64" (when needed) and "file_refs" of a finished task.  */
static int
s_files (json_t *obj, const proto_result_t *r)
{
    json_t *text = json_object ();
    json_t *b64 = json_object ();
    json_t *refs = json_array ();
    int rc = refs ? jtext_split_files (r->files, r->file_count, text, b64) : -1;
    for (size_t i = 0; rc == 0 && i < r->file_ref_count; i++)
        rc = json_array_append_new (refs, jtext_name (r->file_refs[i]));
    rc |= json_object_set (obj, "files", text);
    if (json_object_size (b64))
        rc |= json_object_set (obj, "files_b64", b64);
    rc |= json_object_set (obj, "file_refs", refs);
    json_decref (text);
    json_decref (b64);
    json_decref (refs);
    return rc;
}

/*  The result keys, from "exit_code" on, of a finished task.               */
static int
s_result (json_t *obj, const proto_result_t *r, bool full, bool usage)
{
    int rc = 0;
    rc |= json_object_set_new (obj, "exit_code", s_int_or_null (r->has_exit_code, r->exit_code));
    rc |= json_object_set_new (obj, "signal", s_int_or_null (r->has_signal, r->signal));
    if (full) {
        rc |= s_output (obj, "stdout", r->stdout_data);
        rc |= s_output (obj, "stderr", r->stderr_data);
    }
    rc |= json_object_set_new (obj, "stdout_truncated", json_boolean (r->stdout_truncated));
    rc |= json_object_set_new (obj, "stderr_truncated", json_boolean (r->stderr_truncated));
    rc |= json_object_set_new (obj, "wall_ms", s_int_or_null (usage, (int64_t) r->wall_ms));
    rc |= json_object_set_new (obj, "cpu_ms", s_int_or_null (usage, (int64_t) r->cpu_ms));
    rc |= json_object_set_new (obj, "max_rss_kb", s_int_or_null (usage, (int64_t) r->max_rss_kb));
    rc |= json_object_set_new (obj, "error", jtext_name (r->error));
    if (full)
        rc |= s_files (obj, r);
    return rc;
}

/*  The result keys of a task still on its way: all null.                   */
static int
s_no_result (json_t *obj, bool full)
{
    static const struct {
        const char *key;
        bool full_only;                 /* not in a list item */
    } keys[] = {
        { "exit_code", false },         { "signal", false },
        { "stdout", true },             { "stderr", true },
        { "stdout_truncated", false },  { "stderr_truncated", false },
        { "wall_ms", false },           { "cpu_ms", false },
        { "max_rss_kb", false },        { "error", false },
        { "files", true },              { "files_b64", true },
        { "file_refs", true },
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (full || !keys[i].full_only)
            rc |= json_object_set_new (obj, keys[i].key, json_null ());
    return rc;
}

json_t *
record_to_json (const proto_record_t *record, const record_json_opts_t *opts)
{
    static const record_json_opts_t defaults = { 0 };
    if (!opts)
        opts = &defaults;
    bool full = !opts->list_item;
    json_t *obj = json_object ();
    if (!obj)
        return NULL;
    int rc = 0;
    rc |= json_object_set_new (obj, "id", jtext_name (record->id));
    rc |= json_object_set_new (obj, "status", json_string (proto_status_name (record->status)));
    rc |= json_object_set_new (obj, "attempt", json_integer (record->attempt));
    rc |= json_object_set_new (obj, "worker", jtext_name (record->worker));
    rc |= json_object_set_new (obj, "created_ms", s_ms (record->created_ms));
    rc |= json_object_set_new (obj, "dispatched_ms", s_ms (record->dispatched_ms));
    rc |= json_object_set_new (obj, "started_ms", s_ms (record->started_ms));
    rc |= json_object_set_new (obj, "finished_ms", s_ms (record->finished_ms));
    if (opts->summary)
        rc |= json_object_set_new (obj, "summary", jtext_name (opts->summary));
    else {
        char *summary = task_summary (&record->task);
        rc |= json_object_set_new (obj, "summary", summary ? jtext_name (summary) : NULL);
        free (summary);
    }
    if (full)
        rc |= json_object_set_new (obj, "task", task_to_json (&record->task));
    if (proto_status_is_terminal (record->status))
        rc |= s_result (obj, &record->result, full, !opts->no_usage);
    else
        rc |= s_no_result (obj, full);
    if (rc) {
        json_decref (obj);
        return NULL;
    }
    return obj;
}
