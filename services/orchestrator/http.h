/*  http.h - the REST API's server: libmicrohttpd in the event loop.

    MHD runs with MHD_USE_EPOLL and no thread of its own: the loop polls
    MHD's epoll fd together with the ZeroMQ sockets and calls
    orch_http_run () after each poll. One thread, no locks.

    This file owns the MHD plumbing: listening, request bodies (size cap),
    authentication (Bearer token, constant-time), JSON replies and the
    error shape, suspend/resume for ?wait. The routes are in api_tasks.c.

    Every error is {"error": {"code", "message", "field"?}} with the status
    that fits: 400 bad_request (also for unparsable JSON), 401 unauthorized, 404 not_found,
    405 method_not_allowed, 409 conflict, 413 too_large, 415 unsupported_media_type,
    429 queue_full (with Retry-After), 503 busy / stopping, 500 internal.
*/
#ifndef ORCH_HTTP_H_INCLUDED
#define ORCH_HTTP_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orch.h"

/*  One request in flight (MHD's *req_cls).                                 */
typedef struct orch_req_t orch_req_t;

/*  Listen on addr (HOST:PORT, port 0 or "*": any free port). NULL with err
    naming ORCH_HTTP_ADDR on failure.                                       */
orch_http_t *orch_http_new (orch_t *orch, const char *addr, char *err, size_t err_size);
void orch_http_destroy (orch_http_t **self_p);

int orch_http_fd (const orch_http_t *self);         /* MHD's epoll fd */
int orch_http_port (const orch_http_t *self);       /* the real port */
const char *orch_http_host (const orch_http_t *self);  /* as configured */

/*  Let MHD do all the work it can without blocking.                        */
void orch_http_run (orch_http_t *self);
/*  Longest the loop may sleep for MHD's sake (ms), -1: no limit.           */
int64_t orch_http_timeout (orch_http_t *self);

/*  Shutdown: stop accepting connections; answers to resumed waits still go
    out. orch_http_pending () counts resumed requests not yet answered.    */
void orch_http_quiesce (orch_http_t *self);
size_t orch_http_pending (const orch_http_t *self);

/* --- for route handlers (api_tasks.c) ------------------------------------ */

orch_t *orch_req_orch (const orch_req_t *req);
/*  The request body (NUL-terminated) and its length.                       */
const char *orch_req_body (const orch_req_t *req, size_t *len);
/*  A query argument: true when present; *value NULL when given without =. */
bool orch_req_arg (const orch_req_t *req, const char *name, const char **value);
/*  A request header or NULL.                                               */
const char *orch_req_header (const orch_req_t *req, const char *name);

/*  Add a header to the response this request will get (at most 4; name
    and value must stay valid until then, e.g. literals). 0 or -1.         */
int orch_req_add_header (orch_req_t *req, const char *name, const char *value);

/*  Queue the reply (steals json). status 2xx..5xx. 0 or -1.               */
int orch_req_reply (orch_req_t *req, int status, json_t *json);
int orch_req_error (orch_req_t *req, const orch_err_t *err);
int orch_req_fail (orch_req_t *req, int status, const char *code, const char *field,
                   const char *fmt, ...) __attribute__ ((format (printf, 5, 6)));
/*  405 with an Allow header.                                               */
int orch_req_method_not_allowed (orch_req_t *req, const char *allow);

/*  Suspend the request until task id is terminal or timeout_ms passed;
    then the route's resume function runs (see api_tasks.h) with status
    hint "code" remembered. 0, or -1 when too many requests wait.          */
int orch_req_wait (orch_req_t *req, const char *id, int64_t timeout_ms, int hint);

#endif
