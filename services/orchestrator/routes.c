/*  routes.c - method and path to handler; 404 and 405 for the rest.      */
#include "routes.h"
#include "api_events.h"
#include "api_ops.h"
#include "api_tasks.h"
#include "stats.h"
#include "web.h"

#include <stdio.h>
#include <string.h>

static bool
s_is (const char *method, const char *name)
{
    return strcmp (method, name) == 0;
}

static bool
s_get (const char *method)
{
    return s_is (method, "GET") || s_is (method, "HEAD");
}

bool
orch_route_task_id (orch_req_t *req, const char *p, char *id, const char **rest)
{
    size_t len = strcspn (p, "/");
    if (len < 1 || len > PROTO_ID_MAX || !proto_valid_id (p, len)) {
        orch_stats_rejected (orch_req_orch (req)->stats, ORCH_REJECT_BAD_ID);
        orch_req_fail (req, 400, "bad_request", "id", "must be 1..64 characters of"
                       " [A-Za-z0-9_-]");
        return false;
    }
    memcpy (id, p, len);
    id[len] = '\0';
    *rest = p + len;
    return true;
}

/*  /api/tasks/{id}[/...]                                                   */
static void
s_task_routes (orch_req_t *req, const char *method, const char *after_tasks)
{
    char id[PROTO_ID_MAX + 1];
    const char *rest;
    if (!orch_route_task_id (req, after_tasks, id, &rest))
        return;
    if (*rest == '\0') {
        if (s_get (method))
            orch_api_task_show (req, id);
        else
            orch_req_method_not_allowed (req, "GET, HEAD");
    }
    else if (strcmp (rest, "/cancel") == 0 || strcmp (rest, "/rerun") == 0) {
        if (!s_is (method, "POST"))
            orch_req_method_not_allowed (req, "POST");
        else if (rest[1] == 'c')
            orch_api_task_cancel (req, id);
        else
            orch_api_task_rerun (req, id);
    }
    else if (strcmp (rest, "/stream") == 0) {
        if (s_get (method))
            orch_api_task_stream (req, id);
        else
            orch_req_method_not_allowed (req, "GET, HEAD");
    }
    else if (strncmp (rest, "/files/", 7) == 0) {
        if (s_get (method))
            orch_api_task_file (req, id, rest + 7);
        else
            orch_req_method_not_allowed (req, "GET, HEAD");
    }
    else
        orch_req_fail (req, 404, "not_found", NULL, "no route %.16s .../%s%.64s%s", method, id,
                       rest, strlen (rest) > 64 ? "..." : "");
}

typedef struct {
    const char *path;                   /* exact */
    const char *allow;                  /* for 405 */
    void (*get) (orch_req_t *req);      /* GET and HEAD */
    void (*post) (orch_req_t *req);
    void (*del) (orch_req_t *req);
} route_t;

static const route_t s_routes[] = {
    { "/",                  "GET, HEAD",            orch_web_index, NULL, NULL },
    { "/healthz",           "GET, HEAD",            orch_api_healthz, NULL, NULL },
    { "/readyz",            "GET, HEAD",            orch_api_readyz, NULL, NULL },
    { "/metrics",           "GET, HEAD",            orch_api_metrics, NULL, NULL },
    { "/api/openapi.json",  "GET, HEAD",            orch_web_openapi, NULL, NULL },
    { "/api/session",       "GET, HEAD, POST, DELETE", orch_api_session_get,
      orch_api_session_create, orch_api_session_delete },
    { "/api/workers",       "GET, HEAD",            orch_api_workers, NULL, NULL },
    { "/api/stats",         "GET, HEAD",            orch_api_stats, NULL, NULL },
    { "/api/events",        "GET, HEAD",            orch_api_events, NULL, NULL },
    { "/api/tasks",         "GET, HEAD, POST",      orch_api_task_list,
      orch_api_task_create, NULL },
    { "/api/tasks/",        "GET, HEAD, POST",      orch_api_task_list,
      orch_api_task_create, NULL },
};

void
orch_route (orch_req_t *req, const char *method, const char *url)
{
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++) {
        const route_t *r = &s_routes[i];
        if (strcmp (url, r->path) != 0)
            continue;
        void (*fn) (orch_req_t *) = s_get (method) ? r->get : s_is (method, "POST") ? r->post
                                  : s_is (method, "DELETE") ? r->del : NULL;
        if (fn)
            fn (req);
        else
            orch_req_method_not_allowed (req, r->allow);
        return;
    }
    if (strncmp (url, "/api/tasks/", 11) == 0) {
        s_task_routes (req, method, url + 11);
        return;
    }
    if (strncmp (url, "/assets/", 8) == 0) {
        if (s_get (method))
            orch_web_asset (req, url + 8);
        else
            orch_req_method_not_allowed (req, "GET, HEAD");
        return;
    }
    orch_req_fail (req, 404, "not_found", NULL, "no route %.16s %.64s%s", method, url,
                   strlen (url) > 64 ? "..." : "");
}
