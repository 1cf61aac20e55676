/*  web.h - the dashboard: its page, its files and the API description.

      GET /                   index.html
      GET /assets/NAME        a file of services/orchestrator/web/
      GET /api/openapi.json   openapi.json of the same directory

    Served from the binary (web_assets.h) with an ETag (If-None-Match ->
    304), the page CSP (scripts and styles from this origin only, nothing
    inline, no framing) and nosniff. The files hold no data: the page asks
    the API for everything, with its session cookie.
*/
#ifndef ORCH_WEB_H_INCLUDED
#define ORCH_WEB_H_INCLUDED

#include "http.h"

void orch_web_index (orch_req_t *req);
void orch_web_asset (orch_req_t *req, const char *name);
void orch_web_openapi (orch_req_t *req);

#endif
