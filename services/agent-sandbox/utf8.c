/*  utf8.c - UTF-8 validation and repair.                                  */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

/*  Length of the valid sequence at p (at most n bytes), 0 if invalid.     */
static size_t
s_sequence (const unsigned char *p, size_t n)
{
    if (p[0] < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if ((p[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = p[0] & 0x1f;
    }
    else if ((p[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = p[0] & 0x0f;
    }
    else if ((p[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = p[0] & 0x07;
    }
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

bool
sbx_utf8_valid (const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *) text;
    for (size_t i = 0; i < len;) {
        size_t n = s_sequence (p + i, len - i);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

void
sbx_utf8_fix (char *text)
{
    unsigned char *p = (unsigned char *) text;
    size_t len = strlen (text);
    for (size_t i = 0; i < len;) {
        size_t n = s_sequence (p + i, len - i);
        if (!n) {
            p[i++] = '?';
            continue;
        }
        i += n;
    }
}
