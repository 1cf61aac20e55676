/*  b64.h - base64 (RFC 4648): encoding and strict decoding.

    Standard alphabet with '=' padding for byte fields in JSON ("_b64"
    twins); URL-safe alphabet without padding for generated tokens. The
    decoder accepts only the canonical standard form: length a multiple of
    4, padding only at the end, no whitespace, no stray bits in the last
    character. One encoding per byte string means a client can compare
    base64 texts instead of decoding them.
*/
#ifndef B64_H_INCLUDED
#define B64_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*  Encoded length of size bytes, without the terminating NUL.              */
size_t b64_encoded_len (size_t size, bool url);

/*  Encode into out (>= b64_encoded_len () + 1 bytes), NUL-terminated;
    returns the length. url: URL-safe alphabet ('-', '_'), no padding.      */
size_t b64_encode (const void *data, size_t size, char *out, bool url);

/*  Standard alphabet into a new malloc'd string; *out_len (if given) gets
    its length. NULL when out of memory.                                    */
char *b64_encode_new (const void *data, size_t size, size_t *out_len);

/*  Decode text (standard alphabet, padded) into a new malloc'd buffer
    (never NULL on success, even for empty input). Returns 0, or -1 with
    *out untouched, *bad_at (if given) set to the offset of the first
    offending character (the length when the length is wrong) and *why (if
    given) to a short reason: "length is not a multiple of 4", "not a base64
    character", "padding before the end", "bad padding", "non-zero trailing
    bits" or "out of memory".                                               */
int b64_decode (const char *text, size_t len, uint8_t **out, size_t *out_size,
                size_t *bad_at, const char **why);

#endif
