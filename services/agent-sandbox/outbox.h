/*  outbox.h - what the worker owes the orchestrator on the results socket.

    Results are kept until the orchestrator acknowledges them (control
    "ack", sent after its commit): PUSH/PULL acknowledges nothing, a frame
    in flight dies with a restarted orchestrator, and PUB/SUB loses an ack
    that finds our SUB not (yet) connected. So every kept result is sent
    again SANDBOX_RESEND after its last send, then after twice that, up to
    RESEND_MAX_MS between sends, and at once whenever the results link
    comes up again (sbx_outbox_resend_all); an ack removes it. The
    orchestrator keeps the first terminal result and acknowledges
    duplicates too, so re-sending is always safe.

    Frames that need no ack but must keep their order ("started" before
    its "result") wait here only while the results socket is full
    (sbx_outbox_add_once). Never-sent frames leave strictly in order.

    Bounded: SANDBOX_OUTBOX results and SANDBOX_OUTBOX_BYTES bytes. While
    it is full the worker takes no new task (and says so in heartbeats),
    so a worker cut off from its orchestrator stops rather than runs tasks
    whose results it cannot keep. Results of tasks already running when it
    filled up are still kept (at most SANDBOX_SLOTS more).
*/
#ifndef SBX_OUTBOX_H_INCLUDED
#define SBX_OUTBOX_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SBX_OUTBOX_RESEND_MAX_MS 30000  /* longest gap between re-sends */

typedef struct sbx_outbox_t sbx_outbox_t;

/*  Send one frame; 0 when the socket took it, else non-zero (full).       */
typedef int (sbx_send_fn) (void *arg, const uint8_t *frame, size_t size);

/*  max_results, max_bytes: the bounds; resend_ms: the first re-send gap.  */
sbx_outbox_t *sbx_outbox_new (size_t max_results, size_t max_bytes, int64_t resend_ms);
void sbx_outbox_destroy (sbx_outbox_t **self_p);

/*  Keep the result frame of (id, attempt) until acknowledged; it leaves at
    the next flush. Takes the malloc'd frame. 0, or -1 when out of memory
    (the frame is freed).                                                   */
int sbx_outbox_add_result (sbx_outbox_t *self, const char *id, uint32_t attempt,
                           uint8_t *frame, size_t size);
/*  A frame sent once, in order, then forgotten. Takes it. 0 or -1.        */
int sbx_outbox_add_once (sbx_outbox_t *self, uint8_t *frame, size_t size);

/*  The orchestrator has the result of id (attempt 0: of any attempt).
    Returns how many kept results this removed.                             */
size_t sbx_outbox_ack (sbx_outbox_t *self, const char *id, uint32_t attempt);

/*  Send what is due at now (monotonic ms): every never-sent frame in
    order, then kept results whose re-send time has come (only when
    resend is true: the link is up). Stops at the first frame the socket
    refuses. Returns how many frames were sent.                             */
size_t sbx_outbox_flush (sbx_outbox_t *self, sbx_send_fn *send, void *arg, int64_t now,
                         bool resend);

/*  Make every kept result due now (the link came back).                   */
void sbx_outbox_resend_all (sbx_outbox_t *self, int64_t now);

/*  Frames never sent yet (wait for the socket to take them).              */
bool sbx_outbox_pending (const sbx_outbox_t *self);
/*  When the next re-send is due (monotonic ms), -1 when none is kept.     */
int64_t sbx_outbox_next_resend (const sbx_outbox_t *self);

size_t sbx_outbox_results (const sbx_outbox_t *self);   /* kept, not acked */
size_t sbx_outbox_bytes (const sbx_outbox_t *self);     /* their frames */
size_t sbx_outbox_count (const sbx_outbox_t *self);     /* all entries */
/*  At one of its bounds: take no new task.                                 */
bool sbx_outbox_full (const sbx_outbox_t *self);
/*  Sends of results so far beyond their first (for logs and tests).       */
uint64_t sbx_outbox_resends (const sbx_outbox_t *self);

#endif
