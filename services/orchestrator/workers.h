/*  workers.h - the table of live sandbox workers and the credit they give.

    A worker is known from its first "hello" or "heartbeat" and forgotten
    when it has been silent for ORCH_WORKER_TIMEOUT. Each worker's free
    slot count is the value from its last hello/heartbeat, minus one for
    every "started" it sends, plus one for every "result" for a task that
    was running on it. Frames from one worker arrive in order on the results
    socket, so the count stays consistent with what the worker itself knew
    when it sent them. Dispatch uses the sum over live workers (credit.c's
    rule lives in dispatch.c: credit = free - dispatched-not-started).

    Each worker also keeps the set of task ids running on it (from
    heartbeats, started and result frames), shown to the death callback.
    What is given back when a worker dies is decided from the leases
    (recovery.h), which also survive the worker table across restarts.
*/
#ifndef ORCH_WORKERS_H_INCLUDED
#define ORCH_WORKERS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orch.h"
#include "proto.h"

/*  What the expiry callback sees of a worker that just died.               */
typedef struct {
    const char *worker;                 /* its id */
    int64_t silent_ms;                  /* time since its last frame */
    const char *const *running;         /* task ids it was running */
    size_t running_count;
    uint64_t tasks_done;
} orch_dead_worker_t;

typedef void (orch_worker_dead_fn) (void *arg, const orch_dead_worker_t *dead);

orch_workers_t *orch_workers_new (size_t max_workers);
void orch_workers_destroy (orch_workers_t **self_p);

/*  1: the worker joined now, 0: known already, -1: table full (ignored).
    now_ms is Unix time (shown to clients), mono for the timeout.           */
int orch_workers_hello (orch_workers_t *self, const proto_hello_t *hello,
                        int64_t now_ms, int64_t mono);
/*  False when worker sends heartbeats faster than any real one does (a
    flood): that heartbeat is to be ignored. Unknown workers: true.       */
bool orch_workers_heartbeat_allowed (orch_workers_t *self, const char *worker, int64_t mono);
int orch_workers_heartbeat (orch_workers_t *self, const proto_heartbeat_t *hb,
                            int64_t now_ms, int64_t mono);

/*  A "started" from worker for task id: one slot fewer. Returns false when
    the worker is unknown (its next heartbeat will introduce it).          */
bool orch_workers_started (orch_workers_t *self, const char *worker, const char *id,
                           int64_t now_ms, int64_t mono);

/*  A "result" from worker for task id: one slot more when the task was
    running on it; applied: the result was recorded (tasks_done++).
    Returns whether the task was in the worker's running set.               */
bool orch_workers_finished (orch_workers_t *self, const char *worker, const char *id,
                            bool applied, int64_t now_ms, int64_t mono);

/*  The worker is in the table (alive as far as we know).                   */
bool orch_workers_known (const orch_workers_t *self, const char *worker);
/*  The worker said "bye": forget it now. Returns whether it was known.    */
bool orch_workers_forget (orch_workers_t *self, const char *worker);

/*  Sum of free slots over live workers (may be negative transiently).     */
int64_t orch_workers_free (const orch_workers_t *self);
size_t orch_workers_count (const orch_workers_t *self);

/*  Forget workers silent for more than timeout_ms; fn (may be NULL) sees
    each before it goes. Returns how many died.                            */
size_t orch_workers_expire (orch_workers_t *self, int64_t mono, int64_t timeout_ms,
                            orch_worker_dead_fn *fn, void *arg);

/*  Views of every live worker for a "workers" reply, valid until the next
    call that changes the table. *items is malloc'd (free it). 0 or -1.    */
int orch_workers_list (orch_workers_t *self, proto_worker_info_t **items, size_t *count);

/*  The task ids running on worker (valid until the table changes).        */
size_t orch_workers_running (orch_workers_t *self, const char *worker,
                             const char *const **ids);
/*  Slots over all live workers.                                            */
uint64_t orch_workers_slots (const orch_workers_t *self);

#endif
