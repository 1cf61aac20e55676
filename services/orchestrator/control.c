/*  control.c - ack batches and cancels on the PUB socket.                  */
#include "control.h"
#include "log.h"
#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define ACK_FRAME_MAX 2000              /* ids per ack frame (well under
                                           PROTO_LIST_MAX and the frame cap) */

typedef struct {
    char id[PROTO_ID_MAX + 1];          /* acknowledged task */
    uint32_t attempt;                   /* the attempt whose result it was */
} s_ack_t;

struct orch_control_t {
    void *socket;                       /* PUB (not owned) or NULL */
    s_ack_t *acks;                      /* collected, not yet sent */
    size_t count;                       /* entries in acks */
    size_t cap;                         /* allocated entries */
    uint64_t acks_sent;                 /* ids acknowledged so far */
    uint64_t cancels_sent;              /* cancel frames sent so far */
};

orch_control_t *
orch_control_new (void *socket)
{
    orch_control_t *self = calloc (1, sizeof *self);
    if (self)
        self->socket = socket;
    return self;
}

void
orch_control_destroy (orch_control_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->acks);
    free (*self_p);
    *self_p = NULL;
}

void *
orch_control_socket (orch_control_t *self)
{
    return self ? self->socket : NULL;
}

void
orch_control_ack (orch_control_t *self, const char *id, uint32_t attempt)
{
    if (!self || attempt < 1)
        return;
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 64;
        s_ack_t *grown = realloc (self->acks, cap * sizeof *grown);
        if (!grown)
            return;                     /* the worker sends it again */
        self->acks = grown;
        self->cap = cap;
    }
    s_ack_t *a = &self->acks[self->count++];
    snprintf (a->id, sizeof a->id, "%s", id);
    a->attempt = attempt;
}

static void
s_send (orch_control_t *self, const proto_msg_t *msg)
{
    if (!self->socket)
        return;
    uint8_t *frame = NULL;
    size_t size = 0;
    if (proto_encode (msg, &frame, &size)) {
        log_event (CLOG_ERROR, "encode_failed", "type=%s", proto_type_name (msg->type));
        return;
    }
    /*  PUB never blocks: a subscriber that cannot keep up loses frames.   */
    if (zmq_send (self->socket, frame, size, ZMQ_DONTWAIT) < 0)
        log_event (CLOG_DEBUG, "control_dropped", "type=%s errno=%d",
                   proto_type_name (msg->type), zmq_errno ());
    free (frame);
}

size_t
orch_control_flush (orch_control_t *self, bool send)
{
    if (!self || self->count == 0)
        return 0;
    size_t sent = 0;
    if (send) {
        const char *ids[ACK_FRAME_MAX];
        uint32_t attempts[ACK_FRAME_MAX];
        for (size_t at = 0; at < self->count; ) {
            size_t n = 0;
            while (n < ACK_FRAME_MAX && at < self->count) {
                ids[n] = self->acks[at].id;
                attempts[n] = self->acks[at].attempt;
                n++;
                at++;
            }
            proto_msg_t msg = { .type = PROTO_ACK };
            msg.u.ack.ids = ids;
            msg.u.ack.id_count = n;
            msg.u.ack.attempts = attempts;
            s_send (self, &msg);
            sent += n;
        }
        self->acks_sent += sent;
    }
    self->count = 0;
    return sent;
}

void
orch_control_cancel (orch_control_t *self, const char *id, uint32_t attempt,
                     const char *worker)
{
    if (!self)
        return;
    proto_msg_t msg = { .type = PROTO_CANCEL };
    msg.u.cancel.id = id;
    msg.u.cancel.attempt = attempt;
    msg.u.cancel.worker = worker && *worker ? worker : NULL;
    s_send (self, &msg);
    self->cancels_sent++;
}

uint64_t
orch_control_acks_sent (const orch_control_t *self)
{
    return self ? self->acks_sent : 0;
}

uint64_t
orch_control_cancels_sent (const orch_control_t *self)
{
    return self ? self->cancels_sent : 0;
}
