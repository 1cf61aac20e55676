/*  outbox.c - one list in order of arrival: results kept until acked,
    "once" frames until sent.                                               */
#include "outbox.h"
#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry_t {
    struct entry_t *prev, *next;        /* in order of arrival */
    bool result;                        /* kept until acked, else once */
    bool sent;                          /* left at least once */
    char id[PROTO_ID_MAX + 1];          /* result: its task */
    uint32_t attempt;                   /* result: its attempt */
    uint8_t *frame;                     /* encoded msgpack, owned */
    size_t size;                        /* its bytes */
    int64_t due;                        /* result: next re-send */
    int64_t gap;                        /* result: current re-send gap */
} entry_t;

struct sbx_outbox_t {
    entry_t *head, *tail;               /* oldest, newest */
    size_t count;                       /* entries */
    size_t unsent;                      /* entries never sent */
    size_t results;                     /* result entries */
    size_t bytes;                       /* frame bytes of result entries */
    size_t max_results;                 /* bounds */
    size_t max_bytes;
    int64_t resend_ms;                  /* first re-send gap */
    uint64_t resends;                   /* sends beyond the first */
};

sbx_outbox_t *
sbx_outbox_new (size_t max_results, size_t max_bytes, int64_t resend_ms)
{
    sbx_outbox_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->max_results = max_results ? max_results : 1;
    self->max_bytes = max_bytes ? max_bytes : 1;
    self->resend_ms = resend_ms > 0 ? resend_ms : 1000;
    return self;
}

static void
s_unlink (sbx_outbox_t *self, entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        self->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        self->tail = e->prev;
    self->count--;
    if (!e->sent)
        self->unsent--;
    if (e->result) {
        self->results--;
        self->bytes -= e->size;
    }
    free (e->frame);
    free (e);
}

void
sbx_outbox_destroy (sbx_outbox_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sbx_outbox_t *self = *self_p;
    while (self->head)
        s_unlink (self, self->head);
    free (self);
    *self_p = NULL;
}

static int
s_append (sbx_outbox_t *self, bool result, const char *id, uint32_t attempt, uint8_t *frame,
          size_t size)
{
    entry_t *e = calloc (1, sizeof *e);
    if (!e) {
        free (frame);
        return -1;
    }
    e->result = result;
    if (id)
        snprintf (e->id, sizeof e->id, "%s", id);
    e->attempt = attempt;
    e->frame = frame;
    e->size = size;
    e->gap = self->resend_ms;
    e->prev = self->tail;
    if (self->tail)
        self->tail->next = e;
    else
        self->head = e;
    self->tail = e;
    self->count++;
    self->unsent++;
    if (result) {
        self->results++;
        self->bytes += size;
    }
    return 0;
}

int
sbx_outbox_add_result (sbx_outbox_t *self, const char *id, uint32_t attempt, uint8_t *frame,
                       size_t size)
{
    return s_append (self, true, id, attempt, frame, size);
}

int
sbx_outbox_add_once (sbx_outbox_t *self, uint8_t *frame, size_t size)
{
    return s_append (self, false, NULL, 0, frame, size);
}

size_t
sbx_outbox_ack (sbx_outbox_t *self, const char *id, uint32_t attempt)
{
    size_t n = 0;
    entry_t *e = self->head;
    while (e) {
        entry_t *next = e->next;
        if (e->result && strcmp (e->id, id) == 0 && (!attempt || e->attempt == attempt)) {
            s_unlink (self, e);
            n++;
        }
        e = next;
    }
    return n;
}

size_t
sbx_outbox_flush (sbx_outbox_t *self, sbx_send_fn *send, void *arg, int64_t now, bool resend)
{
    size_t sent = 0;
    /*  First what never left, strictly in order: a "started" must not be
        overtaken by its own "result".                                      */
    entry_t *e = self->head;
    while (e && self->unsent) {
        entry_t *next = e->next;
        if (!e->sent) {
            if (send (arg, e->frame, e->size))
                return sent;
            sent++;
            if (!e->result)
                s_unlink (self, e);
            else {
                e->sent = true;
                self->unsent--;
                e->due = now + e->gap;
            }
        }
        e = next;
    }
    if (!resend)
        return sent;
    for (e = self->head; e; e = e->next) {
        if (!e->result || !e->sent || e->due > now)
            continue;
        if (send (arg, e->frame, e->size))
            break;
        sent++;
        self->resends++;
        e->gap = e->gap * 2 > SBX_OUTBOX_RESEND_MAX_MS ? SBX_OUTBOX_RESEND_MAX_MS : e->gap * 2;
        e->due = now + e->gap;
    }
    return sent;
}

void
sbx_outbox_resend_all (sbx_outbox_t *self, int64_t now)
{
    for (entry_t *e = self->head; e; e = e->next)
        if (e->result) {
            e->due = now;
            e->gap = self->resend_ms;
        }
}

bool
sbx_outbox_pending (const sbx_outbox_t *self)
{
    return self->unsent > 0;
}

int64_t
sbx_outbox_next_resend (const sbx_outbox_t *self)
{
    int64_t next = -1;
    for (const entry_t *e = self->head; e; e = e->next)
        if (e->result && e->sent && (next < 0 || e->due < next))
            next = e->due;
    return next;
}

size_t
sbx_outbox_results (const sbx_outbox_t *self)
{
    return self->results;
}

size_t
sbx_outbox_bytes (const sbx_outbox_t *self)
{
    return self->bytes;
}

size_t
sbx_outbox_count (const sbx_outbox_t *self)
{
    return self->count;
}

bool
sbx_outbox_full (const sbx_outbox_t *self)
{
    return self->results >= self->max_results || self->bytes >= self->max_bytes;
}

uint64_t
sbx_outbox_resends (const sbx_outbox_t *self)
{
    return self->resends;
}
