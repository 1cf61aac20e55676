/*  proto_internal.h - private to proto/: the arena of decoded messages and
    the helpers shared by the encoder and the decoder. Not for other
    components (they include proto.h only).
*/
#ifndef PROTO_INTERNAL_H_INCLUDED
#define PROTO_INTERNAL_H_INCLUDED

#include "proto.h"

/*  Arena: a chunked bump allocator owned by one decoded message. Every
    string, array and byte payload of the message lives in it, so one
    proto_arena_destroy () frees everything.                                */
proto_arena_t *proto_arena_new (size_t first_chunk);
void proto_arena_destroy (proto_arena_t **self_p);
/*  size bytes aligned for any scalar type; NULL when out of memory.
    A zero-byte request returns a valid (non-NULL) pointer.                 */
void *proto_arena_alloc (proto_arena_t *self, size_t size);
/*  n elements of size bytes each, zeroed, with overflow check.             */
void *proto_arena_calloc (proto_arena_t *self, size_t n, size_t size);
/*  Copy of len bytes plus a terminating NUL.                               */
char *proto_arena_strndup (proto_arena_t *self, const char *str, size_t len);

/*  Validation shared by both directions: the bounds the decoder enforces
    are the bounds the encoder refuses to violate.                          */
bool proto_valid_name (const char *str, size_t len, size_t max);

/*  Wire names of the limits, in proto_limits_t order (network excluded).   */
#define PROTO_LIMIT_COUNT_ 6
extern const char *const proto_limit_names[PROTO_LIMIT_COUNT_];
uint64_t *proto_limit_slot (proto_limits_t *limits, size_t index);
uint64_t proto_limit_value (const proto_limits_t *limits, size_t index);
uint64_t proto_limit_absurd (size_t index);

#endif
