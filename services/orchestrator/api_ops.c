/*  api_ops.c - health, readiness, metrics, sessions, workers, stats.      */
#include "api_ops.h"
#include "json_text.h"
#include "leases.h"
#include "sessions.h"
#include "stats.h"
#include "store.h"
#include "task_json.h"
#include "strbuf.h"
#include "tasks.h"
#include "token.h"
#include "workers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
orch_api_healthz (orch_req_t *req)
{
    json_t *ok = json_object ();
    json_object_set_new (ok, "status", json_string ("ok"));
    orch_req_reply (req, 200, ok);
}

void
orch_api_readyz (orch_req_t *req)
{
    orch_t *orch = orch_req_orch (req);
    proto_status_t status;
    uint32_t attempt;
    /*  A lookup proves the database answers (any id will do).             */
    bool store_ok = orch_store_state (orch->store, "readyz", &status, &attempt) >= 0;
    size_t workers = orch_workers_count (orch->workers);
    json_t *obj = json_object ();
    const char *reason = orch->stopping ? "shutting down"
                       : !store_ok ? "the task store does not answer"
                       : workers == 0 ? "no sandbox worker is connected" : NULL;
    json_object_set_new (obj, "status", json_string (reason ? "not_ready" : "ready"));
    json_object_set_new (obj, "workers", json_integer ((json_int_t) workers));
    json_object_set_new (obj, "store", json_boolean (store_ok));
    if (reason)
        json_object_set_new (obj, "reason", json_string (reason));
    orch_req_reply (req, reason ? 503 : 200, obj);
}

/* --- /metrics -------------------------------------------------------------- */

static void
s_gauge (strbuf_t *t, const char *name, const char *help, uint64_t value)
{
    strbuf_printf (t, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name,
                   (unsigned long long) value);
}

void
orch_api_metrics (orch_req_t *req)
{
    orch_t *orch = orch_req_orch (req);
    uint64_t counts[PROTO_STATUS_COUNT_];
    if (orch_store_count (orch->store, counts)) {
        orch_req_fail (req, 500, "internal", NULL, "cannot count tasks");
        return;
    }
    strbuf_t t = { 0 };
    strbuf_printf (&t, "# HELP cleudo_tasks Tasks in the store by status.\n"
                       "# TYPE cleudo_tasks gauge\n");
    for (int s = 1; s < PROTO_STATUS_COUNT_; s++)
        strbuf_printf (&t, "cleudo_tasks{status=\"%s\"} %llu\n",
                       proto_status_name ((proto_status_t) s), (unsigned long long) counts[s]);
    s_gauge (&t, "cleudo_queue_depth", "Tasks waiting for a worker (queued, or sent and not"
             " started).", orch_tasks_waiting (orch));
    s_gauge (&t, "cleudo_tasks_in_flight", "Tasks sent to a worker and not finished.",
             orch_leases_count (orch->leases));
    s_gauge (&t, "cleudo_workers", "Sandbox workers connected.",
             orch_workers_count (orch->workers));
    s_gauge (&t, "cleudo_worker_slots", "Task slots over all connected workers.",
             orch_workers_slots (orch->workers));
    s_gauge (&t, "cleudo_event_subscribers", "Open event streams.",
             orch_http_streams (orch->http));
    s_gauge (&t, "cleudo_http_connections", "HTTP connections open.",
             orch_http_connections (orch->http));
    char *rest = orch_stats_prometheus (orch->stats);
    if (rest)
        strbuf_append (&t, rest, strlen (rest));
    free (rest);
    size_t len;
    char *text = strbuf_take (&t, &len);
    if (!rest || !text) {
        free (text);
        orch_req_fail (req, 500, "internal", NULL, "out of memory");
        return;
    }
    orch_req_reply_raw (req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, false,
                        false);
    free (text);
}

/* --- sessions ------------------------------------------------------------- */

static void
s_session_reply (orch_req_t *req, int status, const char *csrf, int64_t expires_ms)
{
    json_t *obj = json_object ();
    json_object_set_new (obj, "csrf", json_string (csrf));
    json_object_set_new (obj, "expires_ms", json_integer (expires_ms));
    orch_req_reply (req, status, obj);
}

void
orch_api_session_create (orch_req_t *req)
{
    orch_t *orch = orch_req_orch (req);
    size_t len;
    const char *body = orch_req_body (req, &len);
    orch_err_t err;
    orch_reject_t why;
    json_t *root = orch_json_body (body, len, JSON_REJECT_DUPLICATES, &err, &why);
    if (!root)
        orch_stats_rejected (orch->stats, why);
    json_t *token = root ? json_object_get (root, "token") : NULL;
    if (!root || !json_is_object (root) || !json_is_string (token)) {
        json_decref (root);
        orch_req_fail (req, 400, "bad_request", "token", "%s",
                       "send {\"token\": \"<the API token>\"} as JSON");
        return;
    }
    bool right = orch_token_equal (json_string_value (token), json_string_length (token),
                                   orch->token, orch->token_len);
    json_decref (root);
    if (!right) {
        orch_stats_rejected (orch->stats, ORCH_REJECT_UNAUTHORIZED);
        orch_req_fail (req, 401, "unauthorized", "token", "%s",
                       "wrong API token (see data/token or ORCH_API_TOKEN)");
        return;
    }
    char sid[ORCH_SESSION_ID_LEN + 1], csrf[ORCH_SESSION_ID_LEN + 1];
    int64_t expires;
    if (orch_sessions_create (orch->sessions, orch_now_ms (), sid, csrf, &expires)) {
        orch_req_fail (req, 500, "internal", NULL, "cannot create a session");
        return;
    }
    char cookie[160];
    snprintf (cookie, sizeof cookie, ORCH_SESSION_COOKIE "=%s; HttpOnly; SameSite=Strict;"
              " Path=/; Max-Age=%lld", sid, (long long) (ORCH_SESSION_TTL_MS / 1000));
    orch_req_set_cookie (req, cookie);
    s_session_reply (req, 200, csrf, expires);
    explicit_bzero (sid, sizeof sid);
}

/*  The live session of the request's cookie: its CSRF token, or NULL
    after answering 401 (*sid, *expires filled when found).               */
static const char *
s_cookie_session (orch_req_t *req, const char **sid, int64_t *expires)
{
    orch_t *orch = orch_req_orch (req);
    *sid = orch_req_cookie (req, ORCH_SESSION_COOKIE);
    const char *csrf = *sid ? orch_sessions_find (orch->sessions, *sid, orch_now_ms (), expires)
                            : NULL;
    if (!csrf)
        orch_req_fail (req, 401, "unauthorized", NULL, "%s",
                       *sid ? "the session has expired or was logged out; log in again"
                            : "not logged in");
    return csrf;
}

void
orch_api_session_get (orch_req_t *req)
{
    const char *sid;
    int64_t expires = 0;
    const char *csrf = s_cookie_session (req, &sid, &expires);
    if (csrf)
        s_session_reply (req, 200, csrf, expires);
}

void
orch_api_session_delete (orch_req_t *req)
{
    orch_t *orch = orch_req_orch (req);
    const char *sid;
    int64_t expires = 0;
    const char *csrf = s_cookie_session (req, &sid, &expires);
    if (!csrf)
        return;
    /*  Logging someone out is a change too: a forged request must not.   */
    if (!orch_sessions_csrf_ok (csrf, orch_req_header (req, "X-CSRF-Token"))) {
        orch_stats_rejected (orch->stats, ORCH_REJECT_CSRF);
        orch_req_fail (req, 403, "csrf", "X-CSRF-Token", "%s", "missing or wrong");
        return;
    }
    orch_sessions_remove (orch->sessions, sid);
    orch_req_set_cookie (req, ORCH_SESSION_COOKIE "=; HttpOnly; SameSite=Strict; Path=/;"
                         " Max-Age=0");
    orch_req_reply_raw (req, 204, "text/plain", "", 0, true, false);
}

/* --- workers and stats ------------------------------------------------------ */

static json_t *
s_isolation_json (const proto_worker_info_t *w)
{
    json_t *obj = json_object ();
    for (size_t i = 0; i < w->isolation_count; i++) {
        const proto_layer_t *l = &w->isolation[i];
        json_object_set_new (obj, l->name, l->is_bool ? json_boolean (l->value)
                                                      : json_integer (l->value));
    }
    return obj;
}

static json_t *
s_worker_json (orch_t *orch, const proto_worker_info_t *w)
{
    json_t *obj = json_object ();
    json_object_set_new (obj, "id", jtext_name (w->worker));
    json_object_set_new (obj, "slots", json_integer (w->slots));
    json_object_set_new (obj, "busy", json_integer (w->slots - w->free));
    json_object_set_new (obj, "free", json_integer (w->free));
    json_object_set_new (obj, "version", jtext_name (w->version));
    json_object_set_new (obj, "last_heartbeat_ms", json_integer (w->last_seen_ms));
    json_object_set_new (obj, "tasks_done", json_integer ((json_int_t) w->tasks_done));
    const char *const *ids;
    size_t n = orch_workers_running (orch->workers, w->worker, &ids);
    json_t *running = json_array ();
    for (size_t i = 0; i < n; i++)
        json_array_append_new (running, json_string (ids[i]));
    json_object_set_new (obj, "running", running);
    json_object_set_new (obj, "isolation", s_isolation_json (w));
    return obj;
}

void
orch_api_workers (orch_req_t *req)
{
    orch_t *orch = orch_req_orch (req);
    proto_worker_info_t *items = NULL;
    size_t count = 0;
    if (orch_workers_list (orch->workers, &items, &count)) {
        orch_req_fail (req, 500, "internal", NULL, "out of memory");
        return;
    }
    json_t *array = json_array ();
    for (size_t i = 0; i < count; i++)
        json_array_append_new (array, s_worker_json (orch, &items[i]));
    free (items);
    json_t *obj = json_object ();
    json_object_set_new (obj, "items", array);
    orch_req_reply (req, 200, obj);
}

void
orch_api_stats (orch_req_t *req)
{
    orch_t *orch = orch_req_orch (req);
    uint64_t counts[PROTO_STATUS_COUNT_];
    if (orch_store_count (orch->store, counts)) {
        orch_req_fail (req, 500, "internal", NULL, "cannot count tasks");
        return;
    }
    json_t *obj = json_object ();
    json_t *by_status = json_object ();
    uint64_t total = 0;
    for (int s = 1; s < PROTO_STATUS_COUNT_; s++) {
        json_object_set_new (by_status, proto_status_name ((proto_status_t) s),
                             json_integer ((json_int_t) counts[s]));
        total += counts[s];
    }
    json_object_set_new (obj, "counts", by_status);
    json_object_set_new (obj, "total", json_integer ((json_int_t) total));
    json_object_set_new (obj, "queue_depth", json_integer ((json_int_t) orch_tasks_waiting (orch)));
    json_object_set_new (obj, "in_flight",
                         json_integer ((json_int_t) orch_leases_count (orch->leases)));
    json_object_set_new (obj, "workers",
                         json_integer ((json_int_t) orch_workers_count (orch->workers)));
    json_object_set_new (obj, "slots",
                         json_integer ((json_int_t) orch_workers_slots (orch->workers)));
    orch_stats_to_json (orch->stats, orch_now_ms (), obj);
    orch_req_reply (req, 200, obj);
}
