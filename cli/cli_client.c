/*  cli_client.c - DEALER connection, request/reply matching, timeouts.    */
#include "cli_client.h"
#include "cli_interrupt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

struct cli_client_t {
    void *ctx;                          /* ZeroMQ context */
    void *sock;                         /* DEALER, connected to endpoint */
    const char *endpoint;               /* where the orchestrator should be */
    const char *token;                  /* API token sent with every request */
    const char *token_source;           /* where the token came from */
    int64_t connect_timeout_ms;         /* patience before the first answer */
    uint64_t next_req;                  /* "req" of the next request */
    bool answered;                      /* any frame ever came back */
    size_t last_size;                   /* bytes of the last request sent */
};

#define S_NO_ANSWER CLI_CLIENT_SILENT

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

cli_client_t *
cli_client_new (const cli_global_t *global)
{
    cli_client_t *self = calloc (1, sizeof *self);
    if (!self) {
        cli_error ("out of memory");
        return NULL;
    }
    self->endpoint = global->endpoint;
    self->token = global->token;
    self->token_source = global->token_source ? global->token_source : "?";
    self->connect_timeout_ms = global->connect_timeout_ms;
    self->next_req = 1;
    self->ctx = zmq_ctx_new ();
    if (!self->ctx) {
        cli_error ("cannot start ZeroMQ: %s", zmq_strerror (errno));
        goto fail;
    }
    self->sock = zmq_socket (self->ctx, ZMQ_DEALER);
    if (!self->sock) {
        cli_error ("cannot create a ZeroMQ socket: %s", zmq_strerror (errno));
        goto fail;
    }
    /*  Linger 0: a request nobody took must not hold cleudo at exit.      */
    int linger = 0;
    int sndtimeo = (int) self->connect_timeout_ms;
    int64_t maxmsg = CLI_MAX_REPLY;
    zmq_setsockopt (self->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->sock, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
    zmq_setsockopt (self->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_connect (self->sock, self->endpoint)) {
        cli_error ("cannot connect to %s: %s (check --endpoint / CLEUDO_ENDPOINT)",
                   self->endpoint, zmq_strerror (errno));
        goto fail;
    }
    return self;
fail:
    cli_client_destroy (&self);
    return NULL;
}

void
cli_client_destroy (cli_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cli_client_t *self = *self_p;
    *self_p = NULL;
    if (self->sock)
        zmq_close (self->sock);
    if (self->ctx)
        zmq_ctx_term (self->ctx);
    free (self);
}

/*  Receive one message (all its parts) and decode its last part: a ROUTER
    that answers REQ peers too may put an empty delimiter frame first.
    Returns the decoded message, or NULL with *bad set when a frame came
    that cannot be decoded and is not known to be stale.                    */
static proto_msg_t *
s_receive (cli_client_t *self, uint64_t req, bool *bad)
{
    *bad = false;
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    bool more = true;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, self->sock, 0) < 0) {
            zmq_msg_close (&part);
            zmq_msg_close (&frame);
            return NULL;
        }
        more = zmq_msg_more (&part);
        if (zmq_msg_size (&part) > 0 || !more)
            zmq_msg_move (&frame, &part);
        zmq_msg_close (&part);
    }
    proto_error_t err;
    proto_msg_t *msg = proto_decode (PROTO_CH_REPLY, zmq_msg_data (&frame), zmq_msg_size (&frame),
                                     CLI_MAX_REPLY, &err);
    zmq_msg_close (&frame);
    self->answered = true;      /* someone is there, even if it talks nonsense */
    if (!msg && !(err.has_req && err.req != req)) {
        cli_error ("the orchestrator at %s sent a reply cleudo cannot read (%s%s%s); are "
                   "cleudo and the orchestrator the same version?", self->endpoint,
                   err.field, *err.field ? ": " : "", err.message);
        *bad = true;
    }
    return msg;
}

int
cli_client_send (cli_client_t *self, proto_msg_t *request)
{
    request->req = self->next_req++;
    request->token = self->token;
    uint8_t *frame = NULL;
    size_t size = 0;
    if (proto_encode (request, &frame, &size)) {
        cli_error ("cannot encode the %s request: a value is outside the protocol's bounds "
                   "(check the token and the task's options)", proto_type_name (request->type));
        return CLI_EXIT_USAGE;
    }
    if (size > PROTO_MAX_FRAME_DEFAULT) {
        cli_error ("the %s request is %zu bytes, more than the %u bytes one frame may carry: "
                   "send less through --file, --stdin or FILE", proto_type_name (request->type),
                   size, PROTO_MAX_FRAME_DEFAULT);
        free (frame);
        return CLI_EXIT_USAGE;
    }
    self->last_size = size;
    int rc = zmq_send (self->sock, frame, size, 0);
    int send_errno = errno;
    free (frame);
    if (rc < 0 && send_errno == EAGAIN)
        return CLI_CLIENT_SILENT;   /* nobody took it within the send timeout */
    if (rc < 0) {
        cli_error ("cannot send to %s: %s", self->endpoint, zmq_strerror (send_errno));
        return CLI_EXIT_UNREACHABLE;
    }
    return 0;
}

int
cli_client_recv (cli_client_t *self, uint64_t req, int64_t timeout_ms, proto_msg_t **reply)
{
    *reply = NULL;
    int64_t deadline = s_now_ms () + timeout_ms;
    for (;;) {
        /*  Short slices, so that Ctrl-C is seen even when it came just
            before zmq_poll () started (and so did not interrupt it).       */
        if (cli_interrupted ())
            return CLI_EXIT_INTERRUPTED;
        int64_t left = deadline - s_now_ms ();
        if (left <= 0)
            return CLI_CLIENT_SILENT;
        if (left > CLI_SLICE_MS)
            left = CLI_SLICE_MS;
        zmq_pollitem_t item = { self->sock, 0, ZMQ_POLLIN, 0 };
        int n = zmq_poll (&item, 1, (long) left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_error ("cannot wait for the orchestrator: %s", zmq_strerror (errno));
            return CLI_EXIT_INTERNAL;
        }
        if (n == 0)
            continue;
        bool bad;
        proto_msg_t *msg = s_receive (self, req, &bad);
        if (bad)
            return CLI_EXIT_INTERNAL;
        if (!msg)
            continue;
        if (msg->req != req) {
            proto_msg_destroy (&msg);       /* an answer we stopped waiting for */
            continue;
        }
        *reply = msg;
        return 0;
    }
}

bool
cli_client_answered (const cli_client_t *self)
{
    return self->answered;
}

static int
s_call (cli_client_t *self, proto_msg_t *request, int64_t timeout_ms, proto_msg_t **reply)
{
    *reply = NULL;
    int rc = cli_client_send (self, request);
    if (rc)
        return rc;
    if (!self->answered && timeout_ms < self->connect_timeout_ms)
        timeout_ms = self->connect_timeout_ms;
    /*  A big request takes a while to travel: a second per MiB.           */
    timeout_ms += (int64_t) (self->last_size >> 20) * 1000;
    return cli_client_recv (self, request->req, timeout_ms, reply);
}

void
cli_client_report_silence (cli_client_t *self, int64_t waited_ms)
{
    if (!self->answered)
        cli_error ("cannot reach orchestrator at %s: is it running? start it with make run "
                   "(or point --endpoint / CLEUDO_ENDPOINT at it)", self->endpoint);
    else
        cli_error ("the orchestrator at %s stopped answering (nothing for %" PRId64 " s)",
                   self->endpoint, (waited_ms + 999) / 1000);
}

int
cli_client_call (cli_client_t *self, proto_msg_t *request, int64_t timeout_ms,
                 proto_msg_t **reply)
{
    int64_t start = s_now_ms ();
    int rc = s_call (self, request, timeout_ms, reply);
    if (rc == S_NO_ANSWER) {
        cli_client_report_silence (self, s_now_ms () - start);
        return CLI_EXIT_UNREACHABLE;
    }
    return rc;
}

static bool
s_is_auth_error (const char *code)
{
    return strcmp (code, "unauthorized") == 0 || strcmp (code, "forbidden") == 0
           || strstr (code, "token") || strstr (code, "auth");
}

int
cli_client_report (cli_client_t *self, const proto_msg_t *reply, const char *request,
                   const char *id)
{
    if (reply->type != PROTO_REP_ERROR) {
        cli_error ("unexpected '%s' reply from the orchestrator to a %s request",
                   proto_type_name (reply->type), request);
        return CLI_EXIT_INTERNAL;
    }
    const proto_rep_error_t *e = &reply->u.error;
    const char *code = e->code ? e->code : "error";
    const char *message = e->message && *e->message ? e->message : "no reason given";
    if (s_is_auth_error (code))
        cli_error ("the orchestrator refused the token (from %s): set CLEUDO_TOKEN or --token "
                   "(make run prints it)", self->token_source);
    else
    if (strcmp (code, "queue_full") == 0) {
        cli_error ("the orchestrator's queue is full; retry later");
        return CLI_EXIT_QUEUE_FULL;
    }
    else
    if (strcmp (code, "conflict") == 0 && id)
        cli_error ("cannot %s task %s: %s", request, id, message);
    else
    if (strcmp (code, "not_found") == 0 && id)
        cli_error ("no task with id %s", id);
    else
    if (e->field && *e->field)
        cli_error ("the orchestrator refused the %s request: %s (%s, field %s)", request,
                   message, code, e->field);
    else
        cli_error ("the orchestrator refused the %s request: %s (%s)", request, message, code);
    return CLI_EXIT_REFUSED;
}

int
cli_client_submit (cli_client_t *self, const proto_task_t *task, const char *key, char *id)
{
    proto_msg_t request;
    memset (&request, 0, sizeof request);
    request.type = PROTO_REQ_SUBMIT;
    request.u.submit.task = *task;
    request.u.submit.key = key;
    proto_msg_t *reply;
    int rc = cli_client_call (self, &request, self->connect_timeout_ms, &reply);
    if (rc)
        return rc;
    if (reply->type == PROTO_REP_ACCEPTED && reply->u.accepted_id) {
        snprintf (id, PROTO_ID_MAX + 1, "%s", reply->u.accepted_id);
        rc = 0;
    }
    else
        rc = cli_client_report (self, reply, "submit", NULL);
    proto_msg_destroy (&reply);
    return rc;
}

/*  A request about one task whose answer is that task's record ("get",
    "cancel"). 0 with *reply the record, or the error's exit code.         */
static int
s_task_request (cli_client_t *self, proto_type_t type, const char *what, const char *id,
                int64_t timeout_ms, proto_msg_t **reply)
{
    proto_msg_t request;
    memset (&request, 0, sizeof request);
    request.type = type;
    request.u.get.id = id;
    int rc = cli_client_call (self, &request, timeout_ms, reply);
    if (rc)
        return rc;
    if ((*reply)->type == PROTO_REP_TASK)
        return 0;
    rc = cli_client_report (self, *reply, what, id);
    proto_msg_destroy (reply);
    return rc;
}

int
cli_client_cancel (cli_client_t *self, const char *id, proto_msg_t **reply)
{
    return s_task_request (self, PROTO_REQ_CANCEL, "cancel", id, self->connect_timeout_ms,
                           reply);
}

int
cli_client_cancel_within (cli_client_t *self, const char *id, int64_t timeout_ms,
                          proto_msg_t **reply)
{
    return s_task_request (self, PROTO_REQ_CANCEL, "cancel", id, timeout_ms, reply);
}

int
cli_client_get (cli_client_t *self, const char *id, proto_msg_t **reply)
{
    return s_task_request (self, PROTO_REQ_GET, "get", id, self->connect_timeout_ms, reply);
}

bool
cli_client_unsupported (const proto_msg_t *reply)
{
    if (reply->type != PROTO_REP_ERROR || !reply->u.error.code)
        return false;
    const char *code = reply->u.error.code;
    const char *field = reply->u.error.field;
    /*  An orchestrator older than the request rejects its type as a bad
        frame (field "type"); a newer one may say so in words.             */
    return (strcmp (code, "bad_request") == 0 && field && strcmp (field, "type") == 0)
           || strcmp (code, "not_implemented") == 0 || strcmp (code, "unknown_request") == 0;
}

int
cli_client_rerun (cli_client_t *self, const char *id, char *new_id)
{
    proto_msg_t request;
    memset (&request, 0, sizeof request);
    request.type = PROTO_REQ_RERUN;
    request.u.get.id = id;
    proto_msg_t *reply;
    int rc = cli_client_call (self, &request, self->connect_timeout_ms, &reply);
    if (rc)
        return rc;
    if (reply->type == PROTO_REP_ACCEPTED && reply->u.accepted_id) {
        snprintf (new_id, PROTO_ID_MAX + 1, "%s", reply->u.accepted_id);
        rc = 0;
    }
    else
    if (cli_client_unsupported (reply)) {
        cli_error ("the orchestrator at %s does not know rerun (it is older than cleudo): "
                   "upgrade it, or submit the task again", self->endpoint);
        rc = CLI_EXIT_REFUSED;
    }
    else
        rc = cli_client_report (self, reply, "rerun", id);
    proto_msg_destroy (&reply);
    return rc;
}

int
cli_client_list (cli_client_t *self, proto_status_t status, uint32_t limit,
                 proto_msg_t **reply)
{
    proto_msg_t request;
    memset (&request, 0, sizeof request);
    request.type = PROTO_REQ_LIST;
    request.u.list.status = status;
    request.u.list.limit = limit;
    int rc = cli_client_call (self, &request, self->connect_timeout_ms, reply);
    if (rc)
        return rc;
    if ((*reply)->type == PROTO_REP_TASKS)
        return 0;
    rc = cli_client_report (self, *reply, "list", NULL);
    proto_msg_destroy (reply);
    return rc;
}

int
cli_client_workers (cli_client_t *self, proto_msg_t **reply)
{
    proto_msg_t request;
    memset (&request, 0, sizeof request);
    request.type = PROTO_REQ_WORKERS;
    int rc = cli_client_call (self, &request, self->connect_timeout_ms, reply);
    if (rc)
        return rc;
    if ((*reply)->type == PROTO_REP_WORKERS)
        return 0;
    rc = cli_client_report (self, *reply, "workers", NULL);
    proto_msg_destroy (reply);
    return rc;
}

const char *
cli_client_endpoint (const cli_client_t *self)
{
    return self->endpoint;
}

int64_t
cli_client_connect_timeout (const cli_client_t *self)
{
    return self->connect_timeout_ms;
}

int
cli_client_wait (cli_client_t *self, const char *id, int64_t timeout_ms, proto_msg_t **reply)
{
    *reply = NULL;
    proto_msg_t *last = NULL;
    int64_t deadline = timeout_ms > 0 ? s_now_ms () + timeout_ms : INT64_MAX;
    int misses = 0;
    int64_t silent_since = s_now_ms ();
    for (;;) {
        int64_t now = s_now_ms ();
        int64_t left = deadline - now;
        if (left <= 0) {
            *reply = last;
            return CLI_EXIT_WAIT_TIMEOUT;
        }
        int64_t chunk = left < CLI_WAIT_CHUNK_MS ? left : CLI_WAIT_CHUNK_MS;
        proto_msg_t request;
        memset (&request, 0, sizeof request);
        request.type = PROTO_REQ_WAIT;
        request.u.get.id = id;
        request.u.get.timeout_ms = (uint64_t) chunk;
        proto_msg_t *msg;
        int rc = s_call (self, &request, chunk + CLI_REPLY_GRACE_MS, &msg);
        if (rc == S_NO_ANSWER) {
            /*  Resend: a restarted orchestrator never saw the request, and
                an answer to the old one is dropped as stale when it comes. */
            if (++misses < CLI_MAX_MISSES && s_now_ms () < deadline)
                continue;
            if (s_now_ms () >= deadline) {
                *reply = last;
                return CLI_EXIT_WAIT_TIMEOUT;
            }
            cli_client_report_silence (self, s_now_ms () - silent_since);
            proto_msg_destroy (&last);
            return CLI_EXIT_UNREACHABLE;
        }
        if (rc) {
            proto_msg_destroy (&last);
            return rc;
        }
        misses = 0;
        silent_since = s_now_ms ();
        if (msg->type != PROTO_REP_TASK) {
            rc = cli_client_report (self, msg, "wait", id);
            proto_msg_destroy (&msg);
            proto_msg_destroy (&last);
            return rc;
        }
        proto_msg_destroy (&last);
        if (proto_status_is_terminal (msg->u.record.status)) {
            *reply = msg;
            return 0;
        }
        last = msg;
        /*  An orchestrator that answers a wait at once with an unfinished
            task must not turn this loop into a busy one.                   */
        int64_t took = s_now_ms () - now;
        if (took < 100 && s_now_ms () + (100 - took) < deadline)
            usleep ((useconds_t) (100 - took) * 1000);
    }
}
