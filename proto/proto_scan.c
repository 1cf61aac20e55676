/*  proto_scan.c - walk the raw msgpack bytes of a frame before msgpack-c
    builds objects from them.

    Why: msgpack-c's unpacker allocates an array or map's slots from the
    count in its header before it has seen a single element, so a 5-byte
    frame claiming 4 billion elements costs a 96 GB allocation attempt, and
    a 16 MiB frame of one-byte elements costs 24 bytes of object per byte.
    This scan is iterative (no recursion), bounds-checks every header and
    payload against the end of the buffer, and refuses:
      - truncated objects and the never-used byte 0xc1,
      - a container claiming more elements than bytes remain,
      - nesting deeper than PROTO_SCAN_DEPTH,
      - more than PROTO_SCAN_OBJECTS objects in one frame,
      - anything after the first object (trailing bytes).
    Afterwards msgpack-c only ever allocates for elements that exist.
*/
#include "proto_internal.h"

#include <stdio.h>

static uint64_t
s_be (const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

int
proto_scan (const uint8_t *data, size_t size, char *why, size_t why_size)
{
    uint64_t pending[PROTO_SCAN_DEPTH + 1];    /* elements left per level */
    int level = 0;
    size_t pos = 0;
    size_t objects = 0;
    pending[0] = 1;

    while (level >= 0) {
        if (pending[level] == 0) {
            level--;
            continue;
        }
        pending[level]--;
        if (pos >= size)
            goto truncated;
        if (++objects > PROTO_SCAN_OBJECTS) {
            snprintf (why, why_size, "frame holds more than %d msgpack objects",
                      PROTO_SCAN_OBJECTS);
            return -1;
        }
        size_t left = size - pos;
        uint8_t b = data[pos];
        size_t head = 1;            /* header bytes, including b */
        uint64_t body = 0;          /* payload bytes after the header */
        uint64_t items = 0;         /* elements of a container */
        bool container = false;

        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
            ;                                   /* fixint, nil, bool */
        else
        if (b >= 0xa0 && b <= 0xbf)
            body = b & 0x1f;                    /* fixstr */
        else
        if (b >= 0x90 && b <= 0x9f) {
            container = true;                   /* fixarray */
            items = b & 0x0f;
        }
        else
        if (b >= 0x80 && b <= 0x8f) {
            container = true;                   /* fixmap */
            items = 2 * (uint64_t) (b & 0x0f);
        }
        else
        switch (b) {
            case 0xcc: case 0xd0: head = 2; break;          /* 8-bit ints */
            case 0xcd: case 0xd1: head = 3; break;
            case 0xca: case 0xce: case 0xd2: head = 5; break;
            case 0xcb: case 0xcf: case 0xd3: head = 9; break;
            case 0xd4: head = 2; body = 1; break;           /* fixext */
            case 0xd5: head = 2; body = 2; break;
            case 0xd6: head = 2; body = 4; break;
            case 0xd7: head = 2; body = 8; break;
            case 0xd8: head = 2; body = 16; break;
            case 0xc4: case 0xd9: head = 2; break;          /* bin/str 8 */
            case 0xc5: case 0xda: head = 3; break;
            case 0xc6: case 0xdb: head = 5; break;
            case 0xc7: head = 3; break;                     /* ext 8/16/32 */
            case 0xc8: head = 4; break;
            case 0xc9: head = 6; break;
            case 0xdc: head = 3; container = true; break;   /* array 16/32 */
            case 0xdd: head = 5; container = true; break;
            case 0xde: head = 3; container = true; break;   /* map 16/32 */
            case 0xdf: head = 5; container = true; break;
            default:
                snprintf (why, why_size,
                          "malformed msgpack (byte 0x%02x at offset %zu)", b, pos);
                return -1;
        }
        if (head > left)
            goto truncated;
        /*  Variable lengths: read the big-endian count after the marker    */
        switch (b) {
            case 0xc4: case 0xd9: case 0xc5: case 0xda: case 0xc6: case 0xdb:
                body = s_be (data + pos + 1, head - 1);
                break;
            case 0xc7: case 0xc8: case 0xc9:        /* length, then type byte */
                body = s_be (data + pos + 1, head - 2);
                break;
            case 0xdc: case 0xdd:
                items = s_be (data + pos + 1, head - 1);
                break;
            case 0xde: case 0xdf:
                items = 2 * s_be (data + pos + 1, head - 1);
                break;
            default:
                break;
        }
        left -= head;
        if (body > left)
            goto truncated;
        pos += head + (size_t) body;
        if (container && items > 0) {
            /*  Every element takes at least one byte                       */
            if (items > left)
                goto truncated;
            if (level + 1 > PROTO_SCAN_DEPTH) {
                snprintf (why, why_size, "nested deeper than %d levels",
                          PROTO_SCAN_DEPTH);
                return -1;
            }
            pending[++level] = items;
        }
    }
    if (pos != size) {
        snprintf (why, why_size, "%zu trailing bytes after the map", size - pos);
        return -1;
    }
    return 0;

truncated:
    snprintf (why, why_size, "truncated msgpack (frame of %zu bytes ends too early)", size);
    return -1;
}
