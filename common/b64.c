/*  b64.c - base64 encoding and strict decoding (see b64.h).                */
#include "b64.h"

#include <stdlib.h>
#include <string.h>

static const char s_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char s_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
b64_encoded_len (size_t size, bool url)
{
    if (url)
        return size / 3 * 4 + (size % 3 ? size % 3 + 1 : 0);
    return (size + 2) / 3 * 4;
}

size_t
b64_encode (const void *data, size_t size, char *out, bool url)
{
    const uint8_t *in = data;
    const char *abc = url ? s_url : s_std;
    size_t o = 0, i = 0;
    for (; i + 3 <= size; i += 3) {
        uint32_t v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63];
        out[o++] = abc[v & 63];
    }
    size_t rest = size - i;
    if (rest) {
        uint32_t v = (uint32_t) in[i] << 16 | (rest == 2 ? (uint32_t) in[i + 1] << 8 : 0);
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        if (rest == 2)
            out[o++] = abc[v >> 6 & 63];
        else if (!url)
            out[o++] = '=';
        if (!url)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

char *
b64_encode_new (const void *data, size_t size, size_t *out_len)
{
    if (size > (SIZE_MAX - 4) / 4 * 3)
        return NULL;
    size_t len = b64_encoded_len (size, false);
    char *out = malloc (len + 1);
    if (!out)
        return NULL;
    b64_encode (data, size, out, false);
    if (out_len)
        *out_len = len;
    return out;
}

static int
s_value (char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int
b64_decode (const char *text, size_t len, uint8_t **out, size_t *out_size,
                 size_t *bad_at, const char **why)
{
    size_t dummy_at;
    const char *dummy_why;
    if (!bad_at)
        bad_at = &dummy_at;
    if (!why)
        why = &dummy_why;
    if (len % 4 != 0) {
        *bad_at = len;
        *why = "length is not a multiple of 4";
        return -1;
    }
    size_t pad = 0;
    if (len >= 4 && text[len - 1] == '=')
        pad = text[len - 2] == '=' ? 2 : 1;
    uint8_t *buf = malloc (len / 4 * 3 + 1);
    if (!buf) {
        *bad_at = 0;
        *why = "out of memory";
        return -1;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        uint32_t v = 0;
        size_t digits = last ? 4 - pad : 4;
        for (size_t k = 0; k < 4; k++) {
            char c = text[i + k];
            if (k >= digits) {
                if (c != '=')
                    goto bad;
                continue;
            }
            int d = s_value (c);
            if (d < 0) {
                *bad_at = i + k;
                *why = c == '=' ? "padding before the end" : "not a base64 character";
                free (buf);
                return -1;
            }
            v |= (uint32_t) d << (18 - 6 * k);
        }
        /*  Canonical form only: the bits below the last byte must be 0.    */
        if ((digits == 3 && (v & 0xff)) || (digits == 2 && (v & 0xffff))) {
            *bad_at = i + digits - 1;
            *why = "non-zero trailing bits";
            free (buf);
            return -1;
        }
        buf[o++] = (uint8_t) (v >> 16);
        if (digits >= 3)
            buf[o++] = (uint8_t) (v >> 8);
        if (digits == 4)
            buf[o++] = (uint8_t) v;
        continue;
      bad:
        *bad_at = i;
        *why = "bad padding";
        free (buf);
        return -1;
    }
    *out = buf;
    *out_size = o;
    return 0;
}
