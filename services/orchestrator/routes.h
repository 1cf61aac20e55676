/*  routes.h - which handler answers which method and path.

    One table, so that every route, its methods and its 405 are in one
    place:

      GET  /                              dashboard (web.c)
      GET  /assets/NAME                   dashboard files (web.c)
      GET  /healthz, /readyz, /metrics    operations (api_ops.c)
      *    /api/session                   login / logout (api_ops.c)
      GET  /api/openapi.json              the API description (api_ops.c)
      GET  /api/workers, /api/stats       (api_ops.c)
      GET  /api/events                    SSE of changes (api_events.c)
      *    /api/tasks...                  tasks (api_tasks.c), live output
                                          (api_events.c)
*/
#ifndef ORCH_ROUTES_H_INCLUDED
#define ORCH_ROUTES_H_INCLUDED

#include "http.h"

/*  Answer a complete request (authenticated already where needed).       */
void orch_route (orch_req_t *req, const char *method, const char *url);

/*  Copy the task id that starts at p (up to '/' or the end) into id
    (PROTO_ID_MAX + 1 bytes); *rest points past it. false after answering
    400 when it is not a valid id.                                         */
bool orch_route_task_id (orch_req_t *req, const char *p, char *id, const char **rest);

#endif
