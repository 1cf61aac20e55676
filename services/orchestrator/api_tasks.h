/*  api_tasks.h - the REST routes for tasks.

      POST /api/tasks[?wait=SECONDS]  create; 201 + record, or with wait:
                                      200 + record when finished in time,
                                      202 + current record otherwise.
                                      Idempotency-Key: K (header): a task
                                      stored under K before is answered
                                      with 200 + its record (header
                                      Idempotent-Replayed: true) instead.
                                      429 queue_full + Retry-After when
                                      ORCH_MAX_QUEUED tasks wait; 503
                                      stopping during shutdown
      GET  /api/tasks?limit=N         {"items": [list items], "next": null}
                                      newest first; N 1..1000, default 50
      GET  /api/tasks/{id}[?wait=S]   200 + record (with wait: 200 when
                                      terminal, else 202 at the timeout);
                                      the record has "timeline": [{"event",
                                      "at_ms", "attempt", "worker",
                                      "detail"}], oldest first
      POST /api/tasks/{id}/cancel     200 + record when it is cancelled now
                                      (queued, or sent but not started);
                                      202 + record while its worker kills
                                      it (running); 409 conflict when it
                                      has finished; 404 (see cancel.h)
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
