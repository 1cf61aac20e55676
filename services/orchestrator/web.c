/*  web.c - serve the compiled-in dashboard files.                         */
#include "web.h"
#include "web_assets.h"

#include <string.h>

static const web_asset_t *
s_find (const char *name)
{
    for (const web_asset_t *a = web_assets; a->name; a++)
        if (strcmp (a->name, name) == 0)
            return a;
    return NULL;
}

static void
s_serve (orch_req_t *req, const char *name)
{
    const web_asset_t *a = s_find (name);
    if (!a) {
        orch_req_fail (req, 404, "not_found", NULL, "no such file: %.64s", name);
        return;
    }
    /*  Revalidate every time (no-cache), but send nothing when unchanged:
        a new binary has new files, and the browser must not mix them.    */
    orch_req_add_header (req, "ETag", a->etag);
    orch_req_add_header (req, "Cache-Control", "no-cache");
    const char *match = orch_req_header (req, "If-None-Match");
    if (match && strcmp (match, a->etag) == 0) {
        orch_req_reply_raw (req, 304, a->type, "", 0, true, true);
        return;
    }
    orch_req_reply_raw (req, 200, a->type, a->data, a->size, true, true);
}

void
orch_web_index (orch_req_t *req)
{
    s_serve (req, "index.html");
}

void
orch_web_asset (orch_req_t *req, const char *name)
{
    /*  Only the plain names we compiled in: no directories, no escapes.  */
    if (strchr (name, '/') || strchr (name, '%') || strcmp (name, "openapi.json") == 0) {
        orch_req_fail (req, 404, "not_found", NULL, "no such file: %.64s", name);
        return;
    }
    s_serve (req, name);
}

void
orch_web_openapi (orch_req_t *req)
{
    s_serve (req, "openapi.json");
}
