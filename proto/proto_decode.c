/*  proto_decode.c - (placeholder, being written)                          */
#include "proto_internal.h"

#include <stdio.h>
#include <string.h>

proto_msg_t *
proto_decode (proto_channel_t channel, const void *data, size_t size,
              size_t max_size, proto_error_t *err)
{
    (void) channel; (void) data; (void) size; (void) max_size;
    if (err) {
        memset (err, 0, sizeof *err);
        snprintf (err->message, sizeof err->message, "decoder not implemented yet");
    }
    return NULL;
}

void
proto_msg_destroy (proto_msg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    proto_arena_t *arena = (*self_p)->arena;
    *self_p = NULL;
    proto_arena_destroy (&arena);
}
