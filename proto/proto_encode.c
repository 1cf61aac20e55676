/*  proto_encode.c - (placeholder, being written)                          */
#include "proto_internal.h"

int
proto_encode (const proto_msg_t *msg, uint8_t **out, size_t *out_size)
{
    (void) msg;
    if (out)
        *out = NULL;
    if (out_size)
        *out_size = 0;
    return -1;
}
