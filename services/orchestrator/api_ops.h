/*  api_ops.h - operations and dashboard support routes.

      GET    /healthz         {"status": "ok"}: the process serves (no token)
      GET    /readyz          200 {"status": "ready", ...} when the store
                              answers and a worker is connected; else 503
                              {"status": "not_ready", "reason"} (no token)
      GET    /metrics         Prometheus text format (token)
      POST   /api/session     {"token"} -> cookie + {"csrf", "expires_ms"}
      GET    /api/session     {"csrf", "expires_ms"} for a live cookie
      DELETE /api/session     logout (204)
      GET    /api/workers     {"items": [worker...]}
      GET    /api/stats       counts, buckets, latency (docs/API.md)
*/
#ifndef ORCH_API_OPS_H_INCLUDED
#define ORCH_API_OPS_H_INCLUDED

#include "http.h"

void orch_api_healthz (orch_req_t *req);
void orch_api_readyz (orch_req_t *req);
void orch_api_metrics (orch_req_t *req);
void orch_api_session_create (orch_req_t *req);
void orch_api_session_get (orch_req_t *req);
void orch_api_session_delete (orch_req_t *req);
void orch_api_workers (orch_req_t *req);
void orch_api_stats (orch_req_t *req);

#endif
