/*  record_json.c - orch_record_t -> JSON.                                  */
#include "record_json.h"
#include "task_json.h"
#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *
s_ms (int64_t ms)
{
    return ms ? json_integer (ms) : json_null ();
}

/*  A NUL-free C string from the wire (worker id, error) as JSON text.      */
static json_t *
s_text (const char *text)
{
    if (!text)
        return json_null ();
    size_t len = strlen (text);
    json_t *s = orch_json_text_or_null (text, len);
    return s ? s : orch_json_lossy (text, len);
}

/*  "stdout": text (lossy when needed) + "stdout_b64" when not UTF-8.       */
static int
s_output (json_t *obj, const char *name, proto_bytes_t b, bool terminal)
{
    if (!terminal)
        return json_object_set_new (obj, name, json_null ());
    json_t *text = orch_json_text_or_null (b.data, b.size);
    if (text)
        return json_object_set_new (obj, name, text);
    char twin[32];
    snprintf (twin, sizeof twin, "%s_b64", name);
    return json_object_set_new (obj, name, orch_json_lossy (b.data, b.size))
         | json_object_set_new (obj, twin, orch_json_b64 (b.data, b.size));
}

static int
s_files (json_t *obj, const orch_record_t *rec)
{
    json_t *text = json_object ();
    json_t *b64 = json_object ();
    json_t *refs = json_array ();
    int rc = text && b64 && refs ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < rec->file_count; i++) {
        const proto_file_t *f = &rec->files[i];
        json_t *s = orch_json_text_or_null (f->content.data, f->content.size);
        json_t *target = s ? text : b64;
        if (!s)
            s = orch_json_b64 (f->content.data, f->content.size);
        /*  Names were validated as paths, not as UTF-8.                    */
        size_t len = strlen (f->path);
        if (orch_utf8_valid (f->path, len))
            rc |= json_object_set_new (target, f->path, s);
        else {
            char *lossy = orch_utf8_lossy (f->path, len, NULL);
            rc |= lossy ? json_object_set_new (target, lossy, s) : -1;
            free (lossy);
        }
    }
    for (size_t i = 0; rc == 0 && i < rec->file_ref_count; i++)
        rc |= json_array_append_new (refs, s_text (rec->file_refs[i]));
    rc |= json_object_set (obj, "files", text);
    if (json_object_size (b64))
        rc |= json_object_set (obj, "files_b64", b64);
    rc |= json_object_set (obj, "file_refs", refs);
    json_decref (text);
    json_decref (b64);
    json_decref (refs);
    return rc;
}

json_t *
orch_record_to_json (orch_record_t *rec, bool full)
{
    const proto_record_t *v = &rec->view;
    const proto_result_t *r = &v->result;
    bool done = rec->terminal;
    json_t *obj = json_object ();
    if (!obj)
        return NULL;
    int rc = 0;
    rc |= json_object_set_new (obj, "id", json_string (rec->id));
    rc |= json_object_set_new (obj, "status", json_string (proto_status_name (v->status)));
    rc |= json_object_set_new (obj, "attempt", json_integer (v->attempt));
    rc |= json_object_set_new (obj, "worker", s_text (v->worker));
    rc |= json_object_set_new (obj, "created_ms", s_ms (v->created_ms));
    rc |= json_object_set_new (obj, "dispatched_ms", s_ms (v->dispatched_ms));
    rc |= json_object_set_new (obj, "started_ms", s_ms (v->started_ms));
    rc |= json_object_set_new (obj, "finished_ms", s_ms (v->finished_ms));
    rc |= json_object_set_new (obj, "summary", s_text (rec->summary ? rec->summary : ""));
    if (full) {
        if (orch_record_decode_spec (rec)) {
            json_decref (obj);
            return NULL;
        }
        rc |= json_object_set_new (obj, "task", orch_task_to_json (&v->task));
    }
    rc |= json_object_set_new (obj, "exit_code",
                               r->has_exit_code ? json_integer (r->exit_code) : json_null ());
    rc |= json_object_set_new (obj, "signal",
                               r->has_signal ? json_integer (r->signal) : json_null ());
    if (full) {
        rc |= s_output (obj, "stdout", r->stdout_data, done);
        rc |= s_output (obj, "stderr", r->stderr_data, done);
    }
    rc |= json_object_set_new (obj, "stdout_truncated",
                               done ? json_boolean (r->stdout_truncated) : json_null ());
    rc |= json_object_set_new (obj, "stderr_truncated",
                               done ? json_boolean (r->stderr_truncated) : json_null ());
    bool usage = done && rec->has_usage;
    rc |= json_object_set_new (obj, "wall_ms", usage ? json_integer ((json_int_t) r->wall_ms)
                                                     : json_null ());
    rc |= json_object_set_new (obj, "cpu_ms", usage ? json_integer ((json_int_t) r->cpu_ms)
                                                    : json_null ());
    rc |= json_object_set_new (obj, "max_rss_kb",
                               usage ? json_integer ((json_int_t) r->max_rss_kb) : json_null ());
    rc |= json_object_set_new (obj, "error", s_text (r->error));
    if (full)
        rc |= s_files (obj, rec);
    if (rc) {
        json_decref (obj);
        return NULL;
    }
    return obj;
}
