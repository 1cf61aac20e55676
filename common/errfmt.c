/*  errfmt.c - format a message into a caller's error buffer.               */
#define _GNU_SOURCE             /* strerrorname_np */
#include "errfmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
errfmt (char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list args;
    va_start (args, fmt);
    vsnprintf (err, errlen, fmt, args);
    va_end (args);
}

const char *
errname (int e)
{
    const char *name = e ? strerrorname_np (e) : NULL;
    return name ? name : "E?";
}
