/*  api_tasks.h - the REST routes for tasks (routes.c maps them).

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
      GET  /api/tasks                 {"items": [list items], "next": C|null}
                                      newest first; status=S[,S] (repeatable),
                                      q=TEXT, since=MS, until=MS,
                                      limit=1..1000 (50), cursor=C
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
      POST /api/tasks/{id}/rerun      201 + the new task's record (its
                                      timeline says "rerun of ID")
      GET  /api/tasks/{id}/files/P    the collected file P as an attachment
    Record shapes: record_json.h. Task body: task_json.h.
*/
#ifndef ORCH_API_TASKS_H_INCLUDED
#define ORCH_API_TASKS_H_INCLUDED

#include "http.h"

void orch_api_task_create (orch_req_t *req);
void orch_api_task_list (orch_req_t *req);
/*  id is valid (routes.c checked it).                                      */
void orch_api_task_show (orch_req_t *req, const char *id);
void orch_api_task_cancel (orch_req_t *req, const char *id);
void orch_api_task_rerun (orch_req_t *req, const char *id);
/*  path as in the URL (percent-escapes are decoded here).                  */
void orch_api_task_file (orch_req_t *req, const char *id, const char *path);

/*  Answer a request that waited for task id (see orch_req_wait); hint is
    what the route asked to be reminded of.                                 */
void orch_api_resume (orch_req_t *req, const char *id, int hint);

#endif
