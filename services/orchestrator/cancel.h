/*  cancel.h - a client cancels a task (HTTP and the submit socket).

      queued      -> cancelled at once (it never ran)
      dispatched  -> cancelled at once; a control "cancel" goes to the
                     workers for the attempt in flight, and a "started"
                     that comes later is answered with another one
      running     -> the cancel is recorded (timeline: cancel_requested)
                     and a control "cancel" asks the worker to kill the
                     task's process group; its result, status "cancelled"
                     with the partial output, ends the task. The request
                     is repeated while the worker reports the task, and
                     if the worker vanishes or does not confirm within
                     ORCH_WORKER_TIMEOUT the task ends "cancelled" here.
      terminal    -> refused: 409 "conflict"
*/
#ifndef ORCH_CANCEL_H_INCLUDED
#define ORCH_CANCEL_H_INCLUDED

#include "orch.h"

typedef enum {
    ORCH_CANCEL_DONE = 1,               /* the task is cancelled now */
    ORCH_CANCEL_PENDING                 /* the worker is killing it */
} orch_cancel_t;

/*  Cancel task id. Returns 0 with *outcome, or -1 with err: 404 not_found,
    409 conflict (already terminal; the message names its status), 500.   */
int orch_cancel (orch_t *orch, const char *id, orch_cancel_t *outcome, orch_err_t *err);

#endif
