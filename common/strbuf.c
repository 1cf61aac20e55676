/*  strbuf.c - growing buffer.                                             */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  Room for need more bytes plus the NUL.                                  */
static bool
s_reserve (strbuf_t *self, size_t need)
{
    if (self->failed)
        return false;
    if (self->len + need + 1 <= self->cap)
        return true;
    size_t cap = self->cap ? self->cap : 256;
    while (cap < self->len + need + 1) {
        if (cap > ((size_t) -1) / 2) {
            self->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *grown = realloc (self->data, cap);
    if (!grown) {
        self->failed = true;
        return false;
    }
    self->data = grown;
    self->cap = cap;
    return true;
}

void
strbuf_printf (strbuf_t *self, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    int n = vsnprintf (NULL, 0, fmt, args);
    va_end (args);
    if (n < 0) {
        self->failed = true;
        return;
    }
    if (!s_reserve (self, (size_t) n))
        return;
    va_start (args, fmt);
    vsnprintf (self->data + self->len, (size_t) n + 1, fmt, args);
    va_end (args);
    self->len += (size_t) n;
}

void
strbuf_append (strbuf_t *self, const void *data, size_t size)
{
    if (!s_reserve (self, size))
        return;
    if (size)
        memcpy (self->data + self->len, data, size);
    self->len += size;
    self->data[self->len] = '\0';
}

void
strbuf_consume (strbuf_t *self, size_t n)
{
    if (n >= self->len) {
        self->len = 0;
        if (self->data)
            self->data[0] = '\0';
        return;
    }
    memmove (self->data, self->data + n, self->len - n + 1);
    self->len -= n;
}

bool
strbuf_failed (const strbuf_t *self)
{
    return self->failed;
}

char *
strbuf_take (strbuf_t *self, size_t *len)
{
    char *data = self->failed ? NULL : self->data;
    if (len)
        *len = data ? self->len : 0;
    if (!data)
        free (self->data);
    memset (self, 0, sizeof *self);
    return data;
}

void
strbuf_free (strbuf_t *self)
{
    free (self->data);
    memset (self, 0, sizeof *self);
}
