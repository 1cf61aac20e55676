/*  leases.c - id -> lease, with counters kept as the table changes.       */
#include "leases.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

struct orch_leases_t {
    zhashx_t *table;                    /* id -> orch_lease_t (owned) */
    size_t outstanding;                 /* dispatched, holding credit */
    size_t waiting;                     /* dispatched */
};

static void
s_lease_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

orch_leases_t *
orch_leases_new (void)
{
    orch_leases_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->table = zhashx_new ();
    if (!self->table) {
        free (self);
        return NULL;
    }
    zhashx_set_destructor (self->table, s_lease_destroy);
    return self;
}

void
orch_leases_destroy (orch_leases_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy (&(*self_p)->table);
    free (*self_p);
    *self_p = NULL;
}

orch_lease_t *
orch_leases_get (orch_leases_t *self, const char *id)
{
    return zhashx_lookup (self->table, id);
}

/*  Take a lease out of the counters (before it changes or goes).          */
static void
s_uncount (orch_leases_t *self, const orch_lease_t *lease)
{
    if (!lease->running) {
        self->waiting--;
        if (lease->credit)
            self->outstanding--;
    }
}

static void
s_count (orch_leases_t *self, const orch_lease_t *lease)
{
    if (!lease->running) {
        self->waiting++;
        if (lease->credit)
            self->outstanding++;
    }
}

/*  The lease of id, made empty (new or reused); NULL when out of memory.  */
static orch_lease_t *
s_fresh (orch_leases_t *self, const char *id)
{
    orch_lease_t *lease = zhashx_lookup (self->table, id);
    if (lease) {
        s_uncount (self, lease);
        memset (lease, 0, sizeof *lease);
    }
    else {
        lease = calloc (1, sizeof *lease);
        if (!lease)
            return NULL;
        snprintf (lease->id, sizeof lease->id, "%s", id);
        if (zhashx_insert (self->table, lease->id, lease)) {
            free (lease);
            return NULL;
        }
    }
    snprintf (lease->id, sizeof lease->id, "%s", id);
    return lease;
}

orch_lease_t *
orch_leases_dispatched (orch_leases_t *self, const char *id, uint32_t attempt, int64_t mono,
                        bool credit)
{
    orch_lease_t *lease = s_fresh (self, id);
    if (!lease)
        return NULL;
    lease->attempt = attempt;
    lease->since = lease->claimed = mono;
    lease->credit = credit;
    s_count (self, lease);
    return lease;
}

orch_lease_t *
orch_leases_running (orch_leases_t *self, const char *id, uint32_t attempt, const char *worker,
                     int64_t mono)
{
    /*  A cancel asked while it was dispatched carries over.               */
    orch_lease_t *old = zhashx_lookup (self->table, id);
    int64_t cancel = old ? old->cancel : 0;
    orch_lease_t *lease = s_fresh (self, id);
    if (!lease)
        return NULL;
    lease->attempt = attempt;
    lease->running = true;
    snprintf (lease->worker, sizeof lease->worker, "%s", worker);
    lease->since = lease->claimed = mono;
    lease->cancel = cancel;
    return lease;
}

void
orch_leases_remove (orch_leases_t *self, const char *id)
{
    orch_lease_t *lease = zhashx_lookup (self->table, id);
    if (!lease)
        return;
    s_uncount (self, lease);
    char key[PROTO_ID_MAX + 1];
    snprintf (key, sizeof key, "%s", id);
    zhashx_delete (self->table, key);
}

size_t
orch_leases_count (const orch_leases_t *self)
{
    return zhashx_size (self->table);
}

size_t
orch_leases_outstanding (const orch_leases_t *self)
{
    return self->outstanding;
}

size_t
orch_leases_waiting (const orch_leases_t *self)
{
    return self->waiting;
}

size_t
orch_leases_select (orch_leases_t *self, orch_lease_want_fn *want, void *arg, size_t max,
                    orch_lease_t **out)
{
    *out = NULL;
    size_t n = 0, cap = 0;
    for (orch_lease_t *lease = zhashx_first (self->table); lease && n < max;
         lease = zhashx_next (self->table)) {
        if (!want (lease, arg))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            orch_lease_t *grown = realloc (*out, cap * sizeof *grown);
            if (!grown)
                break;
            *out = grown;
        }
        (*out)[n++] = *lease;
    }
    return n;
}
