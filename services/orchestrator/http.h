/*  http.h - the REST API's server: libmicrohttpd in the event loop.

    MHD runs with MHD_USE_EPOLL and no thread of its own: the loop polls
    MHD's epoll fd together with the ZeroMQ sockets and calls
    orch_http_run () after each poll. One thread, no locks.

    This file owns the MHD plumbing: listening, request bodies (size cap),
    authentication (Bearer token, constant-time), JSON replies and the
    error shape, suspend/resume for ?wait. The routes are in api_tasks.c.

    Every error is {"error": {"code", "message", "field"?}} with the status
    that fits: 400 bad_request (also for unparsable JSON), 401 unauthorized, 404 not_found,
    405 method_not_allowed, 409 conflict, 413 too_large, 414 uri_too_long,
    415 unsupported_media_type, 431 headers_too_large,
    429 queue_full (with Retry-After), 503 busy / stopping, 500 internal.
*/
#ifndef ORCH_HTTP_H_INCLUDED
#define ORCH_HTTP_H_INCLUDED

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orch.h"

/*  One request in flight (MHD's *req_cls).                                 */
typedef struct orch_req_t orch_req_t;
/*  A response that goes on (Server-Sent Events).                           */
typedef struct orch_stream_t orch_stream_t;

#define ORCH_SESSION_COOKIE "cleudo_session"

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

/*  Idle streams get a ping comment; during shutdown every stream ends.    */
void orch_http_cron (orch_http_t *self, int64_t mono);
size_t orch_http_streams (const orch_http_t *self);
/*  HTTP connections open now.                                             */
size_t orch_http_connections (const orch_http_t *self);

/* --- for route handlers (routes.c, api_*.c, web.c) ------------------------- */

orch_t *orch_req_orch (const orch_req_t *req);
/*  The request body (NUL-terminated) and its length.                       */
const char *orch_req_body (const orch_req_t *req, size_t *len);
/*  A query argument: true when present; *value NULL when given without =. */
bool orch_req_arg (const orch_req_t *req, const char *name, const char **value);
/*  Call fn for every query argument (repeated names too), in order.     */
void orch_req_each_arg (orch_req_t *req, MHD_KeyValueIterator fn, void *arg);
/*  A cookie's value or NULL.                                               */
const char *orch_req_cookie (const orch_req_t *req, const char *name);
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

/*  Any other body: type is the Content-Type; is_static: data outlives the
    response (else it is copied); page: the dashboard's CSP (scripts and
    styles from us) rather than the data CSP (nothing runs, sandboxed).  */
int orch_req_reply_raw (orch_req_t *req, int status, const char *type, const void *data,
                        size_t size, bool is_static, bool page);

/*  A Set-Cookie header for the response (one; copied). 0 or -1.           */
int orch_req_set_cookie (orch_req_t *req, const char *value);
/*  The session id when the request was authorized by the cookie, else
    NULL.                                                                   */
const char *orch_req_session (const orch_req_t *req);

/*  Answer with a stream (200, text/event-stream). pull is called whenever
    everything written so far has been sent: it writes what there is now
    (orch_stream_write/printf) and returns 0, or -1 to end the stream once
    the rest is sent. Nothing written: the connection waits (costing no
    CPU) until orch_stream_wake. free_fn (arg) runs when the connection
    ends, however it ends: the stream owns arg from the call on. NULL when
    it could not be started (free_fn has run; the caller may still try an
    error reply).                                                           */
typedef int (orch_stream_pull_fn) (void *arg, orch_stream_t *stream);
typedef void (orch_stream_free_fn) (void *arg);
orch_stream_t *orch_req_stream (orch_req_t *req, orch_stream_pull_fn *pull,
                                orch_stream_free_fn *free_fn, void *arg);
void orch_stream_write (orch_stream_t *self, const void *data, size_t size);
void orch_stream_printf (orch_stream_t *self, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
/*  There is something new for pull.                                        */
void orch_stream_wake (orch_stream_t *self);

/*  Suspend the request until task id is terminal or timeout_ms passed;
    then the route's resume function runs (see api_tasks.h) with status
    hint "code" remembered. 0, or -1 when too many requests wait.          */
int orch_req_wait (orch_req_t *req, const char *id, int64_t timeout_ms, int hint);

#endif
