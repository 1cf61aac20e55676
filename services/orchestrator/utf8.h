/*  utf8.h - strict UTF-8 validation and lossy conversion.

    "Strict" is the same rule jansson applies to JSON strings: no overlong
    forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF. NUL is
    valid UTF-8 (JSON carries it as \u0000).
*/
#ifndef ORCH_UTF8_H_INCLUDED
#define ORCH_UTF8_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool orch_utf8_valid (const void *data, size_t size);

/*  Copy data into a new malloc'd, NUL-terminated buffer replacing every
    maximal invalid subsequence with U+FFFD (the Unicode "best practice",
    as browsers do). *out_size gets the length without the terminator.
    Returns NULL only when out of memory.                                   */
char *orch_utf8_lossy (const void *data, size_t size, size_t *out_size);

/*  Largest n <= size such that data[0..n) does not end inside a multibyte
    sequence (for cutting text to a length without splitting a character).  */
size_t orch_utf8_cut (const void *data, size_t size);

#endif
