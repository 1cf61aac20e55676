/*  cli_text.h - bytes as text: strict UTF-8 checks, lossy UTF-8, base64.

    Task output is arbitrary bytes; JSON strings must be valid UTF-8. The
    rule shared with the HTTP API: a byte field is "text" when it is valid
    UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF)
    and holds no NUL byte. Text goes out as a string; anything else goes out
    as a lossy string (each ill-formed subsequence becomes U+FFFD; a NUL
    stays a NUL, which JSON writes as \u0000) plus an exact base64 twin.
*/
#ifndef CLI_TEXT_H_INCLUDED
#define CLI_TEXT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*  Length of the well-formed UTF-8 sequence at s (1..4), or 0 when the
    bytes at s do not start one; *bad_len is then the length of the maximal
    ill-formed subpart to replace with one U+FFFD (at least 1).             */
size_t cli_utf8_seq (const uint8_t *s, size_t n, size_t *bad_len);

bool cli_utf8_valid (const uint8_t *s, size_t n);

/*  Valid UTF-8 without NUL bytes.                                          */
bool cli_is_text (const uint8_t *s, size_t n);

/*  Copy of s with each ill-formed subsequence replaced by U+FFFD (EF BF BD).
    malloc'd, NUL-terminated (the result may hold NULs from the input, so
    use *out_len). NULL when out of memory.                                  */
char *cli_utf8_lossy (const uint8_t *s, size_t n, size_t *out_len);

/*  Standard base64 with padding (RFC 4648), malloc'd, NUL-terminated.      */
char *cli_base64 (const uint8_t *s, size_t n);

/*  Decode base64 (for tests and later commands); malloc'd, -1 when the
    input is not padded standard base64.                                   */
int cli_base64_decode (const char *text, size_t len, uint8_t **out, size_t *out_len);

#endif
