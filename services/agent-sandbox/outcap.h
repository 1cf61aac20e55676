/*  outcap.h - one captured output stream (stdout or stderr of a task).

    Keeps the first `cap` bytes a child writes and counts (then discards)
    the rest, so that a result never grows beyond its budget however much
    the task prints. All reading of a child's output goes through here: the
    "live output" issue adds its batching (every 50 ms / 16 KiB) to this
    class, not to the run.
*/
#ifndef SBX_OUTCAP_H_INCLUDED
#define SBX_OUTCAP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sbx_outcap_t sbx_outcap_t;

/*  A buffer that keeps at most cap bytes. NULL when out of memory.         */
sbx_outcap_t *sbx_outcap_new (size_t cap);
void sbx_outcap_destroy (sbx_outcap_t **self_p);

/*  Read what fd (nonblocking) has now, at most a bounded amount per call so
    one chatty task cannot starve the event loop. Returns 1 at end of file
    (or on a read error, which ends the stream the same way), 0 when the
    pipe is drained for now.                                                */
int sbx_outcap_read (sbx_outcap_t *self, int fd);

/*  Append bytes the worker itself produces (e.g. "command not found").     */
void sbx_outcap_append (sbx_outcap_t *self, const void *data, size_t size);

const uint8_t *sbx_outcap_data (const sbx_outcap_t *self);
size_t sbx_outcap_size (const sbx_outcap_t *self);
/*  True when bytes were discarded beyond the cap.                          */
bool sbx_outcap_truncated (const sbx_outcap_t *self);
/*  Every byte seen, kept or not.                                           */
uint64_t sbx_outcap_total (const sbx_outcap_t *self);

#endif
