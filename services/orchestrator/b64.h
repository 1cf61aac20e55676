/*  b64.h - base64 (RFC 4648), strict decoding.

    Standard alphabet with '=' padding for JSON payloads; URL-safe alphabet
    without padding for generated tokens. The decoder accepts only the
    canonical form: length a multiple of 4, padding only at the end, no
    whitespace, no stray bits in the last character.
*/
#ifndef ORCH_B64_H_INCLUDED
#define ORCH_B64_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*  Encoded length of size bytes, without the terminating NUL.              */
size_t orch_b64_encoded_len (size_t size, bool url);

/*  Encode into out (>= encoded_len + 1 bytes), NUL-terminated; returns the
    length. url: URL-safe alphabet, no padding.                             */
size_t orch_b64_encode (const void *data, size_t size, char *out, bool url);

/*  Encode into a new malloc'd string; NULL when out of memory.             */
char *orch_b64_encode_new (const void *data, size_t size, size_t *out_len);

/*  Decode text (standard alphabet, padded) into a new malloc'd buffer
    (never NULL on success, even for empty input). Returns 0, or -1 with
    *bad_at set to the offset of the first offending character (or the
    length when the length is wrong) and *why to a short reason.            */
int orch_b64_decode (const char *text, size_t len, uint8_t **out, size_t *out_size,
                     size_t *bad_at, const char **why);

#endif
