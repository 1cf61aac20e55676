/*  utf8.c - strict UTF-8 validation and repair (see utf8.h).              */
#include "utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*  Table 3-7 of the Unicode standard: length of the valid sequence at p
    (1..4), or 0 when the bytes at p do not start one; then *bad gets the
    length of the maximal invalid subpart to replace (at least 1): the lead
    byte plus the continuation bytes that were still acceptable.            */
static size_t
s_sequence (const uint8_t *p, size_t left, size_t *bad)
{
    uint8_t c = p[0];
    size_t need;
    uint8_t lo = 0x80, hi = 0xbf;       /* allowed range of the 2nd byte */
    if (c < 0x80)
        return 1;
    else if (c >= 0xc2 && c <= 0xdf)
        need = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0;                  /* no overlong forms */
        else if (c == 0xed)
            hi = 0x9f;                  /* no surrogates */
    }
    else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90;                  /* no overlong forms */
        else if (c == 0xf4)
            hi = 0x8f;                  /* nothing above U+10FFFF */
    }
    else {
        *bad = 1;                       /* 80..C1, F5..FF never start one */
        return 0;
    }
    size_t i = 1;
    for (; i < need && i < left; i++) {
        uint8_t b = p[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf))
            break;
    }
    if (i == need)
        return need;
    *bad = i;
    return 0;
}

bool
utf8_valid (const void *data, size_t size)
{
    const uint8_t *p = data;
    size_t at = 0;
    while (at < size) {
        /*  Fast path over ASCII runs.                                      */
        if (p[at] < 0x80) {
            at++;
            continue;
        }
        size_t bad;
        size_t n = s_sequence (p + at, size - at, &bad);
        if (n == 0)
            return false;
        at += n;
    }
    return true;
}

bool
utf8_is_text (const void *data, size_t size)
{
    return utf8_valid (data, size);
}

char *
utf8_lossy (const void *data, size_t size, size_t *out_size)
{
    const uint8_t *p = data;
    /*  Worst case: every byte becomes U+FFFD (3 bytes).                    */
    if (size > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc (size * 3 + 1);
    if (!out)
        return NULL;
    size_t at = 0, len = 0;
    while (at < size) {
        size_t bad = 0;
        size_t n = s_sequence (p + at, size - at, &bad);
        if (n) {
            memcpy (out + len, p + at, n);
            len += n;
            at += n;
        }
        else {
            memcpy (out + len, "\xef\xbf\xbd", 3);
            len += 3;
            at += bad;
        }
    }
    out[len] = '\0';
    if (out_size)
        *out_size = len;
    return out;
}

size_t
utf8_cut (const void *data, size_t size)
{
    const uint8_t *p = data;
    /*  Step back over at most 3 continuation bytes to the lead byte; keep
        the sequence if it is complete, else cut before it.                 */
    size_t at = size;
    size_t back = 0;
    while (at > 0 && back < 4 && (p[at - 1] & 0xc0) == 0x80) {
        at--;
        back++;
    }
    if (at == 0)
        return size;
    /*  F8..FF never start a sequence: nothing to keep whole.               */
    uint8_t lead = p[at - 1];
    size_t need = lead < 0xc0 || lead >= 0xf8 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    if (need > 1 && back + 1 < need)
        return at - 1;
    return size;
}

void
utf8_fix (char *text)
{
    uint8_t *p = (uint8_t *) text;
    size_t len = strlen (text);
    for (size_t at = 0; at < len;) {
        size_t bad;
        size_t n = s_sequence (p + at, len - at, &bad);
        if (n)
            at += n;
        else
            p[at++] = '?';
    }
}
