/*  control.h - what the orchestrator says to every worker on the control
    socket (PUB, bound): "ack" for results it has recorded and "cancel" for
    runs that must stop.

    Acks are collected while a batch of results is handled and sent as one
    frame AFTER the batch's commit (orch_control_flush): a worker stops
    re-sending a result only once it is on disk. A failed commit drops the
    batch's acks, and the workers send those results again.

    PUB drops frames for a subscriber that is not connected (yet) or not
    reading; nothing here relies on one frame arriving. A lost ack costs
    one re-send; a lost cancel is sent again while the run is seen (see
    recovery.c).

    NULL socket (unit tests): everything is counted and nothing is sent.
*/
#ifndef ORCH_CONTROL_H_INCLUDED
#define ORCH_CONTROL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct orch_control_t orch_control_t;

/*  socket: the bound PUB (not owned), or NULL.                             */
orch_control_t *orch_control_new (void *socket);
void orch_control_destroy (orch_control_t **self_p);
void *orch_control_socket (orch_control_t *self);

/*  Remember to ack the result of attempt of id (sent at the next flush).  */
void orch_control_ack (orch_control_t *self, const char *id, uint32_t attempt);
/*  Send the acks collected (send true: the batch committed) or drop them.
    Returns how many acks were sent.                                        */
size_t orch_control_flush (orch_control_t *self, bool send);

/*  Tell workers to stop task id now. attempt 0: whatever attempt; worker
    NULL: whichever worker runs it.                                         */
void orch_control_cancel (orch_control_t *self, const char *id, uint32_t attempt,
                          const char *worker);

/*  Frames sent so far, by kind (for logs and tests).                       */
uint64_t orch_control_acks_sent (const orch_control_t *self);
uint64_t orch_control_cancels_sent (const orch_control_t *self);

#endif
