/*  recovery.h - what becomes of the tasks in flight when something goes
    wrong: a lease expires, a worker dies or leaves, the orchestrator
    restarts, a worker reports a run nobody expects.

    The rules (leases.h has the clocks):
      * A dispatched task that no worker started within ORCH_DISPATCH_LEASE
        goes back to the front of the queue. It never ran, so this costs
        no attempt; a task sent max (10, 3 x ORCH_MAX_ATTEMPTS) times
        without ever starting ends "lost" (its frame cannot reach a
        worker, e.g. it is larger than every worker accepts).
      * A running task whose worker died (silent for ORCH_WORKER_TIMEOUT),
        or stopped claiming it in heartbeats for as long, has lost a run:
        it goes back to the queue, or ends "lost" when ORCH_MAX_ATTEMPTS
        runs were lost so (the reason is in its "error").
      * A worker that says "bye" (graceful shutdown) gives its remaining
        tasks back at once; that costs no attempt.
      * A task with a cancel request whose run is given up ends
        "cancelled" instead.
      * At start, dispatched and running tasks from the database get fresh
        leases: the workers' heartbeats claim what they still run within
        the grace (the lease / worker timeout); what nobody claims is
        handled as above. So no task stays in flight forever.
      * Heartbeats reconcile: a run of a task that is finished, unknown, or
        running elsewhere is cancelled at its worker; a task a worker runs
        that we have as dispatched (its "started" was lost) or as queued
        with that very attempt (given up too early) is claimed back.
*/
#ifndef ORCH_RECOVERY_H_INCLUDED
#define ORCH_RECOVERY_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "orch.h"
#include "proto.h"

/*  Leases for the tasks the database has in flight (at start). 0 or -1.   */
int orch_recovery_rebuild (orch_t *orch, int64_t mono);

/*  Give up expired leases; finalize cancels nobody confirmed (cron).       */
void orch_recovery_cron (orch_t *orch, int64_t mono);

/*  Worker is gone: its running tasks are given back. lost_run: it died
    (counts toward ORCH_MAX_ATTEMPTS), else it left with "bye".            */
void orch_recovery_worker_gone (orch_t *orch, const char *worker, const char *reason,
                                bool lost_run);

/*  A heartbeat's running list (inside the caller's batch).                 */
void orch_recovery_heartbeat (orch_t *orch, const proto_heartbeat_t *hb, int64_t mono);

/*  Hand a lease-less task that is no longer wanted at worker (attempt 0:
    any) a cancel, and log why.                                             */
void orch_recovery_unwanted (orch_t *orch, const char *id, uint32_t attempt,
                             const char *worker, const char *why);

#endif
