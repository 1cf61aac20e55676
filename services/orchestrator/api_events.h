/*  api_events.h - the Server-Sent Events routes.

      GET /api/events               task and worker changes (events.h);
                                    Last-Event-ID header or ?last_event_id=N
                                    resumes; "reset" when it cannot
      GET /api/tasks/{id}/stream    a task's output: "stdout" / "stderr"
                                    events {"offset", "data"[, "data_b64"]}
                                    with everything so far, then as it
                                    comes, then "result" (the record
                                    summary) and the end of the stream;
                                    "restart" {"attempt"} when the task is
                                    run again (offsets start over)
*/
#ifndef ORCH_API_EVENTS_H_INCLUDED
#define ORCH_API_EVENTS_H_INCLUDED

#include "http.h"

void orch_api_events (orch_req_t *req);
void orch_api_task_stream (orch_req_t *req, const char *id);

#endif
