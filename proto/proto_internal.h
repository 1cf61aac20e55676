/*  proto_internal.h - private to proto/: the arena of decoded messages and
    the helpers shared by the encoder and the decoder. Not for other
    components (they include proto.h only).
*/
#ifndef PROTO_INTERNAL_H_INCLUDED
#define PROTO_INTERNAL_H_INCLUDED

#include "proto.h"

#include <msgpack.h>

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

/*  Pre-scan of a frame's raw bytes (proto_scan.c): 0, or -1 with why.     */
#define PROTO_SCAN_DEPTH    8           /* containers inside containers */
#define PROTO_SCAN_OBJECTS  (1 << 20)   /* msgpack objects in one frame */
int proto_scan (const uint8_t *data, size_t size, char *why, size_t why_size);

/*  Looks for a name given twice in an array of structs whose first member
    is a const char * (proto_env_t, proto_file_t, proto_layer_t); stride is
    the struct size. scratch (room for count pointers) or NULL: then it is
    malloc'd when needed. Returns 1 with *dup set, 0 when all names are
    unique, -1 when out of memory.                                          */
int proto_find_duplicate (const void *items, size_t count, size_t stride,
                          const char **scratch, const char **dup);

/*  Layers a hello / worker map may list.                                   */
#define PROTO_LAYERS_MAX    64

/*  ---- decoder internals (proto_decode.c, proto_body.c) ----------------

    Map keys are matched against tables of fields; each field names its
    key, its kind, whether it is required, and where in the target struct
    its value goes (offsetof from the table's base pointer).               */
/*  Where the decoder is, as a stack of path segments rendered into
    err->field only when something fails (building the text for every key
    would cost more than the decoding).                                     */
typedef struct {
    enum { SEG_KEY, SEG_INDEX, SEG_USER } kind;
    const char *text;                   /* KEY, USER: the key (not owned) */
    size_t len;                         /* its length, or the INDEX */
} dec_seg_t;

#define DEC_SEGS_MAX 16

typedef struct {
    proto_arena_t *arena;               /* the message's arena */
    proto_error_t *err;                 /* first error goes here */
    bool failed;                        /* err is filled */
    dec_seg_t segs[DEC_SEGS_MAX];       /* path of the current value */
    size_t depth;                       /* segments in use (may exceed max) */
} dec_t;

typedef enum {
    K_SKIP,                             /* known key, read elsewhere */
    K_ID,                               /* const char *: a task id */
    K_NAME,                             /* const char *: 1..256, printable */
    K_TEXT,                             /* const char *: any str without NUL */
    K_U32,                              /* uint32_t in [min, max] */
    K_U64,                              /* uint64_t in [min, max] */
    K_I64,                              /* int64_t */
    K_INT_NIL,                          /* int64_t, has_ flag at aux */
    K_BOOL,                             /* bool */
    K_BYTES,                            /* proto_bytes_t: bin (or str) */
    K_STATUS,                           /* proto_status_t: any */
    K_TERMINAL,                         /* proto_status_t: terminal only */
    K_LIMIT,                            /* uint64_t in [1, max], own message */
    K_NETWORK,                          /* int: bool -> 0/1 */
    K_FN                                /* fn (dec, value, target, aux) */
} dec_kind_t;

#define F_REQ   1u                      /* key must be present */
#define NO_AUX  ((size_t) -1)

typedef int (dec_fn_t) (dec_t *dec, const msgpack_object *val, void *target, void *aux);

typedef struct {
    const char *key;                    /* wire name */
    size_t len;                         /* strlen (key) */
    dec_kind_t kind;                    /* how to read the value */
    unsigned flags;                     /* F_REQ */
    size_t off;                         /* target offset from the base */
    size_t aux;                         /* has_ flag / count offset or NO_AUX */
    uint64_t min, max;                  /* bounds for K_U32 / K_U64 / K_LIMIT */
    dec_fn_t *fn;                       /* K_FN only */
} dec_field_t;

/*  One table applied to one struct; several layers may share a map.       */
typedef struct {
    const dec_field_t *fields;          /* the table */
    size_t count;                       /* entries (at most 64) */
    void *base;                         /* struct the offsets refer to */
    uint64_t seen;                      /* bit i: fields[i] was present */
    uint64_t given;                     /* bit i: ... and not nil */
} dec_layer_t;

int dec_fail (dec_t *dec, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
int dec_expect (dec_t *dec, const msgpack_object *obj, const char *want);
const char *dec_kind_name (const msgpack_object *obj);
void dec_sanitize (char *out, size_t out_size, const char *text, size_t len, size_t max);
size_t dec_push_key (dec_t *dec, const char *key, size_t len);
size_t dec_push_index (dec_t *dec, size_t index);
size_t dec_push_user (dec_t *dec, const char *key, size_t len);
void dec_pop (dec_t *dec, size_t mark);
int dec_uint (dec_t *dec, const msgpack_object *obj, uint64_t min, uint64_t max,
              uint64_t *out);
int dec_int (dec_t *dec, const msgpack_object *obj, int64_t *out);
int dec_text (dec_t *dec, const msgpack_object *obj, const char **out);
int dec_name (dec_t *dec, const msgpack_object *obj, size_t max, const char **out);
int dec_id (dec_t *dec, const msgpack_object *obj, const char **out);
int dec_path (dec_t *dec, const msgpack_object *obj, const char **out);
int dec_bytes (dec_t *dec, const msgpack_object *obj, proto_bytes_t *out);
int dec_map (dec_t *dec, const msgpack_object *obj, dec_layer_t *layers, size_t nlayers);
/*  The key was present with a non-nil value.                              */
bool dec_seen (const dec_layer_t *layer, const char *key);

/*  proto_body.c: the socket a type belongs to, and the body decoder.       */
proto_channel_t proto_type_channel (proto_type_t type);
int dec_body (dec_t *dec, proto_msg_t *msg, const msgpack_object *root);

#endif
