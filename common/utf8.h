/*  utf8.h - strict UTF-8: validation, the rule for "text", lossy repair.

    "Strict" is RFC 3629 and the rule jansson applies to JSON strings: no
    overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF.

    The one rule for text, used wherever bytes become JSON (the HTTP API,
    `cleudo --json`) and wherever the CLI decides whether to show bytes:
    bytes are text when they are valid UTF-8. NUL is valid UTF-8; JSON
    carries it as \u0000, so "a\0b" is text and needs no base64 twin.
*/
#ifndef UTF8_H_INCLUDED
#define UTF8_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

/*  True when size bytes of data are strict UTF-8 (data may be NULL when
    size is 0).                                                             */
bool utf8_valid (const void *data, size_t size);

/*  The rule for text (see above): today exactly utf8_valid ().             */
bool utf8_is_text (const void *data, size_t size);

/*  Copy data into a new malloc'd, NUL-terminated buffer replacing every
    maximal invalid subpart with U+FFFD (the Unicode "best practice", as
    browsers do); NULs are copied, so use *out_size (if given) for the
    length. NULL only when out of memory.                                   */
char *utf8_lossy (const void *data, size_t size, size_t *out_size);

/*  Largest n <= size such that data[0..n) does not end inside a multibyte
    sequence (to cut text to a length without splitting a character).      */
size_t utf8_cut (const void *data, size_t size);

/*  Repair NUL-terminated text in place: each byte that does not begin a
    valid sequence becomes '?', so the length never changes (for messages
    built in fixed buffers that may quote names from a frame).              */
void utf8_fix (char *text);

#endif
