/*  errfmt.h - format a message into a caller's error buffer.

    Functions that can fail take (char *err, size_t errlen) and describe the
    failure there; errfmt () is the one way to fill it (NULL or 0: ignored).
*/
#ifndef ERRFMT_H_INCLUDED
#define ERRFMT_H_INCLUDED

#include <stddef.h>

void errfmt (char *err, size_t errlen, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/*  The errno's symbolic name ("EPERM"), or "E?" for 0 and unknown values. */
const char *errname (int e);

#endif
