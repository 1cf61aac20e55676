/*  api_tasks.c - REST routes: create, show, list tasks; health.           */
#include "api_tasks.h"
#include "cancel.h"
#include "json_text.h"
#include "orch_config.h"
#include "record_json.h"
#include "store.h"
#include "task_json.h"
#include "tasks.h"
#include "waiters.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LIST_DEFAULT 50
#define LIST_MAX 1000

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
    if (timeline)
        json_object_set_new (json, "timeline", timeline);
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

static void
s_create (orch_req_t *req)
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
    if (key && !orch_tasks_valid_key (key)) {
        orch_req_fail (req, 400, "bad_request", "Idempotency-Key",
                       "must be 1..256 bytes without control characters");
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
    json_error_t jerr;
    json_t *root = json_loadb (body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        orch_req_fail (req, 400, "bad_request", NULL, "invalid JSON: %s (line %d, column %d)",
                       jerr.text, jerr.line, jerr.column);
        return;
    }
    orch_task_in_t in;
    orch_err_t err;
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

static void
s_cancel (orch_req_t *req, const char *id)
{
    orch_cancel_t outcome;
    orch_err_t err;
    if (orch_cancel (orch_req_orch (req), id, &outcome, &err)) {
        orch_req_error (req, &err);
        return;
    }
    s_reply_record (req, id, outcome == ORCH_CANCEL_DONE ? 200 : 202, 0);
}

static void
s_show (orch_req_t *req, const char *id)
{
    if (!proto_valid_id (id, strlen (id))) {
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

static void
s_list (orch_req_t *req)
{
    size_t limit = LIST_DEFAULT;
    const char *value;
    if (orch_req_arg (req, "limit", &value)) {
        char *end = NULL;
        errno = 0;
        long long n = value && isdigit ((unsigned char) *value) ? strtoll (value, &end, 10) : -1;
        if (!end || *end || errno || n < 1 || n > LIST_MAX) {
            orch_req_fail (req, 400, "bad_request", "limit", "must be an integer from 1 to %d",
                           LIST_MAX);
            return;
        }
        limit = (size_t) n;
    }
    orch_t *orch = orch_req_orch (req);
    orch_record_t **items = NULL;
    size_t count = 0;
    if (orch_store_list (orch->store, PROTO_STATUS_NONE, 0, limit, false, &items, &count)) {
        orch_req_fail (req, 500, "internal", NULL, "cannot list tasks");
        return;
    }
    json_t *array = json_array ();
    for (size_t i = 0; array && i < count; i++)
        json_array_append_new (array, orch_record_to_json (items[i], false));
    orch_store_list_free (&items, count);
    json_t *obj = json_object ();
    json_object_set_new (obj, "items", array);
    json_object_set_new (obj, "next", json_null ());
    orch_req_reply (req, 200, obj);
}

static bool
s_is (const char *method, const char *name)
{
    return strcmp (method, name) == 0;
}

void
orch_api_route (orch_req_t *req, const char *method, const char *url)
{
    bool get = s_is (method, "GET") || s_is (method, "HEAD");
    if (strcmp (url, "/healthz") == 0) {
        if (!get) {
            orch_req_method_not_allowed (req, "GET, HEAD");
            return;
        }
        json_t *ok = json_object ();
        json_object_set_new (ok, "status", json_string ("ok"));
        orch_req_reply (req, 200, ok);
        return;
    }
    if (strcmp (url, "/api/tasks") == 0 || strcmp (url, "/api/tasks/") == 0) {
        if (s_is (method, "POST"))
            s_create (req);
        else if (get)
            s_list (req);
        else
            orch_req_method_not_allowed (req, "GET, HEAD, POST");
        return;
    }
    if (strncmp (url, "/api/tasks/", 11) == 0 && !strchr (url + 11, '/')) {
        if (get)
            s_show (req, url + 11);
        else
            orch_req_method_not_allowed (req, "GET, HEAD");
        return;
    }
    const char *slash = strncmp (url, "/api/tasks/", 11) == 0 ? strchr (url + 11, '/') : NULL;
    if (slash && strcmp (slash, "/cancel") == 0) {
        char id[PROTO_ID_MAX + 1];
        size_t len = (size_t) (slash - (url + 11));
        if (len < 1 || len > PROTO_ID_MAX || !proto_valid_id (url + 11, len)) {
            orch_req_fail (req, 400, "bad_request", "id", "must be 1..64 characters of"
                           " [A-Za-z0-9_-]");
            return;
        }
        memcpy (id, url + 11, len);
        id[len] = '\0';
        if (s_is (method, "POST"))
            s_cancel (req, id);
        else
            orch_req_method_not_allowed (req, "POST");
        return;
    }
    char shown[80];
    snprintf (shown, sizeof shown, "%.64s%s", url, strlen (url) > 64 ? "..." : "");
    orch_req_fail (req, 404, "not_found", NULL, "no route %.16s %s", method, shown);
}
