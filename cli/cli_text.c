/*  cli_text.c - strict UTF-8, lossy UTF-8 and base64.                      */
#include "cli_text.h"

#include <stdlib.h>
#include <string.h>

/*  Table 3-7 of the Unicode standard: the well-formed byte sequences. The
    second byte's range depends on the first; all later ones are 80..BF.    */
size_t
cli_utf8_seq (const uint8_t *s, size_t n, size_t *bad_len)
{
    *bad_len = 1;
    if (n == 0)
        return 0;
    uint8_t c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else
    if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;          /* no overlongs */
        if (c == 0xED)
            hi = 0x9F;          /* no surrogates */
    }
    else
    if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;          /* no overlongs */
        if (c == 0xF4)
            hi = 0x8F;          /* nothing above U+10FFFF */
    }
    else
        return 0;               /* 80..C1, F5..FF never start a sequence */
    for (size_t i = 1; i < len; i++) {
        if (i >= n) {
            *bad_len = i;       /* truncated at the end of the input */
            return 0;
        }
        uint8_t min = i == 1 ? lo : 0x80;
        uint8_t max = i == 1 ? hi : 0xBF;
        if (s[i] < min || s[i] > max) {
            *bad_len = i;       /* the valid prefix is one ill-formed subpart */
            return 0;
        }
    }
    return len;
}

bool
cli_utf8_valid (const uint8_t *s, size_t n)
{
    size_t i = 0, bad;
    while (i < n) {
        size_t len = cli_utf8_seq (s + i, n - i, &bad);
        if (!len)
            return false;
        i += len;
    }
    return true;
}

bool
cli_is_text (const uint8_t *s, size_t n)
{
    return (n == 0 || !memchr (s, 0, n)) && cli_utf8_valid (s, n);
}

char *
cli_utf8_lossy (const uint8_t *s, size_t n, size_t *out_len)
{
    /*  Worst case: every byte becomes three.                               */
    if (n > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc (n * 3 + 1);
    if (!out)
        return NULL;
    size_t i = 0, o = 0, bad;
    while (i < n) {
        size_t len = cli_utf8_seq (s + i, n - i, &bad);
        if (len) {
            memcpy (out + o, s + i, len);
            o += len;
            i += len;
        }
        else {
            memcpy (out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += bad;
        }
    }
    out [o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

static const char s_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
cli_base64 (const uint8_t *s, size_t n)
{
    if (n > (SIZE_MAX / 4) * 3 - 3)
        return NULL;
    size_t out_len = (n + 2) / 3 * 4;
    char *out = malloc (out_len + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8 | s[i + 2];
        out [o++] = s_b64[v >> 18 & 63];
        out [o++] = s_b64[v >> 12 & 63];
        out [o++] = s_b64[v >> 6 & 63];
        out [o++] = s_b64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t) s[i] << 16 | (i + 1 < n ? (uint32_t) s[i + 1] << 8 : 0);
        out [o++] = s_b64[v >> 18 & 63];
        out [o++] = s_b64[v >> 12 & 63];
        out [o++] = i + 1 < n ? s_b64[v >> 6 & 63] : '=';
        out [o++] = '=';
    }
    out [o] = '\0';
    return out;
}

static int
s_b64_value (char c)
{
    const char *p = c ? strchr (s_b64, c) : NULL;
    return p ? (int) (p - s_b64) : -1;
}

int
cli_base64_decode (const char *text, size_t len, uint8_t **out, size_t *out_len)
{
    if (len % 4)
        return -1;
    uint8_t *buf = malloc (len / 4 * 3 + 1);
    if (!buf)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            if (text[i + k] == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad)
                goto bad;       /* data after '=' */
            v[k] = s_b64_value (text[i + k]);
            if (v[k] < 0)
                goto bad;
        }
        uint32_t w = (uint32_t) v[0] << 18 | (uint32_t) v[1] << 12 | (uint32_t) v[2] << 6
                     | (uint32_t) v[3];
        buf [o++] = (uint8_t) (w >> 16);
        if (pad < 2)
            buf [o++] = (uint8_t) (w >> 8);
        if (pad < 1)
            buf [o++] = (uint8_t) w;
    }
    *out = buf;
    *out_len = o;
    return 0;
bad:
    free (buf);
    return -1;
}
