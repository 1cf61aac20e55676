/*  outcap.h - one captured output stream (stdout or stderr of a task).

    Keeps the first `cap` bytes a child writes and counts (then discards)
    the rest, so that a result never grows beyond its budget however much
    the task prints. All reading of a child's output goes through here.

    Live output (streaming, off until sbx_outcap_stream): the kept bytes
    not yet streamed are "pending". They are due as one chunk when
    SBX_OUTCAP_CHUNK_BYTES are pending, or SBX_OUTCAP_CHUNK_MS after the
    first of them came, whichever is first. Chunks are always taken from
    the kept bytes, in order, so what was streamed is a prefix of what the
    result carries; chunk numbers (seq) count chunks actually sent, from 0.
    A chunk that could not be sent stays pending and is offered again (with
    whatever came since) SBX_OUTCAP_CHUNK_MS later.
*/
#ifndef SBX_OUTCAP_H_INCLUDED
#define SBX_OUTCAP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SBX_OUTCAP_CHUNK_BYTES (16u * 1024u)    /* pending bytes: flush now */
#define SBX_OUTCAP_CHUNK_MS 50                  /* oldest pending byte: flush */

typedef struct sbx_outcap_t sbx_outcap_t;

/*  One chunk of live output: a view into the kept bytes, valid until the
    next read or append.                                                    */
typedef struct {
    const uint8_t *data;                /* first pending byte */
    size_t size;                        /* every pending byte */
    uint64_t seq;                       /* chunk number, from 0 */
} sbx_outcap_chunk_t;

/*  A buffer that keeps at most cap bytes. NULL when out of memory.         */
sbx_outcap_t *sbx_outcap_new (size_t cap);
void sbx_outcap_destroy (sbx_outcap_t **self_p);

/*  Read what fd (nonblocking) has now, at most a bounded amount per call so
    one chatty task cannot starve the event loop. now_ms (monotonic) starts
    the flush timer of newly pending bytes. Returns 1 at end of file (or on
    a read error, which ends the stream the same way), 0 when the pipe is
    drained for now.                                                        */
int sbx_outcap_read (sbx_outcap_t *self, int fd, int64_t now_ms);

/*  Append bytes the worker itself produces (e.g. "command not found").     */
void sbx_outcap_append (sbx_outcap_t *self, const void *data, size_t size, int64_t now_ms);

const uint8_t *sbx_outcap_data (const sbx_outcap_t *self);
size_t sbx_outcap_size (const sbx_outcap_t *self);
/*  True when bytes were discarded beyond the cap.                          */
bool sbx_outcap_truncated (const sbx_outcap_t *self);
/*  Every byte seen, kept or not.                                           */
uint64_t sbx_outcap_total (const sbx_outcap_t *self);

/*  Turn live output on (bytes kept before this count as pending now).     */
void sbx_outcap_stream (sbx_outcap_t *self, int64_t now_ms);
/*  Monotonic ms when the pending bytes are due, -1 when none are (or
    streaming is off).                                                      */
int64_t sbx_outcap_next_flush (const sbx_outcap_t *self);
/*  The chunk due at now_ms (every pending byte): true with chunk filled,
    false when nothing is due.                                              */
bool sbx_outcap_chunk (const sbx_outcap_t *self, int64_t now_ms, sbx_outcap_chunk_t *chunk);
/*  What became of that chunk: sent (its bytes are streamed, seq moves on)
    or not (its bytes stay pending, retried SBX_OUTCAP_CHUNK_MS later).     */
void sbx_outcap_chunk_done (sbx_outcap_t *self, const sbx_outcap_chunk_t *chunk, bool sent,
                            int64_t now_ms);
/*  Bytes streamed so far and chunks sent.                                  */
size_t sbx_outcap_streamed (const sbx_outcap_t *self);
uint64_t sbx_outcap_seq (const sbx_outcap_t *self);

#endif
