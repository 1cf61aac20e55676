/*  waiters.c - waiters indexed by task id, scanned for deadlines.

    Every waiter is on one global list (for the deadline scan in cron,
    bounded by the waiter limit) and on its task's chain (hash by id) so
    that a finished task wakes its waiters without a scan.
*/
#include "waiters.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

struct orch_waiter_t {
    char id[PROTO_ID_MAX + 1];          /* task waited for */
    int64_t deadline;                   /* monotonic ms */
    orch_waiter_fn *fn;                 /* called once */
    void *arg;                          /* for fn */
    orch_waiter_t *prev, *next;         /* global list */
    orch_waiter_t *chain_next;          /* same task, singly linked */
};

struct orch_waiters_t {
    orch_waiter_t *head;                /* global list */
    size_t count;
    size_t max;
    zhashx_t *by_id;                    /* id -> first waiter of the chain */
    char (*deferred)[PROTO_ID_MAX + 1]; /* finished, not yet committed */
    size_t deferred_count;
    size_t deferred_cap;
};

orch_waiters_t *
orch_waiters_new (size_t max)
{
    orch_waiters_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->max = max;
    self->by_id = zhashx_new ();
    if (!self->by_id) {
        free (self);
        return NULL;
    }
    return self;
}

void
orch_waiters_destroy (orch_waiters_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orch_waiters_t *self = *self_p;
    orch_waiter_t *w = self->head;
    while (w) {
        orch_waiter_t *next = w->next;
        free (w);
        w = next;
    }
    zhashx_destroy (&self->by_id);
    free (self->deferred);
    free (self);
    *self_p = NULL;
}

bool
orch_waiters_full (const orch_waiters_t *self)
{
    return self->count >= self->max;
}

size_t
orch_waiters_count (const orch_waiters_t *self)
{
    return self->count;
}

orch_waiter_t *
orch_waiters_add (orch_waiters_t *self, const char *id, int64_t deadline_mono,
                  orch_waiter_fn *fn, void *arg)
{
    if (self->count >= self->max)
        return NULL;
    orch_waiter_t *w = calloc (1, sizeof *w);
    if (!w)
        return NULL;
    snprintf (w->id, sizeof w->id, "%s", id);
    w->deadline = deadline_mono;
    w->fn = fn;
    w->arg = arg;
    orch_waiter_t *first = zhashx_lookup (self->by_id, w->id);
    w->chain_next = first;
    if (first)
        zhashx_update (self->by_id, w->id, w);
    else if (zhashx_insert (self->by_id, w->id, w)) {
        free (w);
        return NULL;
    }
    w->next = self->head;
    if (self->head)
        self->head->prev = w;
    self->head = w;
    self->count++;
    return w;
}

/*  Take w off both lists (does not free).                                  */
static void
s_unlink (orch_waiters_t *self, orch_waiter_t *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        self->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    orch_waiter_t *first = zhashx_lookup (self->by_id, w->id);
    if (first == w) {
        if (w->chain_next)
            zhashx_update (self->by_id, w->id, w->chain_next);
        else
            zhashx_delete (self->by_id, w->id);
    }
    else
        for (orch_waiter_t *c = first; c; c = c->chain_next)
            if (c->chain_next == w) {
                c->chain_next = w->chain_next;
                break;
            }
    w->chain_next = NULL;
    self->count--;
}

void
orch_waiters_cancel (orch_waiters_t *self, orch_waiter_t *w)
{
    if (!w)
        return;
    s_unlink (self, w);
    free (w);
}

/*  Call and free a detached waiter. The callback may add new waiters.      */
static void
s_wake (orch_waiter_t *w, orch_wake_t why)
{
    char id[PROTO_ID_MAX + 1];
    snprintf (id, sizeof id, "%s", w->id);
    orch_waiter_fn *fn = w->fn;
    void *arg = w->arg;
    free (w);
    fn (arg, id, why);
}

size_t
orch_waiters_fire (orch_waiters_t *self, const char *id)
{
    /*  Detach the whole chain before calling anyone (see expire).          */
    orch_waiter_t *due = NULL;
    orch_waiter_t *w;
    while ((w = zhashx_lookup (self->by_id, id))) {
        s_unlink (self, w);
        w->next = due;
        due = w;
    }
    size_t n = 0;
    while (due) {
        orch_waiter_t *next = due->next;
        s_wake (due, ORCH_WAKE_TERMINAL);
        due = next;
        n++;
    }
    return n;
}

size_t
orch_waiters_expire (orch_waiters_t *self, int64_t now_mono)
{
    /*  Detach the expired ones first, then call them, so callbacks that
        park new waiters cannot disturb the walk.                           */
    orch_waiter_t *due = NULL;
    orch_waiter_t *w = self->head;
    while (w) {
        orch_waiter_t *next = w->next;
        if (w->deadline <= now_mono) {
            s_unlink (self, w);
            w->next = due;
            due = w;
        }
        w = next;
    }
    size_t n = 0;
    while (due) {
        orch_waiter_t *next = due->next;
        s_wake (due, ORCH_WAKE_TIMEOUT);
        due = next;
        n++;
    }
    return n;
}

size_t
orch_waiters_fire_all (orch_waiters_t *self)
{
    size_t n = 0;
    while (self->head) {
        orch_waiter_t *w = self->head;
        s_unlink (self, w);
        s_wake (w, ORCH_WAKE_SHUTDOWN);
        n++;
    }
    return n;
}

void
orch_waiters_defer (orch_waiters_t *self, const char *id)
{
    if (!zhashx_lookup (self->by_id, id))
        return;                         /* nobody waits: nothing to do */
    if (self->deferred_count == self->deferred_cap) {
        size_t cap = self->deferred_cap ? self->deferred_cap * 2 : 16;
        char (*grown)[PROTO_ID_MAX + 1] = realloc (self->deferred, cap * sizeof *grown);
        if (!grown)
            return;                     /* they wake at their deadline */
        self->deferred = grown;
        self->deferred_cap = cap;
    }
    snprintf (self->deferred[self->deferred_count++], PROTO_ID_MAX + 1, "%s", id);
}

size_t
orch_waiters_flush_deferred (orch_waiters_t *self, bool fire)
{
    size_t n = 0;
    for (size_t i = 0; fire && i < self->deferred_count; i++)
        n += orch_waiters_fire (self, self->deferred[i]);
    self->deferred_count = 0;
    return n;
}
