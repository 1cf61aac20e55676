/*  cancel.c - cancellation requested by a client.                          */
#include "cancel.h"
#include "control.h"
#include "dispatch.h"
#include "leases.h"
#include "log.h"
#include "store.h"

#include <stdio.h>
#include <string.h>

int
orch_cancel (orch_t *orch, const char *id, orch_cancel_t *outcome, orch_err_t *err)
{
    orch_task_state_t st;
    int found = orch_store_lookup (orch->store, id, &st);
    if (found < 0)
        return orch_err (err, 500, "internal", NULL, "cannot read task %s", id);
    if (found == 0)
        return orch_err (err, 404, "not_found", NULL, "no task with id %s", id);
    if (proto_status_is_terminal (st.status))
        return orch_err (err, 409, "conflict", NULL, "task %s has already finished (%s)", id,
                         proto_status_name (st.status));
    int64_t now = orch_now_ms ();
    int rc;
    if (orch_batch_begin (orch))
        return orch_err (err, 500, "internal", NULL, "cannot cancel task %s", id);
    if (st.status == PROTO_STATUS_RUNNING) {
        rc = orch_store_cancel_requested (orch->store, id, st.attempt, st.worker, now);
        orch_lease_t *lease = orch_leases_get (orch->leases, id);
        if (rc >= 0 && lease) {
            if (!lease->cancel)
                lease->cancel = orch_mono_ms ();
            lease->cancel_sent = orch_mono_ms ();
        }
        *outcome = ORCH_CANCEL_PENDING;
    }
    else {
        const char *why = st.status == PROTO_STATUS_QUEUED ? "cancelled while queued"
                                                           : "cancelled before it started";
        rc = orch_store_finish (orch->store, id, 0, PROTO_STATUS_CANCELLED, NULL, why, now);
        if (rc == 1) {
            if (st.status == PROTO_STATUS_QUEUED)
                orch_dispatch_forget (orch->dispatch, id);
            orch_leases_remove (orch->leases, id);
            orch_batch_finished (orch, id);
        }
        *outcome = ORCH_CANCEL_DONE;
    }
    if (orch_batch_commit (orch) || rc < 0)
        return orch_err (err, 500, "internal", NULL, "cannot cancel task %s", id);
    /*  After the commit: a worker that acts on it finds the decision made. */
    if (st.status != PROTO_STATUS_QUEUED)
        orch_control_cancel (orch->control, id, st.attempt,
                             st.status == PROTO_STATUS_RUNNING ? st.worker : NULL);
    log_event (CLOG_INFO, *outcome == ORCH_CANCEL_DONE ? "task_cancelled" : "cancel_requested",
               "id=%s attempt=%u was=%s", id, st.attempt, proto_status_name (st.status));
    return 0;
}
