/*  http.c - libmicrohttpd plumbing: listen, bodies, auth, replies, waits.

    Keep-alive matters (DESIGN pitfall): MHD 0.9.75 answers "Connection:
    close" when a GET's response is queued on the first callback, so every
    response is queued on the second or a later one. The first callback
    only answers early when a body is coming that we will not read (too
    large, or no valid token), or to refuse the request outright (URL or
    headers too long): closing that connection is then right.

    Limits on what a client may send, outermost first: connections in
    total, per address and the header deadline (http_guard.c); MHD's
    memory pool per connection (CONN_MEMORY: request line and headers must
    fit, else MHD answers 414 or 431 itself); our own URI_MAX (414) and
    HEADERS_MAX (431) below it, answered in JSON; ORCH_MAX_BODY (413).
*/
#include "http.h"
#include "api_tasks.h"
#include "http_guard.h"
#include "log.h"
#include "loglimit.h"
#include "orch_config.h"
#include "routes.h"
#include "sessions.h"
#include "stats.h"
#include "strbuf.h"
#include "token.h"
#include "utf8.h"
#include "waiters.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define STREAM_CHUNK (64 * 1024)        /* MHD's buffer for a stream */
#define CONN_MEMORY (64 * 1024)         /* MHD's pool per connection */
#define URI_MAX 8192                    /* request target, query included */
#define HEADERS_MAX (32 * 1024)         /* request line and headers */
#define MHD_LOG_PER_SECOND 10           /* MHD's own messages, then a count */

/*  Every response carries these: nothing we serve may be framed, sniffed
    into another type, or leak its URL to another site.                    */
#define CSP_PAGE "default-src 'self'; script-src 'self'; style-src 'self';" \
                 " img-src 'self' data:; connect-src 'self'; frame-ancestors 'none';" \
                 " base-uri 'none'; form-action 'self'"
#define CSP_DATA "default-src 'none'; frame-ancestors 'none'; sandbox"

struct orch_stream_t {
    orch_http_t *http;
    struct MHD_Connection *conn;
    strbuf_t out;                       /* produced, not yet sent */
    orch_stream_pull_fn *pull;
    orch_stream_free_fn *free_fn;
    void *arg;
    bool parked;                        /* suspended, waiting for data */
    bool ended;                         /* pull said so, or stopping */
    int64_t last_write;                 /* monotonic ms */
    orch_stream_t *next;                /* http->streams */
};

struct orch_http_t {
    orch_t *orch;                       /* the service */
    orch_stream_t *streams;             /* open event streams */
    size_t stream_count;
    struct MHD_Daemon *daemon;          /* no internal thread */
    int listen_fd;                      /* ours until MHD owns it */
    int port;                           /* bound port */
    char host[256];                     /* host part as configured */
    size_t pending;                     /* resumed, not yet completed */
    bool quiesced;                      /* no longer accepting */
    orch_http_guard_t *guard;           /* connection limits, header deadline */
    orch_loglimit_t mhd_log;            /* MHD's messages */
};

struct orch_req_t {
    orch_http_t *http;                  /* the server */
    struct MHD_Connection *conn;        /* MHD's connection */
    size_t uri_len;                     /* request target as sent */
    bool headers_done;                  /* the handler has seen them */
    bool api;                           /* token required (see s_protected) */
    int auth;                           /* AUTH_* */
    bool via_session;                   /* authorized by the cookie */
    char session_id[ORCH_SESSION_ID_LEN + 1];
    char cookie[200];                   /* a Set-Cookie value to send */
    char *body;                         /* request body, NUL-terminated */
    size_t body_len;
    size_t body_cap;
    bool too_large;                     /* body over ORCH_MAX_BODY */
    size_t discarded;                   /* body bytes thrown away */
    bool answered;                      /* a response was queued */
    orch_waiter_t *waiter;              /* while suspended */
    bool woke;                          /* resumed: answer now */
    bool resumed;                       /* counted in http->pending */
    char wait_id[PROTO_ID_MAX + 1];     /* task waited for */
    int wait_hint;                      /* for orch_api_resume */
    const char *extra[4][2];            /* response headers: name, value */
    size_t extra_count;
};

enum { AUTH_OK, AUTH_MISSING, AUTH_WRONG, AUTH_CSRF };

/* --- replies -------------------------------------------------------------- */

orch_t *
orch_req_orch (const orch_req_t *req)
{
    return req->http->orch;
}

const char *
orch_req_body (const orch_req_t *req, size_t *len)
{
    *len = req->body_len;
    return req->body ? req->body : "";
}

bool
orch_req_arg (const orch_req_t *req, const char *name, const char **value)
{
    const char *v = NULL;
    size_t len = 0;
    if (MHD_lookup_connection_value_n (req->conn, MHD_GET_ARGUMENT_KIND, name, strlen (name),
                                       &v, &len) != MHD_YES)
        return false;
    *value = v;
    return true;
}

const char *
orch_req_cookie (const orch_req_t *req, const char *name)
{
    return MHD_lookup_connection_value (req->conn, MHD_COOKIE_KIND, name);
}

void
orch_req_each_arg (orch_req_t *req, MHD_KeyValueIterator fn, void *arg)
{
    MHD_get_connection_values (req->conn, MHD_GET_ARGUMENT_KIND, fn, arg);
}

const char *
orch_req_header (const orch_req_t *req, const char *name)
{
    return MHD_lookup_connection_value (req->conn, MHD_HEADER_KIND, name);
}

int
orch_req_add_header (orch_req_t *req, const char *name, const char *value)
{
    if (req->extra_count >= sizeof req->extra / sizeof req->extra[0])
        return -1;
    req->extra[req->extra_count][0] = name;
    req->extra[req->extra_count][1] = value;
    req->extra_count++;
    return 0;
}

static void
s_common_headers (orch_req_t *req, struct MHD_Response *resp, const char *csp)
{
    MHD_add_response_header (resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header (resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header (resp, "X-Frame-Options", "DENY");
    MHD_add_response_header (resp, "Content-Security-Policy", csp);
    for (size_t i = 0; i < req->extra_count; i++)
        MHD_add_response_header (resp, req->extra[i][0], req->extra[i][1]);
    if (req->cookie[0])
        MHD_add_response_header (resp, MHD_HTTP_HEADER_SET_COOKIE, req->cookie);
}

static int
s_send (orch_req_t *req, int status, struct MHD_Response *resp)
{
    enum MHD_Result rc = MHD_queue_response (req->conn, (unsigned) status, resp);
    MHD_destroy_response (resp);
    req->answered = true;
    if (req->http->orch->stats)
        orch_stats_http (req->http->orch->stats, (unsigned) status);
    return rc == MHD_YES ? 0 : -1;
}

int
orch_req_reply_raw (orch_req_t *req, int status, const char *type, const void *data,
                    size_t size, bool is_static, bool page)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer (
        size, (void *) data, is_static ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return -1;
    MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    s_common_headers (req, resp, page ? CSP_PAGE : CSP_DATA);
    return s_send (req, status, resp);
}

int
orch_req_set_cookie (orch_req_t *req, const char *value)
{
    int n = snprintf (req->cookie, sizeof req->cookie, "%s", value);
    return n < 0 || (size_t) n >= sizeof req->cookie ? -1 : 0;
}

const char *
orch_req_session (const orch_req_t *req)
{
    return req->via_session ? req->session_id : NULL;
}

static int
s_queue (orch_req_t *req, int status, json_t *json, const char *allow)
{
    char *text = json ? json_dumps (json, JSON_COMPACT) : NULL;
    json_decref (json);
    if (!text) {
        status = 500;
        text = strdup ("{\"error\":{\"code\":\"internal\",\"message\":\"cannot build the response\"}}");
        if (!text)
            return -1;
    }
    size_t len = strlen (text);
    /*  One line per response: friendlier for curl and for line readers.   */
    char *line = realloc (text, len + 2);
    if (line) {
        text = line;
        text[len++] = '\n';
        text[len] = '\0';
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer (len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free (text);
        return -1;
    }
    MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header (resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == 401)
        MHD_add_response_header (resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                 "Bearer realm=\"cleudo\"");
    if (allow)
        MHD_add_response_header (resp, MHD_HTTP_HEADER_ALLOW, allow);
    s_common_headers (req, resp, CSP_DATA);
    return s_send (req, status, resp);
}

int
orch_req_reply (orch_req_t *req, int status, json_t *json)
{
    return s_queue (req, status, json, NULL);
}

/*  {"error": {"code", "message", "field"?}}; texts made valid UTF-8.      */
static json_t *
s_error_json (const orch_err_t *err)
{
    json_t *inner = json_object ();
    json_object_set_new (inner, "code", json_string (err->code));
    size_t len;
    char *message = utf8_lossy (err->message, strlen (err->message), &len);
    json_object_set_new (inner, "message", message ? json_stringn (message, len)
                                                   : json_string ("error"));
    free (message);
    if (err->field[0]) {
        char *field = utf8_lossy (err->field, strlen (err->field), &len);
        if (field)
            json_object_set_new (inner, "field", json_stringn (field, len));
        free (field);
    }
    json_t *outer = json_object ();
    json_object_set_new (outer, "error", inner);
    return outer;
}

int
orch_req_error (orch_req_t *req, const orch_err_t *err)
{
    return s_queue (req, err->status, s_error_json (err), NULL);
}

int
orch_req_fail (orch_req_t *req, int status, const char *code, const char *field,
               const char *fmt, ...)
{
    orch_err_t err;
    char message[sizeof err.message];
    va_list args;
    va_start (args, fmt);
    vsnprintf (message, sizeof message, fmt, args);
    va_end (args);
    orch_err (&err, status, code, field, "%s", message);
    return orch_req_error (req, &err);
}

int
orch_req_method_not_allowed (orch_req_t *req, const char *allow)
{
    orch_stats_rejected (req->http->orch->stats, ORCH_REJECT_METHOD);
    orch_err_t err;
    orch_err (&err, 405, "method_not_allowed", NULL, "method not allowed here (allowed: %s)",
              allow);
    return s_queue (req, 405, s_error_json (&err), allow);
}

/* --- waits ---------------------------------------------------------------- */

static void
s_wake (void *arg, const char *id, orch_wake_t why)
{
    (void) id;
    (void) why;
    orch_req_t *req = arg;
    req->waiter = NULL;
    req->woke = true;
    req->resumed = true;
    req->http->pending++;
    /*  MHD calls the handler again for this connection on a later
        MHD_run (); the answer is built then, from the state at that time. */
    MHD_resume_connection (req->conn);
}

int
orch_req_wait (orch_req_t *req, const char *id, int64_t timeout_ms, int hint)
{
    orch_t *orch = req->http->orch;
    if (orch->stopping)
        return -1;
    snprintf (req->wait_id, sizeof req->wait_id, "%s", id);
    req->wait_hint = hint;
    req->waiter = orch_waiters_add (orch->waiters, id, orch_mono_ms () + timeout_ms, s_wake,
                                    req);
    if (!req->waiter)
        return -1;
    MHD_suspend_connection (req->conn);
    return 0;
}

/* --- streams (Server-Sent Events) ------------------------------------------ */

/*  MHD asks for more bytes whenever the socket can take them. With nothing
    to send, the connection is suspended ("parked") until orch_stream_wake:
    returning 0 unparked would make MHD ask again at once, a busy loop.   */
static ssize_t
s_stream_read (void *cls, uint64_t pos, char *buf, size_t max)
{
    (void) pos;
    orch_stream_t *self = cls;
    orch_http_t *http = self->http;
    if (self->out.len == 0 && !self->ended) {
        if (http->orch->stopping || self->pull (self->arg, self) < 0)
            self->ended = true;
    }
    int64_t now = orch_mono_ms ();
    if (self->out.len == 0) {
        if (self->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (now - self->last_write < http->orch->cfg->sse_ping) {
            self->parked = true;
            MHD_suspend_connection (self->conn);
            return 0;
        }
        /*  A comment line: keeps proxies from closing an idle stream, and
            finds clients that went away (the write fails).                */
        orch_stream_write (self, ": ping\n\n", 8);
    }
    if (strbuf_failed (&self->out))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = self->out.len < max ? self->out.len : max;
    memcpy (buf, self->out.data, n);
    strbuf_consume (&self->out, n);
    self->last_write = now;
    return (ssize_t) n;
}

static void
s_stream_free (void *cls)
{
    orch_stream_t *self = cls;
    orch_http_t *http = self->http;
    for (orch_stream_t **at = &http->streams; *at; at = &(*at)->next)
        if (*at == self) {
            *at = self->next;
            http->stream_count--;
            break;
        }
    if (self->free_fn)
        self->free_fn (self->arg);
    strbuf_free (&self->out);
    free (self);
}

orch_stream_t *
orch_req_stream (orch_req_t *req, orch_stream_pull_fn *pull, orch_stream_free_fn *free_fn,
                 void *arg)
{
    orch_stream_t *self = calloc (1, sizeof *self);
    struct MHD_Response *resp = self ? MHD_create_response_from_callback (
        MHD_SIZE_UNKNOWN, STREAM_CHUNK, s_stream_read, self, s_stream_free) : NULL;
    if (!resp) {
        free (self);
        if (free_fn)
            free_fn (arg);
        return NULL;
    }
    self->http = req->http;
    self->conn = req->conn;
    self->pull = pull;
    self->free_fn = free_fn;
    self->arg = arg;
    self->last_write = orch_mono_ms ();
    self->next = req->http->streams;
    req->http->streams = self;
    req->http->stream_count++;
    MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header (resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header (resp, "X-Accel-Buffering", "no");
    s_common_headers (req, resp, CSP_DATA);
    /*  From here MHD owns self: s_stream_free (and so free_fn) runs when
        the connection ends, or at once when queueing fails.               */
    if (s_send (req, 200, resp))
        return NULL;
    return self;
}

void
orch_stream_write (orch_stream_t *self, const void *data, size_t size)
{
    strbuf_append (&self->out, data, size);
}

void
orch_stream_printf (orch_stream_t *self, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    char small[512];
    int n = vsnprintf (small, sizeof small, fmt, args);
    va_end (args);
    if (n < 0)
        return;
    if ((size_t) n < sizeof small) {
        strbuf_append (&self->out, small, (size_t) n);
        return;
    }
    char *big = malloc ((size_t) n + 1);
    if (!big) {
        self->out.failed = true;
        return;
    }
    va_start (args, fmt);
    vsnprintf (big, (size_t) n + 1, fmt, args);
    va_end (args);
    strbuf_append (&self->out, big, (size_t) n);
    free (big);
}

void
orch_stream_wake (orch_stream_t *self)
{
    if (!self->parked)
        return;
    self->parked = false;
    MHD_resume_connection (self->conn);
}

size_t
orch_http_connections (const orch_http_t *self)
{
    return orch_http_guard_count (self->guard);
}

size_t
orch_http_streams (const orch_http_t *self)
{
    return self->stream_count;
}

/*  Idle streams get their ping; at shutdown every stream ends.            */
void
orch_http_cron (orch_http_t *self, int64_t mono)
{
    orch_http_guard_cron (self->guard, mono);
    for (orch_stream_t *s = self->streams; s; s = s->next)
        if (self->orch->stopping || mono - s->last_write >= self->orch->cfg->sse_ping)
            orch_stream_wake (s);
}

/* --- the handler ---------------------------------------------------------- */

/*  Routes that need no token: the login itself, and the API description.
    Everything else under /api, and /metrics, does. The dashboard's pages
    and assets carry no data and are public.                              */
static bool
s_protected (const char *url)
{
    if (strcmp (url, "/metrics") == 0)
        return true;
    if (strcmp (url, "/api") != 0 && strncmp (url, "/api/", 5) != 0)
        return false;
    return strcmp (url, "/api/session") != 0 && strcmp (url, "/api/openapi.json") != 0;
}

static bool
s_safe_method (const char *method)
{
    return strcmp (method, "GET") == 0 || strcmp (method, "HEAD") == 0;
}

/*  Authorization: Bearer <token>, compared in constant time; or the
    dashboard's session cookie, with X-CSRF-Token for anything that changes
    state. A Bearer header that is present decides alone.                  */
static int
s_authenticate (orch_req_t *req, const char *method)
{
    orch_t *orch = req->http->orch;
    const char *value = orch_req_header (req, MHD_HTTP_HEADER_AUTHORIZATION);
    if (value) {
        if (strncasecmp (value, "Bearer ", 7) != 0)
            return AUTH_WRONG;
        const char *token = value + 7;
        while (*token == ' ')
            token++;
        size_t len = strlen (token);
        while (len && (token[len - 1] == ' ' || token[len - 1] == '\t'))
            len--;
        return orch_token_equal (token, len, orch->token, orch->token_len) ? AUTH_OK
                                                                           : AUTH_WRONG;
    }
    const char *sid = MHD_lookup_connection_value (req->conn, MHD_COOKIE_KIND,
                                                   ORCH_SESSION_COOKIE);
    if (!sid)
        return AUTH_MISSING;
    int64_t expires;
    const char *csrf = orch->sessions ? orch_sessions_find (orch->sessions, sid,
                                                            orch_now_ms (), &expires)
                                      : NULL;
    if (!csrf)
        return AUTH_WRONG;
    req->via_session = true;
    snprintf (req->session_id, sizeof req->session_id, "%s", sid);
    if (!s_safe_method (method)
        && !orch_sessions_csrf_ok (csrf, orch_req_header (req, "X-CSRF-Token")))
        return AUTH_CSRF;
    return AUTH_OK;
}

static int
s_unauthorized (orch_req_t *req)
{
    orch_stats_rejected (req->http->orch->stats, req->auth == AUTH_CSRF
                         ? ORCH_REJECT_CSRF : ORCH_REJECT_UNAUTHORIZED);
    if (req->auth == AUTH_CSRF)
        return orch_req_fail (req, 403, "csrf", "X-CSRF-Token", "%s",
                              "missing or wrong; a dashboard session must send the CSRF"
                              " token it got from /api/session with every change");
    if (req->auth == AUTH_MISSING)
        return orch_req_fail (req, 401, "unauthorized", NULL, "%s",
                              "missing Authorization: Bearer <token> header (or a dashboard"
                              " session cookie)");
    return orch_req_fail (req, 401, "unauthorized", NULL, "%s",
                          orch_req_header (req, MHD_HTTP_HEADER_AUTHORIZATION)
                          ? "wrong API token (expected Authorization: Bearer <token>)"
                          : "the session has expired or was logged out; log in again");
}

/*  Content-Length when given and numeric, else -1.                         */
static long long
s_content_length (orch_req_t *req)
{
    const char *value = orch_req_header (req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!value)
        return -1;
    char *end;
    errno = 0;
    long long n = strtoll (value, &end, 10);
    return errno || *end || n < 0 ? -1 : n;
}

static bool
s_body_coming (orch_req_t *req)
{
    return s_content_length (req) > 0
        || orch_req_header (req, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

static int
s_too_large (orch_req_t *req)
{
    orch_stats_rejected (req->http->orch->stats, ORCH_REJECT_TOO_LARGE);
    return orch_req_fail (req, 413, "too_large", NULL,
                          "request body is larger than %lld bytes (ORCH_MAX_BODY)",
                          (long long) req->http->orch->cfg->max_body);
}

static int
s_append (orch_req_t *req, const char *data, size_t size)
{
    size_t max = (size_t) req->http->orch->cfg->max_body;
    if (req->too_large || req->body_len + size > max) {
        req->too_large = true;
        req->discarded += size;
        return 0;
    }
    if (req->body_len + size + 1 > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap : 4096;
        while (cap < req->body_len + size + 1)
            cap *= 2;
        char *grown = realloc (req->body, cap);
        if (!grown)
            return -1;
        req->body = grown;
        req->body_cap = cap;
    }
    memcpy (req->body + req->body_len, data, size);
    req->body_len += size;
    req->body[req->body_len] = '\0';
    return 0;
}

static orch_req_t *
s_req_new (orch_http_t *self, struct MHD_Connection *conn, size_t uri_len)
{
    orch_req_t *req = calloc (1, sizeof *req);
    if (req) {
        req->http = self;
        req->conn = conn;
        req->uri_len = uri_len;
    }
    return req;
}

/*  MHD_OPTION_URI_LOG_CALLBACK: the request line is in. The request target
    as sent (query included, escapes intact) is only seen here; what this
    returns becomes *req_cls, freed in s_completed.                         */
static void *
s_uri_log (void *cls, const char *uri, struct MHD_Connection *conn)
{
    return s_req_new (cls, conn, uri ? strlen (uri) : 0);
}

static size_t
s_header_size (struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    return info ? info->header_size : 0;
}

/*  First call: headers only. Answer now only to refuse the request, or if
    we will not read the body that is coming (see the top of this file).  */
static enum MHD_Result
s_headers (orch_http_t *self, orch_req_t *req, const char *url, const char *method)
{
    orch_stats_t *stats = self->orch->stats;
    if (req->uri_len > URI_MAX) {
        orch_stats_rejected (stats, ORCH_REJECT_URI_TOO_LONG);
        return orch_req_fail (req, 414, "uri_too_long", NULL, "the request target has %zu"
                              " bytes; at most %d are accepted", req->uri_len, URI_MAX)
               ? MHD_NO : MHD_YES;
    }
    size_t header_size = s_header_size (req->conn);
    if (header_size > HEADERS_MAX) {
        orch_stats_rejected (stats, ORCH_REJECT_HEADERS_TOO_LARGE);
        return orch_req_fail (req, 431, "headers_too_large", NULL, "the request headers have"
                              " %zu bytes; at most %d are accepted", header_size, HEADERS_MAX)
               ? MHD_NO : MHD_YES;
    }
    req->api = s_protected (url);
    req->auth = req->api ? s_authenticate (req, method) : AUTH_OK;
    if (s_body_coming (req)) {
        if (req->auth != AUTH_OK)
            return s_unauthorized (req) ? MHD_NO : MHD_YES;
        if (s_content_length (req) > self->orch->cfg->max_body)
            return s_too_large (req) ? MHD_NO : MHD_YES;
    }
    return MHD_YES;
}

static enum MHD_Result
s_handler (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size,
           void **req_cls)
{
    (void) version;
    orch_http_t *self = cls;
    orch_req_t *req = *req_cls;
    if (!req) {                         /* s_uri_log ran out of memory */
        req = s_req_new (self, conn, strlen (url));
        if (!req)
            return MHD_NO;
        *req_cls = req;
    }
    if (!req->headers_done) {
        req->headers_done = true;
        orch_http_guard_busy (self->guard, conn, true, 0);
        return s_headers (self, req, url, method);
    }
    if (req->answered) {
        *upload_data_size = 0;          /* discard the rest of the body */
        return MHD_YES;
    }
    if (req->woke) {
        req->woke = false;
        orch_api_resume (req, req->wait_id, req->wait_hint);
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (s_append (req, upload_data, *upload_data_size))
            return MHD_NO;
        /*  A chunked body (no Content-Length) over the cap is read and
            thrown away so that the client gets a proper 413, up to a point:
            beyond max(ORCH_MAX_BODY, 16 MiB) more, the connection is cut.  */
        size_t give_up = (size_t) self->orch->cfg->max_body;
        if (give_up < ((size_t) 16 << 20))
            give_up = (size_t) 16 << 20;
        if (req->discarded > give_up)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->auth != AUTH_OK)
        return s_unauthorized (req) ? MHD_NO : MHD_YES;
    if (req->too_large)
        return s_too_large (req) ? MHD_NO : MHD_YES;
    orch_route (req, method, url);
    return MHD_YES;
}

static void
s_completed (void *cls, struct MHD_Connection *conn, void **req_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void) toe;
    orch_http_t *self = cls;
    /*  The next request's header deadline starts now (keep-alive).        */
    if (self->guard)
        orch_http_guard_busy (self->guard, conn, false, orch_mono_ms ());
    orch_req_t *req = *req_cls;
    if (!req)
        return;
    if (req->waiter)
        orch_waiters_cancel (self->orch->waiters, req->waiter);
    if (req->resumed && self->pending)
        self->pending--;
    free (req->body);
    free (req);
    *req_cls = NULL;
}

/*  Requests MHD refuses itself (the request line or headers do not fit
    CONN_MEMORY, a malformed request...) reach us only as this message.    */
static void
s_count_refusal (orch_http_t *self, const char *text)
{
    const char *at = strstr (text, "HTTP response code is ");
    if (!at)
        return;
    unsigned code = (unsigned) strtoul (at + 22, NULL, 10);
    orch_stats_http (self->orch->stats, code);
    orch_stats_rejected (self->orch->stats, code == 414 ? ORCH_REJECT_URI_TOO_LONG
                                          : code == 431 ? ORCH_REJECT_HEADERS_TOO_LARGE
                                          : code == 413 ? ORCH_REJECT_TOO_LARGE
                                          : ORCH_REJECT_MALFORMED);
}

/*  MHD's messages as log lines, MHD_LOG_PER_SECOND at most (loglimit.h). */
static void
s_mhd_log (void *cls, const char *fmt, va_list args)
{
    orch_http_t *self = cls;
    char text[512];
    vsnprintf (text, sizeof text, fmt, args);
    s_count_refusal (self, text);
    unsigned long long suppressed;
    if (!orch_loglimit_ok (&self->mhd_log, MHD_LOG_PER_SECOND, orch_mono_ms (), &suppressed))
        return;
    size_t len = strlen (text);
    while (len && text[len - 1] == '\n')
        len--;
    char quoted[600];
    log_event (CLOG_WARN, "http_error", "message=%s suppressed=%llu",
               log_quote (quoted, sizeof quoted, text, len), suppressed);
}

/* --- the daemon ----------------------------------------------------------- */

/*  Bind our own listening socket: precise errors (EADDRINUSE...) and the
    real port for "port 0".                                                  */
static int
s_listen (orch_http_t *self, const char *addr, bool *ipv6, char *err, size_t err_size)
{
    const char *colon = strrchr (addr, ':');
    size_t host_len = (size_t) (colon - addr);
    if (host_len >= sizeof self->host)
        host_len = sizeof self->host - 1;
    memcpy (self->host, addr, host_len);
    self->host[host_len] = '\0';
    char host[256];
    snprintf (host, sizeof host, "%s", self->host);
    if (host[0] == '[' && host_len >= 2 && host[host_len - 1] == ']') {
        memmove (host, host + 1, host_len - 2);
        host[host_len - 2] = '\0';
    }
    const char *port = colon + 1;
    if (strcmp (port, "*") == 0)
        port = "0";
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    bool any = strcmp (host, "*") == 0 || host[0] == '\0';
    int rc = getaddrinfo (any ? NULL : host, port, &hints, &res);
    if (rc) {
        snprintf (err, err_size, "cannot resolve ORCH_HTTP_ADDR=%s: %s", addr, gai_strerror (rc));
        return -1;
    }
    /*  "localhost" may resolve to ::1 first; IPv4 is what people expect.   */
    const struct addrinfo *ai = res;
    for (const struct addrinfo *p = res; p; p = p->ai_next)
        if (p->ai_family == AF_INET) {
            ai = p;
            break;
        }
    int fd = socket (ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one)
        || bind (fd, ai->ai_addr, ai->ai_addrlen) || listen (fd, 512)) {
        snprintf (err, err_size, "cannot listen on ORCH_HTTP_ADDR=%s: %s", addr, strerror (errno));
        if (fd >= 0)
            close (fd);
        freeaddrinfo (res);
        return -1;
    }
    *ipv6 = ai->ai_family == AF_INET6;
    freeaddrinfo (res);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname (fd, (struct sockaddr *) &ss, &len);
    self->port = ntohs (ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                                                  : ((struct sockaddr_in *) &ss)->sin_port);
    self->listen_fd = fd;
    return 0;
}

orch_http_t *
orch_http_new (orch_t *orch, const char *addr, char *err, size_t err_size)
{
    orch_http_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->orch = orch;
    self->listen_fd = -1;
    const orch_config_t *cfg = orch->cfg;
    size_t max_conns = orch_http_guard_fd_budget ((size_t) cfg->http_max_connections);
    if (max_conns < (size_t) cfg->http_max_connections)
        log_event (CLOG_WARN, "http_connections_clamped", "wanted=%lld allowed=%zu"
                   " reason=\"RLIMIT_NOFILE (ulimit -n) is too low for ORCH_HTTP_MAX_CONNECTIONS\"",
                   (long long) cfg->http_max_connections, max_conns);
    self->guard = orch_http_guard_new (orch->stats, max_conns, (size_t) cfg->http_max_per_ip,
                                       cfg->http_header_timeout);
    if (!self->guard) {
        snprintf (err, err_size, "out of memory");
        free (self);
        return NULL;
    }
    bool ipv6 = false;
    if (s_listen (self, addr, &ipv6, err, err_size)) {
        orch_http_guard_destroy (&self->guard);
        free (self);
        return NULL;
    }
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ipv6)
        flags |= MHD_USE_IPv6;
    /*  The guard's accept policy is the connection limit that counts;
        MHD's own is a backstop above it.                                   */
    self->daemon = MHD_start_daemon (
        flags, 0, orch_http_guard_accept, self->guard, s_handler, self,
        MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, self,   /* first, or MHD complains */
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket) self->listen_fd,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, self,
        MHD_OPTION_NOTIFY_CONNECTION, orch_http_guard_notify, self->guard,
        MHD_OPTION_URI_LOG_CALLBACK, s_uri_log, self,
        MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned) ((cfg->http_idle_timeout + 999) / 1000),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) (max_conns + 16),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) CONN_MEMORY,
        MHD_OPTION_END);
    if (!self->daemon) {
        snprintf (err, err_size, "cannot start the HTTP server on ORCH_HTTP_ADDR=%s", addr);
        close (self->listen_fd);
        orch_http_guard_destroy (&self->guard);
        free (self);
        return NULL;
    }
    self->listen_fd = -1;               /* MHD closes it at stop */
    return self;
}

void
orch_http_destroy (orch_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orch_http_t *self = *self_p;
    /*  Stopping MHD with suspended connections is not allowed: resume
        every parked stream first (they end, orch->stopping is set).       */
    for (orch_stream_t *s = self->streams; s; s = s->next)
        if (s->parked) {
            s->parked = false;
            s->ended = true;
            MHD_resume_connection (s->conn);
        }
    if (self->daemon && self->streams)
        MHD_run (self->daemon);
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    if (self->listen_fd >= 0)
        close (self->listen_fd);
    orch_http_guard_destroy (&self->guard);
    free (self);
    *self_p = NULL;
}

int
orch_http_fd (const orch_http_t *self)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon,
                                                            MHD_DAEMON_INFO_EPOLL_FD);
    return info ? info->epoll_fd : -1;
}

int
orch_http_port (const orch_http_t *self)
{
    return self->port;
}

const char *
orch_http_host (const orch_http_t *self)
{
    return self->host;
}

void
orch_http_run (orch_http_t *self)
{
    MHD_run (self->daemon);
}

int64_t
orch_http_timeout (orch_http_t *self)
{
    MHD_UNSIGNED_LONG_LONG ms = 0;
    if (MHD_get_timeout (self->daemon, &ms) != MHD_YES)
        return -1;
    return ms > INT64_MAX ? INT64_MAX : (int64_t) ms;
}

void
orch_http_quiesce (orch_http_t *self)
{
    if (self->quiesced)
        return;
    self->quiesced = true;
    MHD_socket fd = MHD_quiesce_daemon (self->daemon);
    orch_http_cron (self, orch_mono_ms ());     /* streams end */
    /*  Quiescing hands the listening socket back to us.                    */
    if (fd != MHD_INVALID_SOCKET)
        self->listen_fd = fd;
}

size_t
orch_http_pending (const orch_http_t *self)
{
    return self->pending;
}
