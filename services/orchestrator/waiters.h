/*  waiters.h - requests parked until a task is terminal or time is up.

    HTTP ?wait requests (suspended connections) and submit-socket "wait" /
    "submit" with wait_ms park here. A waiter is called exactly once: when
    its task reaches a terminal status (after the commit), when its deadline
    passes (cron), or at shutdown; it is then gone. The callback loads the
    task's current state itself. The number of waiters is bounded; beyond
    the bound, requests are answered "busy".
*/
#ifndef ORCH_WAITERS_H_INCLUDED
#define ORCH_WAITERS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orch.h"

typedef enum {
    ORCH_WAKE_TERMINAL,                 /* the task finished */
    ORCH_WAKE_TIMEOUT,                  /* the deadline passed */
    ORCH_WAKE_SHUTDOWN                  /* the orchestrator is stopping */
} orch_wake_t;

typedef void (orch_waiter_fn) (void *arg, const char *id, orch_wake_t why);
typedef struct orch_waiter_t orch_waiter_t;

orch_waiters_t *orch_waiters_new (size_t max);
void orch_waiters_destroy (orch_waiters_t **self_p);

/*  Park a waiter; NULL when the bound is reached (or out of memory).       */
orch_waiter_t *orch_waiters_add (orch_waiters_t *self, const char *id, int64_t deadline_mono,
                                 orch_waiter_fn *fn, void *arg);
bool orch_waiters_full (const orch_waiters_t *self);
size_t orch_waiters_count (const orch_waiters_t *self);

/*  Remove a waiter without calling it (its requester went away).           */
void orch_waiters_cancel (orch_waiters_t *self, orch_waiter_t *waiter);

/*  Wake every waiter of task id / whose deadline passed / all. Each
    returns how many were called.                                           */
size_t orch_waiters_fire (orch_waiters_t *self, const char *id);
size_t orch_waiters_expire (orch_waiters_t *self, int64_t now_mono);
size_t orch_waiters_fire_all (orch_waiters_t *self);

/*  Task id became terminal inside a transaction that is not committed
    yet: its waiters must hear of it only after the commit. flush_deferred
    wakes them (fire: the commit succeeded) or forgets them (it failed:
    they keep waiting). Returns how many waiters were woken.               */
void orch_waiters_defer (orch_waiters_t *self, const char *id);
size_t orch_waiters_flush_deferred (orch_waiters_t *self, bool fire);

#endif
