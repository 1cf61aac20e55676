/*  submit.c - ROUTER socket for the CLI: envelopes, requests, replies.     */
#include "submit.h"
#include "cancel.h"
#include "live.h"
#include "log.h"
#include "loglimit.h"
#include "orch_config.h"
#include "stats.h"
#include "store.h"
#include "tasks.h"
#include "token.h"
#include "waiters.h"
#include "workers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define ENVELOPE_MAX 4                  /* routing frames we keep */
#define STREAMS_MAX 1024                /* live output subscribers at once */
#define KEEPALIVE_MS 4000               /* under the 5 s PROTOCOL.md promises */
#define OUTPUT_CHUNK (256 * 1024)       /* bytes per "output" reply */
#define LIST_DEFAULT 50
#define LIST_MAX 1000
#define REFUSED_LINES 20                /* refusal lines a second (loglimit.h) */

/*  The routing frames before the payload: identity (+ empty delimiter for
    REQ clients), copied so a parked waiter can answer later.              */
typedef struct {
    size_t count;
    size_t size[ENVELOPE_MAX];
    uint8_t data[ENVELOPE_MAX][256];
} s_envelope_t;

/*  A client following a task's output (request "stream").                 */
typedef struct s_streamer_t {
    orch_submit_t *self;
    s_envelope_t envelope;
    uint64_t req;
    char id[PROTO_ID_MAX + 1];
    uint32_t attempt;                   /* of the offsets; 0: not known yet */
    uint64_t offset[2];                 /* stdout, stderr bytes the client has */
    int64_t last_sent;                  /* monotonic ms */
    orch_live_watch_t *watch;
    struct s_streamer_t *next;
} s_streamer_t;

/*  A task accepted in the open batch: its answer ("accepted", a parked
    wait, or the record) goes once the batch has committed.                */
typedef struct {
    s_envelope_t envelope;
    uint64_t req;
    char id[PROTO_ID_MAX + 1];
    bool has_wait;                      /* answer with the record */
    uint64_t wait_ms;                   /* > 0: park until it ends */
} s_accepted_t;

struct orch_submit_t {
    orch_t *orch;                       /* the service */
    orch_loglimit_t refused_log;        /* garbage, bad tokens, envelopes */
    void *sock;                         /* ROUTER, bound */
    s_streamer_t *streamers;
    size_t streamer_count;
    /*  Submits of one drain share a transaction (one commit, one WAL write
        of the pages they share) until another request type comes; inside
        the event loop's batch (loop.c), that one. Their answers wait for
        the outermost commit (orch_submit_flush).                           */
    bool batch_open;
    s_accepted_t *batch;                /* answers to give */
    size_t batch_count;
    size_t batch_cap;
};

/*  A parked wait: what is needed to answer it.                             */
typedef struct {
    orch_submit_t *self;
    s_envelope_t envelope;
    uint64_t req;
} s_parked_t;

orch_submit_t *
orch_submit_new (orch_t *orch, const char *endpoint, char *err, size_t err_size)
{
    orch_submit_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->orch = orch;
    self->sock = zmq_socket (orch->zctx, ZMQ_ROUTER);
    int64_t max = orch->cfg->max_frame;
    int linger = 500;
    if (!self->sock
        || zmq_setsockopt (self->sock, ZMQ_MAXMSGSIZE, &max, sizeof max)
        || zmq_setsockopt (self->sock, ZMQ_LINGER, &linger, sizeof linger)
        || zmq_bind (self->sock, endpoint)) {
        snprintf (err, err_size, "cannot bind ORCH_SUBMIT_ENDPOINT=%s: %s", endpoint,
                  zmq_strerror (zmq_errno ()));
        orch_submit_destroy (&self);
        return NULL;
    }
    return self;
}

static void s_streamer_remove (orch_submit_t *self, s_streamer_t *st);

void
orch_submit_destroy (orch_submit_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    while ((*self_p)->streamers)
        s_streamer_remove (*self_p, (*self_p)->streamers);
    if ((*self_p)->sock)
        zmq_close ((*self_p)->sock);
    free ((*self_p)->batch);
    free (*self_p);
    *self_p = NULL;
}

void *
orch_submit_socket (orch_submit_t *self)
{
    return self->sock;
}

/* --- replies ------------------------------------------------------------ */

/*  Send envelope + frame; takes the frame.                                 */
static void
s_send_frame (orch_submit_t *self, const s_envelope_t *env, uint8_t *frame, size_t size)
{
    for (size_t i = 0; i < env->count; i++)
        if (zmq_send (self->sock, env->data[i], env->size[i], ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            goto dropped;
    if (zmq_send (self->sock, frame, size, ZMQ_DONTWAIT) < 0)
        goto dropped;
    free (frame);
    return;
  dropped:
    /*  The client is gone or not reading (ROUTER drops what it cannot
        route); nothing else to do.                                         */
    log_event (CLOG_DEBUG, "reply_dropped", "errno=%d", errno);
    free (frame);
}

static void
s_send (orch_submit_t *self, const s_envelope_t *env, const proto_msg_t *reply)
{
    uint8_t *frame = NULL;
    size_t size = 0;
    if (proto_encode (reply, &frame, &size)) {
        log_event (CLOG_ERROR, "reply_unencodable", "type=%s req=%llu",
                   proto_type_name (reply->type), (unsigned long long) reply->req);
        return;
    }
    s_send_frame (self, env, frame, size);
}

static void
s_error (orch_submit_t *self, const s_envelope_t *env, uint64_t req, const char *code,
         const char *field, const char *message)
{
    proto_msg_t reply = { .type = PROTO_REP_ERROR, .req = req };
    reply.u.error.code = code;
    reply.u.error.message = message;
    reply.u.error.field = field && *field ? field : NULL;
    s_send (self, env, &reply);
}

/*  Encode a "task" reply for rec; when it would not fit in a frame, drop
    the bulky parts that "get" over HTTP still shows (stdin and files of
    the task, collected file contents). NULL when it still does not fit.   */
static uint8_t *
s_encode_record (orch_submit_t *self, uint64_t req, orch_record_t *rec, size_t *size)
{
    proto_msg_t reply = { .type = PROTO_REP_TASK, .req = req };
    reply.u.record = rec->view;
    for (int pass = 0; pass < 2; pass++) {
        uint8_t *frame = NULL;
        if (proto_encode (&reply, &frame, size))
            return NULL;
        if ((int64_t) *size <= self->orch->cfg->max_frame)
            return frame;
        free (frame);
        reply.u.record.task.has_stdin = false;
        reply.u.record.task.stdin_data = (proto_bytes_t) { NULL, 0 };
        reply.u.record.task.files = NULL;
        reply.u.record.task.file_count = 0;
        reply.u.record.result.files = NULL;
        reply.u.record.result.file_count = 0;
    }
    return NULL;
}

/*  Answer with the task's current record (or not_found).                   */
static void
s_reply_record (orch_submit_t *self, const s_envelope_t *env, uint64_t req, const char *id)
{
    orch_record_t *rec = NULL;
    int found = orch_store_get (self->orch->store, id, true, &rec);
    if (found == 0) {
        char message[128];
        snprintf (message, sizeof message, "no task with id %s", id);
        s_error (self, env, req, "not_found", NULL, message);
        return;
    }
    if (found < 0 || orch_record_decode_spec (rec)) {
        orch_record_destroy (&rec);
        s_error (self, env, req, "internal", NULL, "cannot read the task");
        return;
    }
    size_t size = 0;
    uint8_t *frame = s_encode_record (self, req, rec, &size);
    orch_record_destroy (&rec);
    if (!frame) {
        s_error (self, env, req, "too_large", NULL,
                 "the record does not fit in one frame; fetch it over HTTP");
        return;
    }
    s_send_frame (self, env, frame, size);
}

static void
s_wake (void *arg, const char *id, orch_wake_t why)
{
    (void) why;
    s_parked_t *parked = arg;
    s_reply_record (parked->self, &parked->envelope, parked->req, id);
    free (parked);
}

/*  Park until id is terminal or timeout_ms passed. 0, or -1 when the
    waiter table is full (the caller answers "busy").                       */
static int
s_park (orch_submit_t *self, const s_envelope_t *env, uint64_t req, const char *id,
        uint64_t timeout_ms)
{
    uint64_t max = (uint64_t) self->orch->cfg->max_wait;
    if (timeout_ms > max)
        timeout_ms = max;
    s_parked_t *parked = malloc (sizeof *parked);
    if (!parked)
        return -1;
    parked->self = self;
    parked->envelope = *env;
    parked->req = req;
    if (!orch_waiters_add (self->orch->waiters, id, orch_mono_ms () + (int64_t) timeout_ms,
                           s_wake, parked)) {
        free (parked);
        return -1;
    }
    return 0;
}

/* --- requests ----------------------------------------------------------- */

/*  Commit the open batch of submits; the answers go once the outermost
    batch has committed (then, or later: orch_submit_flush).               */
static void
s_batch_end (orch_submit_t *self)
{
    if (!self->batch_open)
        return;
    self->batch_open = false;
    orch_batch_commit (self->orch);
}

/*  Answer each: nothing is said to be accepted before it is on disk.      */
void
orch_submit_flush (orch_submit_t *self, bool stored)
{
    for (size_t i = 0; i < self->batch_count; i++) {
        const s_accepted_t *a = &self->batch[i];
        if (!stored)
            s_error (self, &a->envelope, a->req, "internal", NULL, "cannot store the task");
        else if (!a->has_wait) {
            proto_msg_t reply = { .type = PROTO_REP_ACCEPTED, .req = a->req };
            reply.u.accepted_id = a->id;
            s_send (self, &a->envelope, &reply);
        }
        else if (!a->wait_ms || s_park (self, &a->envelope, a->req, a->id, a->wait_ms))
            s_reply_record (self, &a->envelope, a->req, a->id);
    }
    self->batch_count = 0;
}

static void
s_submit (orch_submit_t *self, const s_envelope_t *env, const proto_msg_t *msg)
{
    orch_t *orch = self->orch;
    const proto_req_submit_t *sub = &msg->u.submit;
    bool wait = sub->has_wait && sub->wait_ms > 0 && !orch->stopping;
    if (wait && orch_waiters_full (orch->waiters)) {
        s_error (self, env, msg->req, "busy", NULL, "too many requests are waiting; try later");
        return;
    }
    if (self->batch_count == self->batch_cap) {
        size_t cap = self->batch_cap ? 2 * self->batch_cap : 16;
        s_accepted_t *grown = realloc (self->batch, cap * sizeof *grown);
        if (!grown) {
            s_error (self, env, msg->req, "internal", NULL, "out of memory");
            return;
        }
        self->batch = grown;
        self->batch_cap = cap;
    }
    if (!self->batch_open) {
        if (orch_batch_begin (orch)) {
            s_error (self, env, msg->req, "internal", NULL, "cannot store the task");
            return;
        }
        self->batch_open = true;
    }
    s_accepted_t *a = &self->batch[self->batch_count];
    orch_err_t err;
    bool existed;
    if (orch_tasks_accept (orch, &sub->task, sub->key, a->id, &existed, &err)) {
        s_error (self, env, msg->req, err.code, err.field, err.message);
        return;
    }
    a->envelope = *env;
    a->req = msg->req;
    a->has_wait = sub->has_wait;
    a->wait_ms = wait ? sub->wait_ms : 0;
    self->batch_count++;
}

static void
s_wait (orch_submit_t *self, const s_envelope_t *env, const proto_msg_t *msg)
{
    const proto_req_id_t *w = &msg->u.get;
    proto_status_t status;
    uint32_t attempt;
    int found = orch_store_state (self->orch->store, w->id, &status, &attempt);
    if (found == 1 && !proto_status_is_terminal (status) && w->timeout_ms > 0
        && !self->orch->stopping) {
        if (s_park (self, env, msg->req, w->id, w->timeout_ms) == 0)
            return;
        s_error (self, env, msg->req, "busy", NULL, "too many requests are waiting; try later");
        return;
    }
    s_reply_record (self, env, msg->req, w->id);
}

static void
s_list (orch_submit_t *self, const s_envelope_t *env, const proto_msg_t *msg)
{
    size_t limit = msg->u.list.limit ? msg->u.list.limit : LIST_DEFAULT;
    if (limit > LIST_MAX)
        limit = LIST_MAX;
    orch_record_t **items = NULL;
    size_t count = 0;
    if (orch_store_list (self->orch->store, msg->u.list.status, 0, limit, true, &items,
                         &count)) {
        s_error (self, env, msg->req, "internal", NULL, "cannot list tasks");
        return;
    }
    proto_record_t *views = calloc (count ? count : 1, sizeof *views);
    size_t n = 0;
    for (size_t i = 0; views && i < count; i++) {
        if (orch_record_decode_spec (items[i]))
            continue;
        views[n] = items[i]->view;
        /*  Items are summaries: "get" has the task's stdin and files.      */
        views[n].task.has_stdin = false;
        views[n].task.stdin_data = (proto_bytes_t) { NULL, 0 };
        views[n].task.files = NULL;
        views[n].task.file_count = 0;
        n++;
    }
    proto_msg_t reply = { .type = PROTO_REP_TASKS, .req = msg->req };
    reply.u.tasks.items = views;
    /*  Halve the page until it fits in a frame (huge code blobs).          */
    for (;;) {
        reply.u.tasks.count = n;
        uint8_t *frame = NULL;
        size_t size = 0;
        if (!views || proto_encode (&reply, &frame, &size)) {
            s_error (self, env, msg->req, "internal", NULL, "cannot encode the list");
            break;
        }
        if ((int64_t) size <= self->orch->cfg->max_frame || n == 0) {
            free (frame);
            s_send (self, env, &reply);
            break;
        }
        free (frame);
        n /= 2;
    }
    free (views);
    orch_store_list_free (&items, count);
}

static void
s_workers (orch_submit_t *self, const s_envelope_t *env, const proto_msg_t *msg)
{
    proto_msg_t reply = { .type = PROTO_REP_WORKERS, .req = msg->req };
    if (orch_workers_list (self->orch->workers, &reply.u.workers.items,
                           &reply.u.workers.count)) {
        s_error (self, env, msg->req, "internal", NULL, "out of memory");
        return;
    }
    s_send (self, env, &reply);
    free (reply.u.workers.items);
}

/*  rerun: the task of msg's id again under a new id; answered like a
    submit ("accepted" once the new task is stored).                        */
static void
s_rerun (orch_submit_t *self, const s_envelope_t *env, const proto_msg_t *msg)
{
    char id[PROTO_ID_MAX + 1];
    orch_err_t err;
    if (orch_tasks_rerun (self->orch, msg->u.get.id, id, &err)) {
        s_error (self, env, msg->req, err.code, err.field, err.message);
        return;
    }
    proto_msg_t reply = { .type = PROTO_REP_ACCEPTED, .req = msg->req };
    reply.u.accepted_id = id;
    s_send (self, env, &reply);
}

/* --- stream: live output ------------------------------------------------ */

static void
s_streamer_remove (orch_submit_t *self, s_streamer_t *st)
{
    for (s_streamer_t **at = &self->streamers; *at; at = &(*at)->next)
        if (*at == st) {
            *at = st->next;
            self->streamer_count--;
            break;
        }
    if (self->orch->live)
        orch_live_unwatch (self->orch->live, &st->watch);
    free (st);
}

/*  One "output" reply: bytes [offset, offset + size) of a stream.        */
static void
s_output (s_streamer_t *st, int stream, uint64_t offset, const uint8_t *data, size_t size)
{
    proto_msg_t reply = { .type = PROTO_REP_OUTPUT, .req = st->req };
    reply.u.chunk.id = st->id;
    reply.u.chunk.attempt = st->attempt;
    reply.u.chunk.stream = stream ? PROTO_STREAM_STDERR : PROTO_STREAM_STDOUT;
    reply.u.chunk.offset = offset;
    reply.u.chunk.data = (proto_bytes_t) { data, size };
    s_send (st->self, &st->envelope, &reply);
    st->last_sent = orch_mono_ms ();
}

/*  Send what the client lacks of data[0..len) of one stream.             */
static void
s_catch_up (s_streamer_t *st, int stream, const uint8_t *data, size_t len)
{
    while (st->offset[stream] < len) {
        size_t n = len - st->offset[stream];
        if (n > OUTPUT_CHUNK)
            n = OUTPUT_CHUNK;
        s_output (st, stream, st->offset[stream], data + st->offset[stream], n);
        st->offset[stream] += n;
    }
}

/*  Output of another attempt than the client's offsets: start over.      */
static void
s_attempt (s_streamer_t *st, uint32_t attempt)
{
    if (st->attempt != attempt && st->attempt != 0)
        st->offset[0] = st->offset[1] = 0;
    st->attempt = attempt;
}

/*  Bring the client up to date; at the end, the record. Returns false
    when the streamer is done (removed).                                    */
static bool
s_stream_push (s_streamer_t *st)
{
    orch_t *orch = st->self->orch;
    uint32_t attempt;
    const uint8_t *out, *err;
    size_t out_len, err_len;
    if (orch_live_peek (orch->live, st->id, &attempt, &out, &out_len, &err, &err_len)) {
        s_attempt (st, attempt);
        s_catch_up (st, 0, out, out_len);
        s_catch_up (st, 1, err, err_len);
        return true;
    }
    proto_status_t status;
    int found = orch_store_state (orch->store, st->id, &status, &attempt);
    if (found == 1 && !proto_status_is_terminal (status))
        return true;
    orch_record_t *rec = NULL;
    if (found == 1 && orch_store_get (orch->store, st->id, true, &rec) == 1) {
        const proto_result_t *r = &rec->view.result;
        s_attempt (st, rec->view.attempt);
        s_catch_up (st, 0, r->stdout_data.data, r->stdout_data.size);
        s_catch_up (st, 1, r->stderr_data.data, r->stderr_data.size);
    }
    orch_record_destroy (&rec);
    /*  The record ends the stream (or says not_found if it was pruned).  */
    s_reply_record (st->self, &st->envelope, st->req, st->id);
    s_streamer_remove (st->self, st);
    return false;
}

static void
s_stream_wake (void *arg)
{
    s_stream_push (arg);
}

static bool
s_same_client (const s_envelope_t *a, const s_envelope_t *b)
{
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++)
        if (a->size[i] != b->size[i] || memcmp (a->data[i], b->data[i], a->size[i]))
            return false;
    return true;
}

static void
s_stream (orch_submit_t *self, const s_envelope_t *env, const proto_msg_t *msg)
{
    const proto_req_stream_t *rq = &msg->u.stream;
    proto_status_t status;
    uint32_t attempt;
    int found = orch_store_state (self->orch->store, rq->id, &status, &attempt);
    if (found <= 0) {
        char message[128];
        snprintf (message, sizeof message, "no task with id %s", rq->id);
        s_error (self, env, msg->req, found ? "internal" : "not_found", NULL,
                 found ? "cannot read the task" : message);
        return;
    }
    /*  A client that asks again (it reconnected) replaces its old stream. */
    for (s_streamer_t *st = self->streamers, *next; st; st = next) {
        next = st->next;
        if (strcmp (st->id, rq->id) == 0 && s_same_client (&st->envelope, env))
            s_streamer_remove (self, st);
    }
    if (self->streamer_count >= STREAMS_MAX) {
        s_error (self, env, msg->req, "busy", NULL, "too many clients follow output; try later");
        return;
    }
    s_streamer_t *st = calloc (1, sizeof *st);
    if (!st) {
        s_error (self, env, msg->req, "internal", NULL, "out of memory");
        return;
    }
    st->self = self;
    st->envelope = *env;
    st->req = msg->req;
    snprintf (st->id, sizeof st->id, "%s", rq->id);
    st->offset[0] = rq->stdout_from;
    st->offset[1] = rq->stderr_from;
    st->watch = orch_live_watch (self->orch->live, st->id, s_stream_wake, st);
    if (!st->watch) {
        free (st);
        s_error (self, env, msg->req, "internal", NULL, "out of memory");
        return;
    }
    st->next = self->streamers;
    self->streamers = st;
    self->streamer_count++;
    /*  Resuming offsets count within the attempt that runs now.          */
    st->attempt = attempt;
    if (s_stream_push (st) && st->last_sent == 0)
        s_output (st, 0, st->offset[0], NULL, 0);       /* "following" */
}

void
orch_submit_cron (orch_submit_t *self, int64_t mono)
{
    for (s_streamer_t *st = self->streamers; st; st = st->next)
        if (mono - st->last_sent >= KEEPALIVE_MS)
            s_output (st, 0, st->offset[0], NULL, 0);
}

size_t
orch_submit_streams (const orch_submit_t *self)
{
    return self->streamer_count;
}

static void
s_request (orch_submit_t *self, const s_envelope_t *env, const void *data, size_t size)
{
    orch_t *orch = self->orch;
    proto_error_t perr;
    proto_msg_t *msg = proto_decode (PROTO_CH_SUBMIT, data, size, (size_t) orch->cfg->max_frame,
                                     &perr);
    if (!msg) {
        orch_stats_dropped (orch->stats, ORCH_DROP_SUBMIT_UNDECODABLE);
        char message[sizeof perr.field + sizeof perr.message + 4];
        char quoted[2 * sizeof message];
        snprintf (message, sizeof message, "%s%s%s", perr.field, perr.field[0] ? ": " : "",
                  perr.message);
        unsigned long long suppressed;
        if (orch_loglimit_ok (&self->refused_log, REFUSED_LINES, orch_mono_ms (), &suppressed))
            log_event (CLOG_INFO, "request_rejected", "size=%zu reason=%s suppressed=%llu", size,
                       log_quote (quoted, sizeof quoted, message, strlen (message)), suppressed);
        s_error (self, env, perr.has_req ? perr.req : 0, "bad_request", perr.field, message);
        return;
    }
    if (!orch_token_equal (msg->token, strlen (msg->token), orch->token, orch->token_len)) {
        orch_stats_dropped (orch->stats, ORCH_DROP_SUBMIT_UNAUTHORIZED);
        unsigned long long suppressed;
        if (orch_loglimit_ok (&self->refused_log, REFUSED_LINES, orch_mono_ms (), &suppressed))
            log_event (CLOG_INFO, "request_unauthorized", "type=%s suppressed=%llu",
                       proto_type_name (msg->type), suppressed);
        s_error (self, env, msg->req, "unauthorized", "token", "token: wrong API token");
        proto_msg_destroy (&msg);
        return;
    }
    /*  Any other request sees (and may answer about) committed tasks only. */
    if (msg->type != PROTO_REQ_SUBMIT)
        s_batch_end (self);
    switch (msg->type) {
        case PROTO_REQ_SUBMIT:
            s_submit (self, env, msg);
            break;
        case PROTO_REQ_GET:
            s_reply_record (self, env, msg->req, msg->u.get.id);
            break;
        case PROTO_REQ_WAIT:
            s_wait (self, env, msg);
            break;
        case PROTO_REQ_LIST:
            s_list (self, env, msg);
            break;
        case PROTO_REQ_WORKERS:
            s_workers (self, env, msg);
            break;
        case PROTO_REQ_RERUN:
            s_rerun (self, env, msg);
            break;
        case PROTO_REQ_STREAM:
            s_stream (self, env, msg);
            break;
        case PROTO_REQ_CANCEL: {
            orch_cancel_t outcome;
            orch_err_t err;
            if (orch_cancel (orch, msg->u.get.id, &outcome, &err))
                s_error (self, env, msg->req, err.code, err.field, err.message);
            else
                s_reply_record (self, env, msg->req, msg->u.get.id);
            break;
        }
        default:
            s_error (self, env, msg->req, "bad_request", "type", "type: not a request");
            break;
    }
    proto_msg_destroy (&msg);
}

size_t
orch_submit_drain (orch_submit_t *self, size_t max)
{
    size_t taken = 0;
    while (taken < max) {
        s_envelope_t env = { 0 };
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, self->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&part);
            break;
        }
        taken++;
        /*  All parts before the last are the envelope; the last is the
            request. Envelopes we cannot keep are dropped whole.            */
        bool ok = true;
        while (zmq_msg_more (&part)) {
            if (env.count < ENVELOPE_MAX && zmq_msg_size (&part) <= sizeof env.data[0]) {
                memcpy (env.data[env.count], zmq_msg_data (&part), zmq_msg_size (&part));
                env.size[env.count++] = zmq_msg_size (&part);
            }
            else
                ok = false;
            zmq_msg_close (&part);
            zmq_msg_init (&part);
            if (zmq_msg_recv (&part, self->sock, ZMQ_DONTWAIT) < 0) {
                ok = false;
                break;
            }
        }
        if (ok && env.count >= 1)
            s_request (self, &env, zmq_msg_data (&part), zmq_msg_size (&part));
        else {
            orch_stats_dropped (self->orch->stats, ORCH_DROP_SUBMIT_ENVELOPE);
            unsigned long long suppressed;
            if (orch_loglimit_ok (&self->refused_log, REFUSED_LINES, orch_mono_ms (),
                                  &suppressed))
                log_event (CLOG_WARN, "frame_dropped", "socket=submit reason=\"bad envelope\""
                           " suppressed=%llu", suppressed);
        }
        zmq_msg_close (&part);
    }
    s_batch_end (self);
    return taken;
}
