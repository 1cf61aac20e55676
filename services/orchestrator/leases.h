/*  leases.h - the tasks in flight and the clocks that decide when one is
    given up (recovery.c applies the rules; this is the table).

    Every task that is dispatched or running has exactly one lease:
      dispatched, attempt n: sent at `since`. No worker is known (PUSH
        picks one). It expires when no worker started it within
        ORCH_DISPATCH_LEASE: the frame was lost with a dead worker or a
        restarted orchestrator, or sits behind a busy worker.
      running on worker W: "claimed" whenever W says it runs it (its
        "started", then every heartbeat that lists it). It expires when W
        has not claimed it for ORCH_WORKER_TIMEOUT; it is given up at once
        when W is declared dead or says "bye".
    The dispatched leases this process created hold back credit (see
    dispatch.h); those rebuilt from the database after a restart do not:
    their frames are in doubt, and counting frames that may be gone could
    stall dispatch for the whole lease.

    Times are monotonic ms. Nothing here touches the database.
*/
#ifndef ORCH_LEASES_H_INCLUDED
#define ORCH_LEASES_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

typedef struct orch_leases_t orch_leases_t;

typedef struct {
    char id[PROTO_ID_MAX + 1];          /* the task */
    uint32_t attempt;                   /* the attempt in flight */
    bool running;                       /* started; else dispatched */
    char worker[PROTO_NAME_MAX + 1];    /* running: the worker, else "" */
    int64_t since;                      /* dispatched / started at */
    int64_t claimed;                    /* last sign that it runs */
    bool credit;                        /* held back from the credit */
    int64_t cancel;                     /* a client asked to cancel, 0: no */
    int64_t cancel_sent;                /* last control "cancel" for it */
} orch_lease_t;

orch_leases_t *orch_leases_new (void);
void orch_leases_destroy (orch_leases_t **self_p);

/*  The lease of task id, or NULL. Valid until the table changes.           */
orch_lease_t *orch_leases_get (orch_leases_t *self, const char *id);

/*  attempt of id was sent at mono (replaces any lease of id). credit: it
    holds back one slot of credit until it starts or ends. NULL when out
    of memory.                                                               */
orch_lease_t *orch_leases_dispatched (orch_leases_t *self, const char *id, uint32_t attempt,
                                      int64_t mono, bool credit);

/*  attempt of id runs on worker since mono (creates or replaces).          */
orch_lease_t *orch_leases_running (orch_leases_t *self, const char *id, uint32_t attempt,
                                   const char *worker, int64_t mono);

/*  The task left flight (finished, requeued, lost). Safe if unknown.      */
void orch_leases_remove (orch_leases_t *self, const char *id);

size_t orch_leases_count (const orch_leases_t *self);
/*  Dispatched leases that hold back credit.                                */
size_t orch_leases_outstanding (const orch_leases_t *self);
/*  All dispatched leases (credit or not): tasks waiting for a worker.     */
size_t orch_leases_waiting (const orch_leases_t *self);

/*  Copies of the leases for which want () is true (at most max): *out is
    malloc'd (free it). Returns how many. Copies, so the caller may change
    the table while it works through them.                                  */
typedef bool (orch_lease_want_fn) (const orch_lease_t *lease, void *arg);
size_t orch_leases_select (orch_leases_t *self, orch_lease_want_fn *want, void *arg,
                           size_t max, orch_lease_t **out);

#endif
