/*  outbox.c - FIFO of encoded frames waiting for the results socket.      */
#include "outbox.h"

#include <stdlib.h>

typedef struct entry_t {
    struct entry_t *next;               /* later frame */
    uint8_t *frame;                     /* encoded msgpack, owned */
    size_t size;                        /* its bytes */
} entry_t;

struct sbx_outbox_t {
    entry_t *head;                      /* oldest */
    entry_t *tail;                      /* newest */
    size_t count;                       /* entries */
};

sbx_outbox_t *
sbx_outbox_new (void)
{
    return calloc (1, sizeof (sbx_outbox_t));
}

void
sbx_outbox_destroy (sbx_outbox_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    entry_t *e = (*self_p)->head;
    while (e) {
        entry_t *next = e->next;
        free (e->frame);
        free (e);
        e = next;
    }
    free (*self_p);
    *self_p = NULL;
}

int
sbx_outbox_push (sbx_outbox_t *self, uint8_t *frame, size_t size)
{
    entry_t *e = malloc (sizeof *e);
    if (!e) {
        free (frame);
        return -1;
    }
    e->next = NULL;
    e->frame = frame;
    e->size = size;
    if (self->tail)
        self->tail->next = e;
    else
        self->head = e;
    self->tail = e;
    self->count++;
    return 0;
}

size_t
sbx_outbox_flush (sbx_outbox_t *self, int (*send) (void *arg, const uint8_t *frame, size_t size),
                  void *arg)
{
    while (self->head) {
        entry_t *e = self->head;
        if (send (arg, e->frame, e->size))
            break;
        self->head = e->next;
        if (!self->head)
            self->tail = NULL;
        self->count--;
        free (e->frame);
        free (e);
    }
    return self->count;
}

size_t
sbx_outbox_count (const sbx_outbox_t *self)
{
    return self->count;
}
