/*  api_tasks.h - the REST routes for tasks.

      POST /api/tasks[?wait=SECONDS]  create; 201 + record, or with wait:
                                      200 + record when finished in time,
                                      202 + current record otherwise
      GET  /api/tasks?limit=N         {"items": [list items], "next": null}
                                      newest first; N 1..1000, default 50
      GET  /api/tasks/{id}[?wait=S]   200 + record (with wait: 200 when
                                      terminal, else 202 at the timeout)
      GET  /healthz                   {"status": "ok"} (no token)
    Record shapes: record_json.h. Task body: task_json.h.
*/
#ifndef ORCH_API_TASKS_H_INCLUDED
#define ORCH_API_TASKS_H_INCLUDED

#include "http.h"

/*  Answer a complete request (authenticated already when under /api).     */
void orch_api_route (orch_req_t *req, const char *method, const char *url);

/*  Answer a request that waited for task id (see orch_req_wait); hint is
    what the route asked to be reminded of.                                 */
void orch_api_resume (orch_req_t *req, const char *id, int hint);

#endif
