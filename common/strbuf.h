/*  strbuf.h - a growing byte buffer with printf, for texts built in parts
    (Prometheus metrics, Server-Sent Events).

    Errors stick: after an allocation failure every later call does nothing
    and strbuf_failed () says so, so a builder checks once at the end.
*/
#ifndef STRBUF_H_INCLUDED
#define STRBUF_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *data;                         /* NUL-terminated when not NULL */
    size_t len;
    size_t cap;
    bool failed;
} strbuf_t;

void strbuf_printf (strbuf_t *self, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
void strbuf_append (strbuf_t *self, const void *data, size_t size);
/*  Drop the first n bytes (they were sent).                                */
void strbuf_consume (strbuf_t *self, size_t n);
bool strbuf_failed (const strbuf_t *self);
/*  Hand the text over (caller frees); the buffer is empty again.          */
char *strbuf_take (strbuf_t *self, size_t *len);
void strbuf_free (strbuf_t *self);

#endif
