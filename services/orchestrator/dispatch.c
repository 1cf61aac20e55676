/*  dispatch.c - FIFO of queued ids, dispatched set, credit, sending.      */
#include "dispatch.h"
#include "leases.h"
#include "log.h"
#include "store.h"
#include "workers.h"

#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define BATCH_MAX 256                   /* tasks per dispatch commit */

typedef struct {
    char *id;                           /* owned */
    uint32_t attempt;
    uint8_t *frame;                     /* owned */
    size_t size;
} s_pending_t;

struct orch_dispatch_t {
    char **ring;                        /* queued ids (owned), circular */
    size_t cap;                         /* ring size, a power of two */
    size_t head;                        /* index of the oldest */
    size_t count;                       /* ids in the ring */
    zhashx_t *forgotten;                /* id -> n: stale entries in the ring */
    size_t forgotten_count;             /* sum of those n */
    /*  Recorded as dispatched in a transaction that has not committed yet
        (an outer batch: orch_batch_commit sends them, orch_dispatch_flush). */
    s_pending_t pending[BATCH_MAX];
    size_t pending_count;
};

orch_dispatch_t *
orch_dispatch_new (void)
{
    orch_dispatch_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cap = 64;
    self->ring = calloc (self->cap, sizeof *self->ring);
    self->forgotten = zhashx_new ();
    if (!self->ring || !self->forgotten) {
        orch_dispatch_destroy (&self);
        return NULL;
    }
    return self;
}

void
orch_dispatch_destroy (orch_dispatch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orch_dispatch_t *self = *self_p;
    if (self->ring)
        for (size_t i = 0; i < self->count; i++)
            free (self->ring[(self->head + i) & (self->cap - 1)]);
    free (self->ring);
    for (size_t i = 0; i < self->pending_count; i++) {
        free (self->pending[i].frame);
        free (self->pending[i].id);
    }
    zhashx_destroy (&self->forgotten);
    free (self);
    *self_p = NULL;
}

static int
s_grow (orch_dispatch_t *self)
{
    size_t cap = self->cap * 2;
    char **ring = calloc (cap, sizeof *ring);
    if (!ring)
        return -1;
    for (size_t i = 0; i < self->count; i++)
        ring[i] = self->ring[(self->head + i) & (self->cap - 1)];
    free (self->ring);
    self->ring = ring;
    self->cap = cap;
    self->head = 0;
    return 0;
}

static int
s_push (orch_dispatch_t *self, char *id, bool front)
{
    if (self->count == self->cap && s_grow (self))
        return -1;
    if (front) {
        self->head = (self->head + self->cap - 1) & (self->cap - 1);
        self->ring[self->head] = id;
    }
    else
        self->ring[(self->head + self->count) & (self->cap - 1)] = id;
    self->count++;
    return 0;
}

static char *
s_pop (orch_dispatch_t *self)
{
    if (self->count == 0)
        return NULL;
    char *id = self->ring[self->head];
    self->ring[self->head] = NULL;
    self->head = (self->head + 1) & (self->cap - 1);
    self->count--;
    return id;
}

int
orch_dispatch_enqueue (orch_dispatch_t *self, const char *id)
{
    char *copy = strdup (id);
    if (!copy || s_push (self, copy, false)) {
        free (copy);
        return -1;
    }
    return 0;
}

int
orch_dispatch_requeue (orch_dispatch_t *self, const char *id)
{
    char *copy = strdup (id);
    if (!copy || s_push (self, copy, true)) {
        free (copy);
        return -1;
    }
    return 0;
}

void
orch_dispatch_forget (orch_dispatch_t *self, const char *id)
{
    uintptr_t n = (uintptr_t) zhashx_lookup (self->forgotten, id);
    if (self->forgotten_count >= self->count)
        return;                         /* nothing left that could be it */
    zhashx_update (self->forgotten, id, (void *) (n + 1));
    self->forgotten_count++;
}

/*  True (and one fewer remembered) when popped id is a stale entry.       */
static bool
s_was_forgotten (orch_dispatch_t *self, const char *id)
{
    uintptr_t n = (uintptr_t) zhashx_lookup (self->forgotten, id);
    if (!n)
        return false;
    if (n == 1)
        zhashx_delete (self->forgotten, id);
    else
        zhashx_update (self->forgotten, id, (void *) (n - 1));
    self->forgotten_count--;
    return true;
}

size_t
orch_dispatch_queued (const orch_dispatch_t *self)
{
    return self->count - self->forgotten_count;
}

int64_t
orch_dispatch_credit (const orch_t *orch)
{
    return orch_workers_free (orch->workers) - (int64_t) orch_leases_outstanding (orch->leases);
}

static void
s_rebuild_queued (void *arg, const char *id, uint32_t attempt)
{
    (void) attempt;
    orch_dispatch_enqueue (arg, id);
}

static void
s_rebuild_dispatched (void *arg, const char *id, uint32_t attempt)
{
    /*  Sent before a restart and not started since. The frame left with
        the old process's socket buffer or sits with a worker that will
        report it ("started" and "result" for its attempt are accepted).
        Its lease (recovery.c) holds back no credit and sends it again
        when no worker claims it in time.                                  */
    size_t *recovered = arg;
    (*recovered)++;
    log_event (CLOG_WARN, "task_in_doubt", "id=%s attempt=%u status=dispatched", id, attempt);
}

int
orch_dispatch_rebuild (orch_dispatch_t *self, orch_store_t *store, size_t *in_doubt)
{
    size_t count = 0;
    if (orch_store_scan (store, PROTO_STATUS_QUEUED, s_rebuild_queued, self)
        || orch_store_scan (store, PROTO_STATUS_DISPATCHED, s_rebuild_dispatched, &count))
        return -1;
    if (in_doubt)
        *in_doubt = count;
    return 0;
}

/*  The frame for attempt n of a stored task. The spec was stored as the
    frame of attempt 1, so the first dispatch sends it unchanged.          */
static int
s_frame (orch_record_t *rec, uint32_t attempt, uint8_t **frame, size_t *size)
{
    if (attempt == 1) {
        *frame = rec->spec;
        *size = rec->spec_size;
        rec->spec = NULL;               /* ownership moves to the caller */
        return 0;
    }
    if (orch_record_decode_spec (rec))
        return -1;
    proto_msg_t msg = { .type = PROTO_TASK };
    msg.u.task = rec->spec_msg->u.task;
    msg.u.task.id = rec->id;
    msg.u.task.attempt = attempt;
    return proto_encode (&msg, frame, size);
}

/*  Put ids back at the head of the queue in their original order.          */
static void
s_requeue_front (orch_dispatch_t *self, s_pending_t *batch, size_t from, size_t n)
{
    for (size_t i = n; i > from; i--) {
        if (s_push (self, batch[i - 1].id, true))
            free (batch[i - 1].id);     /* out of memory: a restart finds it */
        batch[i - 1].id = NULL;
    }
}

size_t
orch_dispatch_run (orch_t *orch)
{
    orch_dispatch_t *self = orch->dispatch;
    /*  A batch recorded and not sent yet holds no lease: its credit is not
        counted until it has gone (orch_dispatch_flush).                    */
    if (self->pending_count)
        return 0;
    int64_t credit = orch_dispatch_credit (orch);
    if (credit <= 0 || self->count == 0 || orch->stopping)
        return 0;
    int events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt (orch->tasks, ZMQ_EVENTS, &events, &len) || !(events & ZMQ_POLLOUT))
        return 0;                       /* no worker connected */

    s_pending_t *batch = self->pending;
    size_t n = 0;
    int64_t now = orch_now_ms ();
    if (orch_store_begin (orch->store))
        return 0;
    while (n < BATCH_MAX && (int64_t) n < credit && self->count > 0) {
        char *id = s_pop (self);
        if (s_was_forgotten (self, id)) {
            free (id);
            continue;
        }
        orch_record_t *rec = NULL;
        int found = orch_store_get (orch->store, id, false, &rec);
        if (found < 0) {
            s_push (self, id, true);    /* try again on the next turn */
            break;
        }
        if (found == 0 || rec->view.status != PROTO_STATUS_QUEUED) {
            /*  Gone or moved on (e.g. finished by a late result): drop.    */
            orch_record_destroy (&rec);
            free (id);
            continue;
        }
        uint32_t attempt = rec->view.attempt + 1;
        s_pending_t *p = &batch[n];
        p->id = id;
        p->attempt = attempt;
        if (s_frame (rec, attempt, &p->frame, &p->size)
            || orch_store_set_dispatched (orch->store, id, attempt, now) != 1) {
            char quoted[128];
            log_event (CLOG_ERROR, "dispatch_failed", "id=%s attempt=%u reason=%s", id,
                       attempt, log_quote (quoted, sizeof quoted, "cannot encode or record",
                                           23));
            free (p->frame);
            free (id);
            orch_record_destroy (&rec);
            continue;
        }
        orch_record_destroy (&rec);
        n++;
    }
    self->pending_count = n;
    int rc = orch_store_commit (orch->store);
    if (orch_store_in_transaction (orch->store))
        return n;                       /* the outer batch sends them */
    return orch_dispatch_flush (orch, rc == 0);
}

size_t
orch_dispatch_flush (orch_t *orch, bool committed)
{
    orch_dispatch_t *self = orch->dispatch;
    s_pending_t *batch = self->pending;
    size_t n = self->pending_count;
    self->pending_count = 0;
    if (n == 0)
        return 0;
    if (!committed) {
        /*  Nothing was recorded: nothing may be sent.                      */
        for (size_t i = 0; i < n; i++)
            free (batch[i].frame);
        s_requeue_front (self, batch, 0, n);
        return 0;
    }
    size_t sent = 0;
    int64_t mono = orch_mono_ms ();
    for (; sent < n; sent++) {
        s_pending_t *p = &batch[sent];
        if (zmq_send (orch->tasks, p->frame, p->size, ZMQ_DONTWAIT) < 0)
            break;
        orch_leases_dispatched (orch->leases, p->id, p->attempt, mono, true);
        log_event (CLOG_INFO, "task_dispatched", "id=%s attempt=%u", p->id, p->attempt);
    }
    if (sent < n) {
        log_event (CLOG_WARN, "dispatch_blocked", "unsent=%zu errno=%d", n - sent, errno);
        orch_store_begin (orch->store);
        for (size_t i = sent; i < n; i++)
            orch_store_undo_dispatched (orch->store, batch[i].id, batch[i].attempt);
        orch_store_commit (orch->store);
        s_requeue_front (self, batch, sent, n);
    }
    for (size_t i = 0; i < n; i++) {
        free (batch[i].frame);
        free (batch[i].id);
        batch[i].frame = NULL;
        batch[i].id = NULL;
    }
    return sent;
}
