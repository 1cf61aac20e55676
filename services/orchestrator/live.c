/*  live.c - per-task output buffers and their watchers.                   */
#include "live.h"
#include "strbuf.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint32_t attempt;
    strbuf_t data[2];                   /* stdout, stderr */
    uint64_t next_seq[2];
    bool stopped;                       /* gap or over a bound: no more */
} entry_t;

struct orch_live_watch_t {
    char id[PROTO_ID_MAX + 1];
    orch_live_fn *fn;
    void *arg;
    orch_live_watch_t *next;
};

struct orch_live_t {
    zhashx_t *entries;                  /* id -> entry_t */
    orch_live_watch_t *watches;         /* few: one per open stream */
    size_t cap;                         /* per stream */
    size_t budget;                      /* over everything */
    size_t bytes;                       /* buffered now */
};

static void
s_entry_free (orch_live_t *self, entry_t *e)
{
    for (int s = 0; s < 2; s++) {
        self->bytes -= e->data[s].len;
        strbuf_free (&e->data[s]);
    }
    free (e);
}

orch_live_t *
orch_live_new (size_t cap_per_stream, size_t budget)
{
    orch_live_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->entries = zhashx_new ();
    if (!self->entries) {
        free (self);
        return NULL;
    }
    self->cap = cap_per_stream;
    self->budget = budget;
    return self;
}

void
orch_live_destroy (orch_live_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orch_live_t *self = *self_p;
    for (entry_t *e = zhashx_first (self->entries); e; e = zhashx_next (self->entries))
        s_entry_free (self, e);
    zhashx_destroy (&self->entries);
    while (self->watches) {
        orch_live_watch_t *next = self->watches->next;
        free (self->watches);
        self->watches = next;
    }
    free (self);
    *self_p = NULL;
}

static void
s_drop (orch_live_t *self, const char *id)
{
    entry_t *e = zhashx_lookup (self->entries, id);
    if (e) {
        zhashx_delete (self->entries, id);
        s_entry_free (self, e);
    }
}

void
orch_live_started (orch_live_t *self, const char *id, uint32_t attempt)
{
    entry_t *e = zhashx_lookup (self->entries, id);
    if (e && e->attempt == attempt)
        return;
    s_drop (self, id);
    orch_live_notify (self, id);        /* a new attempt: output starts over */
}

int
orch_live_output (orch_live_t *self, const proto_output_t *out, const char **why)
{
    entry_t *e = zhashx_lookup (self->entries, out->id);
    if (e && out->attempt < e->attempt)
        return *why = "older attempt", 0;
    if (e && out->attempt > e->attempt) {
        s_drop (self, out->id);
        e = NULL;
    }
    if (!e) {
        e = calloc (1, sizeof *e);
        if (!e)
            return *why = "out of memory", 0;
        e->attempt = out->attempt;
        zhashx_insert (self->entries, out->id, e);
    }
    int s = out->stream == PROTO_STREAM_STDERR ? 1 : 0;
    if (e->stopped)
        return *why = "buffering stopped for this attempt", 0;
    /*  A gap would make what we hold no longer a prefix of the result.   */
    if (out->seq != e->next_seq[s]) {
        e->stopped = true;
        return *why = "sequence gap", 0;
    }
    if (e->data[s].len + out->data.size > self->cap
        || self->bytes + out->data.size > self->budget) {
        e->stopped = true;
        return *why = "over the live output bound", 0;
    }
    strbuf_append (&e->data[s], out->data.data, out->data.size);
    if (strbuf_failed (&e->data[s])) {
        e->stopped = true;
        return *why = "out of memory", 0;
    }
    self->bytes += out->data.size;
    e->next_seq[s]++;
    orch_live_notify (self, out->id);
    return 1;
}

bool
orch_live_peek (orch_live_t *self, const char *id, uint32_t *attempt, const uint8_t **out,
                size_t *out_len, const uint8_t **err, size_t *err_len)
{
    entry_t *e = zhashx_lookup (self->entries, id);
    if (!e)
        return false;
    *attempt = e->attempt;
    *out = (const uint8_t *) e->data[0].data;
    *out_len = e->data[0].len;
    *err = (const uint8_t *) e->data[1].data;
    *err_len = e->data[1].len;
    return true;
}

void
orch_live_end (orch_live_t *self, const char *id)
{
    s_drop (self, id);
    orch_live_notify (self, id);
}

orch_live_watch_t *
orch_live_watch (orch_live_t *self, const char *id, orch_live_fn *fn, void *arg)
{
    orch_live_watch_t *w = calloc (1, sizeof *w);
    if (!w)
        return NULL;
    snprintf (w->id, sizeof w->id, "%s", id);
    w->fn = fn;
    w->arg = arg;
    w->next = self->watches;
    self->watches = w;
    return w;
}

void
orch_live_unwatch (orch_live_t *self, orch_live_watch_t **watch_p)
{
    if (!watch_p || !*watch_p)
        return;
    for (orch_live_watch_t **at = &self->watches; *at; at = &(*at)->next)
        if (*at == *watch_p) {
            *at = (*watch_p)->next;
            break;
        }
    free (*watch_p);
    *watch_p = NULL;
}

void
orch_live_notify (orch_live_t *self, const char *id)
{
    /*  A watcher may unwatch itself from its function (a finished stream
        goes away): take the next one first.                               */
    for (orch_live_watch_t *w = self->watches, *next; w; w = next) {
        next = w->next;
        if (strcmp (w->id, id) == 0)
            w->fn (w->arg);
    }
}

size_t
orch_live_bytes (const orch_live_t *self)
{
    return self->bytes;
}

size_t
orch_live_tasks (const orch_live_t *self)
{
    return zhashx_size (self->entries);
}
