/*  events.c - a ring of recent events and the subscribers to wake.        */
#include "events.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t id;                        /* 0: never used */
    char name[16];
    char *data;                         /* compact JSON */
} event_t;

struct orch_events_sub_t {
    orch_events_wake_fn *fn;
    void *arg;
    orch_events_sub_t *next;
};

struct orch_events_t {
    event_t *ring;
    size_t keep;
    uint64_t first_id;                  /* id of the first event ever */
    uint64_t last_id;                   /* newest, first_id - 1 when none */
    orch_events_sub_t *subs;
    size_t sub_count;
};

orch_events_t *
orch_events_new (size_t keep, uint64_t first_id)
{
    orch_events_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->keep = keep ? keep : 1;
    self->ring = calloc (self->keep, sizeof *self->ring);
    if (!self->ring) {
        free (self);
        return NULL;
    }
    self->first_id = first_id ? first_id : 1;
    self->last_id = self->first_id - 1;
    return self;
}

void
orch_events_destroy (orch_events_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orch_events_t *self = *self_p;
    for (size_t i = 0; i < self->keep; i++)
        free (self->ring[i].data);
    while (self->subs) {
        orch_events_sub_t *next = self->subs->next;
        free (self->subs);
        self->subs = next;
    }
    free (self->ring);
    free (self);
    *self_p = NULL;
}

uint64_t
orch_events_publish (orch_events_t *self, const char *name, json_t *data)
{
    char *text = data ? json_dumps (data, JSON_COMPACT) : NULL;
    json_decref (data);
    uint64_t id = ++self->last_id;
    event_t *e = &self->ring[id % self->keep];
    free (e->data);
    e->id = id;
    e->data = text;
    if (!text) {
        /*  Keep the id used: readers past it see a gap and reload.         */
        e->id = 0;
        id = 0;
    }
    strncpy (e->name, name, sizeof e->name - 1);
    e->name[sizeof e->name - 1] = '\0';
    for (orch_events_sub_t *s = self->subs; s; s = s->next)
        s->fn (s->arg);
    return id;
}

int
orch_events_next (const orch_events_t *self, uint64_t after, uint64_t *id, const char **name,
                  const char **data)
{
    if (after >= self->last_id)
        return after == self->last_id ? 0 : -1;
    if (after + 1 < self->first_id)
        return -1;
    const event_t *e = &self->ring[(after + 1) % self->keep];
    if (e->id != after + 1)
        return -1;                      /* overwritten, or lost */
    *id = e->id;
    *name = e->name;
    *data = e->data;
    return 1;
}

uint64_t
orch_events_last (const orch_events_t *self)
{
    return self->last_id;
}

orch_events_sub_t *
orch_events_subscribe (orch_events_t *self, orch_events_wake_fn *fn, void *arg)
{
    orch_events_sub_t *sub = calloc (1, sizeof *sub);
    if (!sub)
        return NULL;
    sub->fn = fn;
    sub->arg = arg;
    sub->next = self->subs;
    self->subs = sub;
    self->sub_count++;
    return sub;
}

void
orch_events_unsubscribe (orch_events_t *self, orch_events_sub_t **sub_p)
{
    if (!sub_p || !*sub_p)
        return;
    for (orch_events_sub_t **at = &self->subs; *at; at = &(*at)->next)
        if (*at == *sub_p) {
            *at = (*sub_p)->next;
            self->sub_count--;
            break;
        }
    free (*sub_p);
    *sub_p = NULL;
}

size_t
orch_events_subscribers (const orch_events_t *self)
{
    return self->sub_count;
}
