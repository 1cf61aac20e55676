/*  outcap.c - capped capture of one output stream.                        */
#include "outcap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*  Per call to sbx_outcap_read: enough to drain a full pipe a few times,
    small enough that other tasks' pipes get their turn.                    */
#define READ_BUDGET (256u * 1024u)
#define FIRST_ALLOC (16u * 1024u)

struct sbx_outcap_t {
    uint8_t *data;                      /* kept bytes */
    size_t size;                        /* bytes kept so far */
    size_t alloc;                       /* bytes allocated in data */
    size_t cap;                         /* most bytes ever kept */
    uint64_t total;                     /* bytes seen, kept or discarded */
    bool truncated;                     /* something was discarded */
    bool stream;                        /* live output on */
    size_t streamed;                    /* kept bytes sent as chunks */
    uint64_t seq;                       /* number of the next chunk */
    int64_t pending_since;              /* first unsent byte came; -1 none */
    int64_t hold_until;                 /* after a failed send: not before */
};

sbx_outcap_t *
sbx_outcap_new (size_t cap)
{
    sbx_outcap_t *self = calloc (1, sizeof *self);
    if (self) {
        self->cap = cap;
        self->pending_since = -1;
    }
    return self;
}

void
sbx_outcap_destroy (sbx_outcap_t **self_p)
{
    if (self_p && *self_p) {
        free ((*self_p)->data);
        free (*self_p);
        *self_p = NULL;
    }
}

/*  Make room for `want` more bytes (never beyond cap). Grows by doubling so
    a task printing a little costs little. Returns the room available.     */
static size_t
s_room (sbx_outcap_t *self, size_t want)
{
    size_t limit = self->cap - self->size;
    if (want > limit)
        want = limit;
    if (self->alloc - self->size >= want)
        return want;
    size_t need = self->size + want;
    size_t alloc = self->alloc ? self->alloc : FIRST_ALLOC;
    while (alloc < need)
        alloc = alloc > SIZE_MAX / 2 ? need : alloc * 2;
    if (alloc > self->cap)
        alloc = self->cap;
    uint8_t *data = realloc (self->data, alloc);
    if (!data)
        return self->alloc - self->size;    /* keep what fits; rest is cut */
    self->data = data;
    self->alloc = alloc;
    return want;
}

static void
s_account (sbx_outcap_t *self, size_t seen, size_t kept, int64_t now)
{
    self->total += seen;
    self->size += kept;
    if (kept < seen)
        self->truncated = true;
    if (kept && self->stream && self->pending_since < 0)
        self->pending_since = now;
}

int
sbx_outcap_read (sbx_outcap_t *self, int fd, int64_t now_ms)
{
    uint8_t scratch[16384];
    size_t budget = READ_BUDGET;
    while (budget > 0) {
        size_t room = s_room (self, budget);
        uint8_t *into = room ? self->data + self->size : scratch;
        size_t len = room ? room : sizeof scratch;
        ssize_t n = read (fd, into, len);
        if (n > 0) {
            s_account (self, (size_t) n, room ? (size_t) n : 0, now_ms);
            budget -= (size_t) n < budget ? (size_t) n : budget;
            continue;
        }
        if (n == 0)
            return 1;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return 1;
    }
    return 0;
}

void
sbx_outcap_append (sbx_outcap_t *self, const void *data, size_t size, int64_t now_ms)
{
    size_t room = s_room (self, size);
    if (room)
        memcpy (self->data + self->size, data, room);
    s_account (self, size, room, now_ms);
}

const uint8_t *
sbx_outcap_data (const sbx_outcap_t *self)
{
    return self->data;
}

size_t
sbx_outcap_size (const sbx_outcap_t *self)
{
    return self->size;
}

bool
sbx_outcap_truncated (const sbx_outcap_t *self)
{
    return self->truncated;
}

uint64_t
sbx_outcap_total (const sbx_outcap_t *self)
{
    return self->total;
}

/*  ---- live output ----------------------------------------------------------- */

void
sbx_outcap_stream (sbx_outcap_t *self, int64_t now_ms)
{
    self->stream = true;
    if (self->size > self->streamed && self->pending_since < 0)
        self->pending_since = now_ms;
}

int64_t
sbx_outcap_next_flush (const sbx_outcap_t *self)
{
    if (!self->stream || self->size == self->streamed)
        return -1;
    /*  A full chunk goes at once; a small one waits for more, but never
        longer than SBX_OUTCAP_CHUNK_MS after its first byte.              */
    int64_t due = self->pending_since;
    if (self->size - self->streamed < SBX_OUTCAP_CHUNK_BYTES)
        due += SBX_OUTCAP_CHUNK_MS;
    return due > self->hold_until ? due : self->hold_until;
}

bool
sbx_outcap_chunk (const sbx_outcap_t *self, int64_t now_ms, sbx_outcap_chunk_t *chunk)
{
    int64_t due = sbx_outcap_next_flush (self);
    if (due < 0 || now_ms < due)
        return false;
    chunk->data = self->data + self->streamed;
    chunk->size = self->size - self->streamed;
    chunk->seq = self->seq;
    return true;
}

void
sbx_outcap_chunk_done (sbx_outcap_t *self, const sbx_outcap_chunk_t *chunk, bool sent,
                       int64_t now_ms)
{
    if (!sent) {
        /*  Keep the bytes: a gap would break "streamed is a prefix of the
            result". Try again a little later, not in a busy loop.          */
        self->hold_until = now_ms + SBX_OUTCAP_CHUNK_MS;
        return;
    }
    self->streamed += chunk->size;
    self->seq++;
    self->pending_since = self->streamed < self->size ? now_ms : -1;
}

size_t
sbx_outcap_streamed (const sbx_outcap_t *self)
{
    return self->streamed;
}

uint64_t
sbx_outcap_seq (const sbx_outcap_t *self)
{
    return self->seq;
}
