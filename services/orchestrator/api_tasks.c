/*  api_tasks.c - REST routes for tasks: create, show, list, cancel,
    re-run, download a collected file.                                     */
#include "api_tasks.h"
#include "cancel.h"
#include "json_text.h"
#include "orch_config.h"
#include "record_json.h"
#include "store.h"
#include "task_json.h"
#include "stats.h"
#include "tasks.h"
#include "utf8.h"
#include "waiters.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LIST_DEFAULT 50
#define LIST_MAX 1000
#define CURSOR_PREFIX "s"             /* cursor = "s" + seq of the last item */

/*  What a resumed wait answers with when the task is still not terminal.   */
enum { HINT_CREATED = 1, HINT_SHOW = 2 };

/*  ?wait=SECONDS: 0 when absent, -1 after replying 400, else ms.           */
static int64_t
s_wait_ms (orch_req_t *req)
{
    const char *value;
    if (!orch_req_arg (req, "wait", &value))
        return 0;
    const orch_config_t *cfg = orch_req_orch (req)->cfg;
    double max_s = (double) cfg->max_wait / 1000.0;
    char *end = NULL;
    errno = 0;
    double s = value && *value && !isspace ((unsigned char) *value) ? strtod (value, &end) : NAN;
    if (!value || !end || *end || errno || !isfinite (s) || s <= 0 || s > max_s) {
        orch_req_fail (req, 400, "bad_request", "wait",
                       "must be a number of seconds, more than 0 and at most %g (ORCH_MAX_WAIT)",
                       max_s);
        return -1;
    }
    int64_t ms = (int64_t) (s * 1000.0 + 0.5);
    return ms < 1 ? 1 : ms;
}

/*  "timeline": the task's events, oldest first. NULL when unreadable.     */
static json_t *
s_timeline (orch_t *orch, const char *id)
{
    orch_event_t *events = NULL;
    size_t count = 0;
    if (orch_store_events (orch->store, id, &events, &count))
        return NULL;
    json_t *array = json_array ();
    for (size_t i = 0; array && i < count; i++) {
        const orch_event_t *e = &events[i];
        json_t *item = json_object ();
        json_object_set_new (item, "event", json_string (e->event));
        json_object_set_new (item, "at_ms", json_integer (e->at_ms));
        json_object_set_new (item, "attempt", e->attempt ? json_integer (e->attempt)
                                                         : json_null ());
        json_object_set_new (item, "worker", jtext_name (e->worker));
        json_object_set_new (item, "detail", jtext_name (e->detail));
        json_array_append_new (array, item);
    }
    orch_store_events_free (&events, count);
    return array;
}

/*  Reply with the stored record of id (full, with its timeline) and
    status.                                                                 */
static void
s_reply_record (orch_req_t *req, const char *id, int status, int status_if_running)
{
    orch_t *orch = orch_req_orch (req);
    orch_record_t *rec = NULL;
    int found = orch_store_get (orch->store, id, true, &rec);
    if (found == 0) {
        orch_req_fail (req, 404, "not_found", NULL, "no task with id %s", id);
        return;
    }
    json_t *json = found > 0 ? orch_record_to_json (rec, true) : NULL;
    json_t *timeline = json ? s_timeline (orch, id) : NULL;
    if (timeline) {
        /*  A re-run says so in its first event (tasks.c).                  */
        const char *detail = json_string_value (
            json_object_get (json_array_get (timeline, 0), "detail"));
        if (detail && strncmp (detail, "rerun of ", 9) == 0)
            json_object_set_new (json, "rerun_of", json_string (detail + 9));
        json_object_set_new (json, "timeline", timeline);
    }
    else {
        json_decref (json);
        json = NULL;
    }
    if (!json) {
        orch_record_destroy (&rec);
        orch_req_fail (req, 500, "internal", NULL, "cannot read task %s", id);
        return;
    }
    if (!rec->terminal && status_if_running)
        status = status_if_running;
    orch_record_destroy (&rec);
    orch_req_reply (req, status, json);
}

void
orch_api_resume (orch_req_t *req, const char *id, int hint)
{
    /*  Finished in time: 200. Still going: 202 with the current state.    */
    (void) hint;
    s_reply_record (req, id, 200, 202);
}

static bool
s_json_content_type (orch_req_t *req)
{
    const char *type = orch_req_header (req, "Content-Type");
    if (!type)
        return true;
    size_t n = strcspn (type, ";");
    while (n && type[n - 1] == ' ')
        n--;
    /*  `curl -d '{...}'` labels its body application/x-www-form-urlencoded;
        the body is parsed as JSON whatever the label says, so that one is
        accepted too. Bodies that declare another structure (multipart,
        XML, ...) are refused with 415 rather than misread.                */
    return (n == 16 && strncasecmp (type, "application/json", 16) == 0)
        || (n > 5 && strncasecmp (type + n - 5, "+json", 5) == 0)
        || (n == 33 && strncasecmp (type, "application/x-www-form-urlencoded", 33) == 0);
}

void
orch_api_task_create (orch_req_t *req)
{
    orch_t *orch = orch_req_orch (req);
    if (!s_json_content_type (req)) {
        orch_req_fail (req, 415, "unsupported_media_type", NULL,
                       "Content-Type must be application/json");
        return;
    }
    if (orch->stopping) {
        orch_req_fail (req, 503, "stopping", NULL, "the orchestrator is shutting down; retry"
                       " in a moment");
        return;
    }
    const char *key = orch_req_header (req, "Idempotency-Key");
    if (key && (!orch_tasks_valid_key (key) || !utf8_valid (key, strlen (key)))) {
        orch_req_fail (req, 400, "bad_request", "Idempotency-Key",
                       "must be 1..256 bytes of UTF-8 without control characters");
        return;
    }
    int64_t wait = s_wait_ms (req);
    if (wait < 0)
        return;
    if (wait > 0 && orch_waiters_full (orch->waiters)) {
        orch_req_fail (req, 503, "busy", NULL, "too many requests are waiting; try later");
        return;
    }
    size_t len;
    const char *body = orch_req_body (req, &len);
    orch_err_t err;
    orch_reject_t why;
    json_t *root = orch_json_body (body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err,
                                   &why);
    if (!root) {
        orch_stats_rejected (orch->stats, why);
        orch_req_error (req, &err);
        return;
    }
    orch_task_in_t in;
    char id[PROTO_ID_MAX + 1];
    bool existed = false;
    int rc = orch_task_in_parse (&in, root, &err);
    json_decref (root);
    if (rc == 0)
        rc = orch_tasks_accept (orch, &in.task, key, id, &existed, &err);
    orch_task_in_free (&in);
    if (rc) {
        if (err.status == 429)
            orch_req_add_header (req, "Retry-After", "1");
        orch_req_error (req, &err);
        return;
    }
    /*  Committed: from here on the client may be told about it.            */
    if (existed)
        orch_req_add_header (req, "Idempotent-Replayed", "true");
    proto_status_t now_status = PROTO_STATUS_QUEUED;
    uint32_t attempt;
    if (existed && orch_store_state (orch->store, id, &now_status, &attempt) != 1)
        now_status = PROTO_STATUS_QUEUED;
    bool done = proto_status_is_terminal (now_status);
    if (wait > 0 && !done && orch_req_wait (req, id, wait, HINT_CREATED) == 0)
        return;                         /* the headers wait with it */
    s_reply_record (req, id, wait > 0 || existed ? 200 : 201, wait > 0 ? 202 : 0);
}

void
orch_api_task_cancel (orch_req_t *req, const char *id)
{
    orch_cancel_t outcome;
    orch_err_t err;
    if (orch_cancel (orch_req_orch (req), id, &outcome, &err)) {
        orch_req_error (req, &err);
        return;
    }
    s_reply_record (req, id, outcome == ORCH_CANCEL_DONE ? 200 : 202, 0);
}

void
orch_api_task_show (orch_req_t *req, const char *id)
{
    if (!proto_valid_id (id, strlen (id))) {
        orch_stats_rejected (orch_req_orch (req)->stats, ORCH_REJECT_BAD_ID);
        orch_req_fail (req, 400, "bad_request", "id", "must be 1..64 characters of"
                       " [A-Za-z0-9_-]");
        return;
    }
    int64_t wait = s_wait_ms (req);
    if (wait < 0)
        return;
    if (wait > 0) {
        orch_t *orch = orch_req_orch (req);
        proto_status_t status;
        uint32_t attempt;
        int found = orch_store_state (orch->store, id, &status, &attempt);
        if (found == 1 && !proto_status_is_terminal (status)) {
            if (orch_req_wait (req, id, wait, HINT_SHOW) == 0)
                return;
            if (!orch->stopping) {
                orch_req_fail (req, 503, "busy", NULL, "too many requests are waiting; try"
                               " later");
                return;
            }
        }
    }
    s_reply_record (req, id, 200, wait > 0 ? 202 : 0);
}

/*  An integer query argument: 1 present and valid, 0 absent, -1 answered
    400.                                                                    */
static int
s_int_arg (orch_req_t *req, const char *name, long long min, long long max, long long *out,
           const char *what)
{
    const char *value;
    if (!orch_req_arg (req, name, &value))
        return 0;
    char *end = NULL;
    errno = 0;
    long long n = value && isdigit ((unsigned char) *value) ? strtoll (value, &end, 10) : -1;
    if (!end || *end || errno || n < min || n > max) {
        orch_req_fail (req, 400, "bad_request", name, "must be %s", what);
        return -1;
    }
    *out = n;
    return 1;
}

/*  Add the statuses named in text ("a,b,c") to *mask. false after 400.    */
static bool
s_status_list (orch_req_t *req, const char *text, uint32_t *mask)
{
    while (text && *text) {
        size_t len = strcspn (text, ",");
        char name[32];
        proto_status_t status;
        if (len == 0 || len >= sizeof name) {
            orch_req_fail (req, 400, "bad_request", "status", "must be status names separated"
                           " by commas");
            return false;
        }
        memcpy (name, text, len);
        name[len] = '\0';
        if (proto_status_parse (name, &status) || status == PROTO_STATUS_NONE) {
            orch_req_fail (req, 400, "bad_request", "status", "unknown status %s (known:"
                           " queued, dispatched, running, succeeded, failed, timed_out,"
                           " memory_limit, output_limit, cancelled, rejected, lost,"
                           " internal_error)", name);
            return false;
        }
        *mask |= 1u << status;
        text += len;
        if (*text == ',')
            text++;
    }
    return true;
}

typedef struct {
    orch_req_t *req;
    uint32_t mask;
    bool failed;
} status_args_t;

static enum MHD_Result
s_each_status (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    status_args_t *args = cls;
    if (args->failed || strcmp (key, "status") != 0)
        return MHD_YES;
    if (!value || !s_status_list (args->req, value, &args->mask))
        args->failed = true;
    if (!value && !args->failed) {
        orch_req_fail (args->req, 400, "bad_request", "status", "needs a value");
        args->failed = true;
    }
    return args->failed ? MHD_NO : MHD_YES;
}

/*  The filters of GET /api/tasks into q. false after answering 400.       */
static bool
s_list_query (orch_req_t *req, orch_store_query_t *q, char *text, size_t text_size)
{
    memset (q, 0, sizeof *q);
    q->limit = LIST_DEFAULT;
    long long n;
    int rc = s_int_arg (req, "limit", 1, LIST_MAX, &n, "an integer from 1 to 1000");
    if (rc < 0)
        return false;
    if (rc)
        q->limit = (size_t) n;
    if ((rc = s_int_arg (req, "since", 0, INT64_MAX / 2, &n, "Unix milliseconds")) < 0)
        return false;
    q->since_ms = rc ? n : 0;
    if ((rc = s_int_arg (req, "until", 0, INT64_MAX / 2, &n, "Unix milliseconds")) < 0)
        return false;
    q->until_ms = rc ? n : 0;
    const char *value;
    if (orch_req_arg (req, "cursor", &value)) {
        char *end = NULL;
        errno = 0;
        long long seq = value && strncmp (value, CURSOR_PREFIX, 1) == 0
                        && isdigit ((unsigned char) value[1])
                      ? strtoll (value + 1, &end, 10) : -1;
        if (!end || *end || errno || seq < 1) {
            orch_req_fail (req, 400, "bad_request", "cursor", "is not a cursor this server"
                           " gave (use the \"next\" value of the previous page)");
            return false;
        }
        q->before_seq = seq;
    }
    if (orch_req_arg (req, "q", &value) && value && *value) {
        size_t len = strlen (value);
        if (len >= text_size) {
            orch_req_fail (req, 400, "bad_request", "q", "is longer than %zu bytes",
                           text_size - 1);
            return false;
        }
        for (size_t i = 0; i <= len; i++)
            text[i] = value[i] >= 'A' && value[i] <= 'Z' ? (char) (value[i] + 32) : value[i];
        q->text = text;
    }
    status_args_t args = { .req = req };
    orch_req_each_arg (req, s_each_status, &args);
    if (args.failed)
        return false;
    q->statuses = args.mask;
    return true;
}

void
orch_api_task_list (orch_req_t *req)
{
    orch_store_query_t q;
    char text[1024];
    if (!s_list_query (req, &q, text, sizeof text))
        return;
    orch_t *orch = orch_req_orch (req);
    orch_record_t **items = NULL;
    size_t count = 0;
    bool more = false;
    if (orch_store_query (orch->store, &q, &items, &count, &more)) {
        orch_req_fail (req, 500, "internal", NULL, "cannot list tasks");
        return;
    }
    json_t *array = json_array ();
    for (size_t i = 0; array && i < count; i++)
        json_array_append_new (array, orch_record_to_json (items[i], false));
    json_t *obj = json_object ();
    json_object_set_new (obj, "items", array);
    char cursor[32];
    if (more && count)
        snprintf (cursor, sizeof cursor, CURSOR_PREFIX "%lld", (long long) items[count - 1]->seq);
    json_object_set_new (obj, "next", more && count ? json_string (cursor) : json_null ());
    orch_store_list_free (&items, count);
    orch_req_reply (req, 200, obj);
}

void
orch_api_task_rerun (orch_req_t *req, const char *id)
{
    orch_t *orch = orch_req_orch (req);
    if (orch->stopping) {
        orch_req_fail (req, 503, "stopping", NULL, "the orchestrator is shutting down; retry"
                       " in a moment");
        return;
    }
    int64_t wait = s_wait_ms (req);
    if (wait < 0)
        return;
    char new_id[PROTO_ID_MAX + 1];
    orch_err_t err;
    if (orch_tasks_rerun (orch, id, new_id, &err)) {
        if (err.status == 429)
            orch_req_add_header (req, "Retry-After", "1");
        orch_req_error (req, &err);
        return;
    }
    if (wait > 0 && orch_req_wait (req, new_id, wait, HINT_CREATED) == 0)
        return;
    s_reply_record (req, new_id, wait > 0 ? 200 : 201, wait > 0 ? 202 : 0);
}

/*  Percent-decode src (len bytes) into dst (>= len + 1 bytes). false on a
    broken escape or an encoded NUL.                                       */
static bool
s_unescape (const char *src, size_t len, char *dst)
{
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] != '%') {
            dst[j++] = src[i];
            continue;
        }
        if (i + 2 >= len || !isxdigit ((unsigned char) src[i + 1])
            || !isxdigit ((unsigned char) src[i + 2]))
            return false;
        char hex[3] = { src[i + 1], src[i + 2], 0 };
        int c = (int) strtol (hex, NULL, 16);
        if (c == 0)
            return false;
        dst[j++] = (char) c;
        i += 2;
    }
    dst[j] = '\0';
    return true;
}

/*  filename*= value: RFC 5987 percent-encoding of the last component.     */
static void
s_disposition (const char *path, char *out, size_t size)
{
    const char *base = strrchr (path, '/');
    base = base ? base + 1 : path;
    size_t at = (size_t) snprintf (out, size, "attachment; filename*=UTF-8''");
    for (const unsigned char *p = (const unsigned char *) base; *p && at + 4 < size; p++) {
        if (isalnum (*p) || strchr ("-._~", *p))
            out[at++] = (char) *p;
        else
            at += (size_t) snprintf (out + at, size - at, "%%%02X", *p);
    }
    out[at < size ? at : size - 1] = '\0';
}

void
orch_api_task_file (orch_req_t *req, const char *id, const char *raw_path)
{
    /*  MHD hands us the path as sent (percent escapes intact): decode it
        once here, then the same validator as the wire protocol decides.  */
    size_t raw_len = strlen (raw_path);
    char *path = malloc (raw_len + 1);
    if (!path) {
        orch_req_fail (req, 500, "internal", NULL, "out of memory");
        return;
    }
    const char *why = "has a broken %-escape";
    if (!s_unescape (raw_path, raw_len, path)
        || !proto_valid_rel_path (path, strlen (path), &why)) {
        orch_stats_rejected (orch_req_orch (req)->stats, ORCH_REJECT_BAD_PATH);
        orch_req_fail (req, 400, "bad_request", "path", "%s", why);
        free (path);
        return;
    }
    orch_t *orch = orch_req_orch (req);
    uint8_t *data = NULL;
    size_t size = 0;
    bool is_ref = false;
    int found = orch_store_file (orch->store, id, path, &data, &size, &is_ref);
    if (found < 0)
        orch_req_fail (req, 500, "internal", NULL, "cannot read the file");
    else if (found == 0 || is_ref) {
        proto_status_t status;
        uint32_t attempt;
        int task = orch_store_state (orch->store, id, &status, &attempt);
        if (task == 0)
            orch_req_fail (req, 404, "not_found", NULL, "no task with id %s", id);
        else
            orch_req_fail (req, 404, "not_found", "path", "%s",
                          is_ref ? "was too big for the store; it is in the shared volume"
                                   " (sandbox_io/out/<id>/)"
                                 : "no such collected file in this task");
    }
    else {
        char disposition[PROTO_PATH_MAX * 3 + 64];
        s_disposition (path, disposition, sizeof disposition);
        orch_req_add_header (req, "Content-Disposition", disposition);
        orch_req_add_header (req, "Cache-Control", "no-store");
        orch_req_reply_raw (req, 200, "application/octet-stream", data, size, false, false);
    }
    free (data);
    free (path);
}
