/*  proto_arena.c - chunked bump allocator holding one decoded message.

    A decoded message owns exactly one arena; every string, array and byte
    payload of the message is carved out of it, and the message struct
    itself lives in it too. Destroying the arena frees the lot. The first
    chunk is sized from the frame, so a typical message costs one malloc.
*/
#include "proto_internal.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN       (alignof (max_align_t))
#define CHUNK_MIN   1024

typedef struct s_chunk_t {
    struct s_chunk_t *next;             /* older chunk, freed with this one */
    size_t size;                        /* usable bytes in data */
    size_t used;                        /* bytes handed out */
    alignas (max_align_t) unsigned char data[];
} s_chunk_t;

struct proto_arena_t {
    s_chunk_t *head;                    /* current chunk (newest) */
    size_t next_size;                   /* size of the next chunk to make */
};

static s_chunk_t *
s_chunk_new (size_t size)
{
    if (size > SIZE_MAX - sizeof (s_chunk_t))
        return NULL;
    s_chunk_t *chunk = (s_chunk_t *) malloc (sizeof (s_chunk_t) + size);
    if (!chunk)
        return NULL;
    chunk->next = NULL;
    chunk->size = size;
    chunk->used = 0;
    return chunk;
}

proto_arena_t *
proto_arena_new (size_t first_chunk)
{
    if (first_chunk < CHUNK_MIN)
        first_chunk = CHUNK_MIN;
    s_chunk_t *chunk = s_chunk_new (first_chunk);
    if (!chunk)
        return NULL;
    /*  The arena's own header is the first allocation of its first chunk  */
    proto_arena_t *self = (proto_arena_t *) chunk->data;
    chunk->used = (sizeof (proto_arena_t) + ALIGN - 1) & ~(ALIGN - 1);
    self->head = chunk;
    self->next_size = first_chunk;
    return self;
}

void
proto_arena_destroy (proto_arena_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_chunk_t *chunk = (*self_p)->head;
    *self_p = NULL;
    while (chunk) {
        s_chunk_t *next = chunk->next;
        free (chunk);               /* the first chunk holds the header */
        chunk = next;
    }
}

void *
proto_arena_alloc (proto_arena_t *self, size_t size)
{
    if (size > SIZE_MAX / 2)
        return NULL;
    size_t need = (size + ALIGN - 1) & ~(ALIGN - 1);
    if (need == 0)
        need = ALIGN;
    s_chunk_t *chunk = self->head;
    if (chunk->size - chunk->used < need) {
        /*  Grow geometrically; a big request gets a chunk of its own      */
        if (self->next_size < SIZE_MAX / 4)
            self->next_size *= 2;
        size_t size_new = need > self->next_size ? need : self->next_size;
        s_chunk_t *fresh = s_chunk_new (size_new);
        if (!fresh)
            return NULL;
        fresh->next = chunk;
        self->head = fresh;
        chunk = fresh;
    }
    void *ptr = chunk->data + chunk->used;
    chunk->used += need;
    return ptr;
}

void *
proto_arena_calloc (proto_arena_t *self, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / 2 / size)
        return NULL;
    void *ptr = proto_arena_alloc (self, n * size);
    if (ptr)
        memset (ptr, 0, n * size);
    return ptr;
}

char *
proto_arena_strndup (proto_arena_t *self, const char *str, size_t len)
{
    char *copy = (char *) proto_arena_alloc (self, len + 1);
    if (!copy)
        return NULL;
    if (len)
        memcpy (copy, str, len);
    copy[len] = '\0';
    return copy;
}
