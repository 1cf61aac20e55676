/*  events.h - the recent history of task and worker changes (for SSE).

    Every change gets an id one above the previous one and goes into a
    ring of the last `keep` events, so that a client reconnecting with
    Last-Event-ID gets exactly what it missed. Ids start at the boot time in
    microseconds: a Last-Event-ID from an earlier run of the orchestrator
    is older than anything kept, and the client is told to reload (a gap)
    rather than silently given a partial history.

    Subscribers are woken (their function called) after every publish; they
    read at their own pace with orch_events_read.
*/
#ifndef ORCH_EVENTS_H_INCLUDED
#define ORCH_EVENTS_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct orch_events_t orch_events_t;
typedef struct orch_events_sub_t orch_events_sub_t;
typedef void (orch_events_wake_fn) (void *arg);

orch_events_t *orch_events_new (size_t keep, uint64_t first_id);
void orch_events_destroy (orch_events_t **self_p);

/*  Append an event named name ("task", "worker") with data (stolen; its
    compact JSON is kept) and wake every subscriber. Returns its id, 0 when
    out of memory (the event is lost, the subscribers see a gap).          */
uint64_t orch_events_publish (orch_events_t *self, const char *name, json_t *data);

/*  The event after id `after`: 1 with *id, *name and *data (valid until the
    next publish), 0 none yet, -1 a gap: `after` is older than the oldest
    event kept (or newer than the newest: from another run).               */
int orch_events_next (const orch_events_t *self, uint64_t after, uint64_t *id,
                      const char **name, const char **data);

/*  The id of the newest event (first_id - 1 before any).                  */
uint64_t orch_events_last (const orch_events_t *self);

orch_events_sub_t *orch_events_subscribe (orch_events_t *self, orch_events_wake_fn *fn,
                                          void *arg);
void orch_events_unsubscribe (orch_events_t *self, orch_events_sub_t **sub_p);
size_t orch_events_subscribers (const orch_events_t *self);

#endif
