/*  outbox.h - frames for the results socket that could not be sent yet
    (the socket's high-water mark was reached), kept in order.

    The "reliability" issue grows this into the bounded outbox of results
    re-sent until acknowledged.
*/
#ifndef SBX_OUTBOX_H_INCLUDED
#define SBX_OUTBOX_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct sbx_outbox_t sbx_outbox_t;

sbx_outbox_t *sbx_outbox_new (void);
void sbx_outbox_destroy (sbx_outbox_t **self_p);

/*  Take ownership of a malloc'd frame. 0, or -1 (frame freed) when out of
    memory.                                                                 */
int sbx_outbox_push (sbx_outbox_t *self, uint8_t *frame, size_t size);

/*  Send queued frames with send (); stops at the first that fails (returns
    non-zero). Returns how many are still queued.                           */
size_t sbx_outbox_flush (sbx_outbox_t *self, int (*send) (void *arg, const uint8_t *frame,
                                                           size_t size), void *arg);
size_t sbx_outbox_count (const sbx_outbox_t *self);

#endif
