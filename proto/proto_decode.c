/*  proto_decode.c - frame -> proto_msg_t: the decoder's machinery.

    A frame goes through four gates, each with one error exit that fills
    proto_error_t (zgossip_msg style: nothing read before it is checked):
      1. size: empty, or above the cap;
      2. proto_scan (): well-formed msgpack, one object, no trailing bytes,
         bounded nesting and object count;
      3. msgpack-c builds the object tree (its allocations now bounded);
      4. the header ("v", "type", "req", "token") and the body are decoded
         table-driven (proto_body.c) into a message that lives, with
         every string and byte payload it points to, in its own arena.
    Before gate 4 a first look at the top-level map picks up "id", "attempt"
    and "req", so that any later error still names the task or request it
    belongs to.
*/
#include "proto_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/*  ---- errors and field paths -------------------------------------------  */

/*  Copies at most max bytes of untrusted text into out, printable ASCII
    only (anything else becomes '?'), so error fields and messages are
    safe to log and to send back.                                           */
void
dec_sanitize (char *out, size_t out_size, const char *text, size_t len, size_t max)
{
    size_t n = 0;
    bool cut = len > max;
    if (cut)
        len = max;
    for (size_t i = 0; i < len && n + 1 < out_size; i++) {
        unsigned char c = (unsigned char) text[i];
        out[n++] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
    }
    for (int i = 0; cut && i < 3 && n + 1 < out_size; i++)
        out[n++] = '.';
    if (out_size)
        out[n] = '\0';
}

/*  "limits.wall_ms", "argv[2]", "items[3].task.files[a/../b]"              */
static void
s_render_path (const dec_t *dec, char *out, size_t size)
{
    size_t n = 0;
    size_t depth = dec->depth < DEC_SEGS_MAX ? dec->depth : DEC_SEGS_MAX;
    out[0] = '\0';
    for (size_t i = 0; i < depth && n + 1 < size; i++) {
        const dec_seg_t *seg = &dec->segs[i];
        char clean[64];
        int wrote;
        if (seg->kind == SEG_INDEX)
            wrote = snprintf (out + n, size - n, "[%zu]", seg->len);
        else {
            dec_sanitize (clean, sizeof clean, seg->text, seg->len,
                          seg->kind == SEG_USER ? 48 : 40);
            if (seg->kind == SEG_USER)
                wrote = snprintf (out + n, size - n, "[%s]", clean);
            else
                wrote = snprintf (out + n, size - n, "%s%s", n ? "." : "", clean);
        }
        if (wrote < 0)
            break;
        n += (size_t) wrote;
    }
}

int
dec_fail (dec_t *dec, const char *fmt, ...)
{
    if (!dec->failed) {
        dec->failed = true;
        s_render_path (dec, dec->err->field, sizeof dec->err->field);
        va_list args;
        va_start (args, fmt);
        vsnprintf (dec->err->message, sizeof dec->err->message, fmt, args);
        va_end (args);
    }
    return -1;
}

static size_t
s_push (dec_t *dec, int kind, const char *text, size_t len)
{
    size_t mark = dec->depth;
    if (dec->depth < DEC_SEGS_MAX)
        dec->segs[dec->depth] = (dec_seg_t) { kind, text, len };
    dec->depth++;
    return mark;
}

size_t
dec_push_key (dec_t *dec, const char *key, size_t len)
{
    return s_push (dec, SEG_KEY, key, len);
}

size_t
dec_push_index (dec_t *dec, size_t index)
{
    return s_push (dec, SEG_INDEX, NULL, index);
}

/*  A key chosen by the sender (env name, file path): "[key]", sanitized    */
size_t
dec_push_user (dec_t *dec, const char *key, size_t len)
{
    return s_push (dec, SEG_USER, key, len);
}

void
dec_pop (dec_t *dec, size_t mark)
{
    dec->depth = mark;
}

/*  ---- scalars --------------------------------------------------------  */

const char *
dec_kind_name (const msgpack_object *obj)
{
    switch (obj->type) {
        case MSGPACK_OBJECT_NIL:                return "nil";
        case MSGPACK_OBJECT_BOOLEAN:            return "bool";
        case MSGPACK_OBJECT_POSITIVE_INTEGER:   return "int";
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:   return "negative int";
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:            return "float";
        case MSGPACK_OBJECT_STR:                return "str";
        case MSGPACK_OBJECT_BIN:                return "bin";
        case MSGPACK_OBJECT_ARRAY:              return "array";
        case MSGPACK_OBJECT_MAP:                return "map";
        case MSGPACK_OBJECT_EXT:                return "ext";
    }
    return "unknown";
}

int
dec_expect (dec_t *dec, const msgpack_object *obj, const char *want)
{
    return dec_fail (dec, "expected %s, got %s", want, dec_kind_name (obj));
}

int
dec_uint (dec_t *dec, const msgpack_object *obj, uint64_t min, uint64_t max,
          uint64_t *out)
{
    if (obj->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return dec_expect (dec, obj, "uint");
    uint64_t value = obj->via.u64;
    if (value < min)
        return dec_fail (dec, "must be at least %" PRIu64, min);
    if (value > max)
        return dec_fail (dec, "must be at most %" PRIu64, max);
    *out = value;
    return 0;
}

int
dec_int (dec_t *dec, const msgpack_object *obj, int64_t *out)
{
    if (obj->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = obj->via.i64;
        return 0;
    }
    if (obj->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return dec_expect (dec, obj, "int");
    if (obj->via.u64 > (uint64_t) INT64_MAX)
        return dec_fail (dec, "must be at most %" PRId64, INT64_MAX);
    *out = (int64_t) obj->via.u64;
    return 0;
}

/*  Any str without NUL bytes, copied into the arena.                       */
int
dec_text (dec_t *dec, const msgpack_object *obj, const char **out)
{
    if (obj->type != MSGPACK_OBJECT_STR)
        return dec_expect (dec, obj, "str");
    const char *ptr = obj->via.str.ptr;
    size_t len = obj->via.str.size;
    if (len && memchr (ptr, '\0', len))
        return dec_fail (dec, "must not contain a NUL byte");
    char *copy = proto_arena_strndup (dec->arena, ptr, len);
    if (!copy)
        return dec_fail (dec, "out of memory");
    *out = copy;
    return 0;
}

/*  A name: 1..max bytes, no control characters (so it can be shown).       */
int
dec_name (dec_t *dec, const msgpack_object *obj, size_t max, const char **out)
{
    if (obj->type != MSGPACK_OBJECT_STR)
        return dec_expect (dec, obj, "str");
    const char *ptr = obj->via.str.ptr;
    size_t len = obj->via.str.size;
    if (len == 0)
        return dec_fail (dec, "must not be empty");
    if (len > max)
        return dec_fail (dec, "is too long (%zu bytes, max %zu)", len, max);
    if (memchr (ptr, '\0', len))
        return dec_fail (dec, "must not contain a NUL byte");
    if (!proto_valid_name (ptr, len, max))
        return dec_fail (dec, "must not contain control characters");
    return dec_text (dec, obj, out);
}

int
dec_id (dec_t *dec, const msgpack_object *obj, const char **out)
{
    if (obj->type != MSGPACK_OBJECT_STR)
        return dec_expect (dec, obj, "str");
    if (!proto_valid_id (obj->via.str.ptr, obj->via.str.size))
        return dec_fail (dec, "must be 1..64 characters of [A-Za-z0-9_-]");
    return dec_text (dec, obj, out);
}

int
dec_path (dec_t *dec, const msgpack_object *obj, const char **out)
{
    if (obj->type != MSGPACK_OBJECT_STR)
        return dec_expect (dec, obj, "str");
    const char *why = NULL;
    if (!proto_valid_rel_path (obj->via.str.ptr, obj->via.str.size, &why))
        return dec_fail (dec, "%s", why);
    return dec_text (dec, obj, out);
}

/*  Byte payload: bin, or str from clients whose language only has strings. */
int
dec_bytes (dec_t *dec, const msgpack_object *obj, proto_bytes_t *out)
{
    const char *ptr;
    size_t len;
    if (obj->type == MSGPACK_OBJECT_BIN) {
        ptr = obj->via.bin.ptr;
        len = obj->via.bin.size;
    }
    else
    if (obj->type == MSGPACK_OBJECT_STR) {
        ptr = obj->via.str.ptr;
        len = obj->via.str.size;
    }
    else
        return dec_expect (dec, obj, "bin");
    out->data = NULL;
    out->size = 0;
    if (len) {
        uint8_t *copy = (uint8_t *) proto_arena_alloc (dec->arena, len);
        if (!copy)
            return dec_fail (dec, "out of memory");
        memcpy (copy, ptr, len);
        out->data = copy;
        out->size = len;
    }
    return 0;
}

/*  ---- maps -------------------------------------------------------------  */

static inline bool
s_key_is (const dec_field_t *f, const char *key, size_t len)
{
    return f->len == len && f->key[0] == key[0] && memcmp (f->key, key, len) == 0;
}

/*  Our own encoder writes keys in table order, so the field after the last
    match is tried first; anything else falls back to a scan of the tables. */
static const dec_field_t *
s_lookup (dec_layer_t *layers, size_t nlayers, const char *key, size_t len,
          size_t *layer_p, size_t *index_p)
{
    if (len == 0)
        return NULL;
    size_t l = *layer_p, i = *index_p + 1;
    if (l < nlayers && i >= layers[l].count) {
        l++;
        i = 0;
    }
    if (l < nlayers && i < layers[l].count && s_key_is (&layers[l].fields[i], key, len)) {
        *layer_p = l;
        *index_p = i;
        return &layers[l].fields[i];
    }
    for (l = 0; l < nlayers; l++)
        for (i = 0; i < layers[l].count; i++)
            if (s_key_is (&layers[l].fields[i], key, len)) {
                *layer_p = l;
                *index_p = i;
                return &layers[l].fields[i];
            }
    return NULL;
}

static int
s_status (dec_t *dec, const msgpack_object *val, bool terminal, proto_status_t *out)
{
    if (val->type != MSGPACK_OBJECT_STR)
        return dec_expect (dec, val, "str");
    char name[32];
    proto_status_t status;
    dec_sanitize (name, sizeof name, val->via.str.ptr, val->via.str.size, 20);
    if (val->via.str.size >= sizeof name
    ||  memchr (val->via.str.ptr, '\0', val->via.str.size)
    ||  proto_status_parse (name, &status))
        return dec_fail (dec, "unknown status \"%s\"", name);
    if (terminal && !proto_status_is_terminal (status))
        return dec_fail (dec, "status \"%s\" is not terminal", name);
    *out = status;
    return 0;
}

static int
s_field (dec_t *dec, const dec_field_t *f, const msgpack_object *val, void *base)
{
    unsigned char *target = (unsigned char *) base + f->off;
    uint64_t u = 0;
    int64_t i = 0;
    int rc = 0;
    switch (f->kind) {
        case K_SKIP:
            break;
        case K_ID:
            rc = dec_id (dec, val, (const char **) target);
            break;
        case K_NAME:
            rc = dec_name (dec, val, PROTO_NAME_MAX, (const char **) target);
            break;
        case K_TEXT:
            rc = dec_text (dec, val, (const char **) target);
            break;
        case K_U32:
            rc = dec_uint (dec, val, f->min, f->max, &u);
            if (rc == 0)
                *(uint32_t *) target = (uint32_t) u;
            break;
        case K_U64:
            rc = dec_uint (dec, val, f->min, f->max, (uint64_t *) target);
            break;
        case K_I64:
            rc = dec_int (dec, val, (int64_t *) target);
            break;
        case K_INT_NIL:
            if (val->type != MSGPACK_OBJECT_POSITIVE_INTEGER
            &&  val->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
                return dec_expect (dec, val, "int or nil");
            rc = dec_int (dec, val, &i);
            if (rc == 0)
                *(int64_t *) target = i;
            break;
        case K_BOOL:
            if (val->type != MSGPACK_OBJECT_BOOLEAN)
                return dec_expect (dec, val, "bool");
            *(bool *) target = val->via.boolean;
            break;
        case K_BYTES:
            rc = dec_bytes (dec, val, (proto_bytes_t *) target);
            break;
        case K_STATUS:
        case K_TERMINAL:
            rc = s_status (dec, val, f->kind == K_TERMINAL, (proto_status_t *) target);
            break;
        case K_LIMIT:
            /*  Anything that is not a positive integer gets one message    */
            if (val->type != MSGPACK_OBJECT_POSITIVE_INTEGER || val->via.u64 == 0)
                return dec_fail (dec, "must be a positive integer");
            if (val->via.u64 > f->max)
                return dec_fail (dec, "is absurd (max %" PRIu64 ")", f->max);
            *(uint64_t *) target = val->via.u64;
            break;
        case K_NETWORK:
            if (val->type != MSGPACK_OBJECT_BOOLEAN)
                return dec_expect (dec, val, "bool");
            *(int *) target = val->via.boolean ? 1 : 0;
            break;
        case K_FN:
            return f->fn (dec, val, target,
                          f->aux == NO_AUX ? NULL : (unsigned char *) base + f->aux);
    }
    /*  A has_ flag (has_stdin, has_exit_code, has_wait) records presence   */
    if (rc == 0 && f->aux != NO_AUX)
        *((bool *) ((unsigned char *) base + f->aux)) = true;
    return rc;
}

int
dec_map (dec_t *dec, const msgpack_object *obj, dec_layer_t *layers, size_t nlayers)
{
    if (obj->type != MSGPACK_OBJECT_MAP)
        return dec_expect (dec, obj, "map");
    const msgpack_object_kv *kv = obj->via.map.ptr;
    size_t at_layer = 0, at_index = (size_t) -1;    /* last match */
    for (uint32_t n = 0; n < obj->via.map.size; n++) {
        const msgpack_object *key = &kv[n].key;
        if (key->type != MSGPACK_OBJECT_STR)
            return dec_fail (dec, "map keys must be str, got %s", dec_kind_name (key));
        const dec_field_t *f = s_lookup (layers, nlayers, key->via.str.ptr,
                                         key->via.str.size, &at_layer, &at_index);
        if (!f)
            continue;               /* unknown keys are ignored */
        dec_layer_t *layer = &layers[at_layer];
        size_t index = at_index;
        size_t mark = dec_push_key (dec, f->key, f->len);
        if (layer->seen & (1ull << index))
            return dec_fail (dec, "duplicate key");
        layer->seen |= 1ull << index;
        /*  nil for an optional key means "not given"                      */
        if (!(kv[n].val.type == MSGPACK_OBJECT_NIL && !(f->flags & F_REQ))) {
            if (s_field (dec, f, &kv[n].val, layer->base))
                return -1;
            layer->given |= 1ull << index;
        }
        dec_pop (dec, mark);
    }
    for (size_t l = 0; l < nlayers; l++)
        for (size_t i = 0; i < layers[l].count; i++) {
            const dec_field_t *f = &layers[l].fields[i];
            if ((f->flags & F_REQ) && !(layers[l].seen & (1ull << i))) {
                dec_push_key (dec, f->key, f->len);
                return dec_fail (dec, "missing");
            }
        }
    return 0;
}

bool
dec_seen (const dec_layer_t *layer, const char *key)
{
    for (size_t i = 0; i < layer->count; i++)
        if (strcmp (layer->fields[i].key, key) == 0)
            return (layer->given >> i) & 1;
    return false;
}

/*  ---- the frame ----------------------------------------------------------  */

static const char *const s_channel_names[] = {
    "", "tasks", "results", "control", "submit", "reply"
};

/*  First look at the top-level map: the values of "v", "type", "id", "req"
    and "attempt" (first occurrence; duplicates are caught later).          */
static void
s_peek (const msgpack_object *map, const msgpack_object **found)
{
    static const char *const keys[] = { "v", "type", "id", "req", "attempt" };
    static const size_t lens[] = { 1, 4, 2, 3, 7 };
    for (size_t k = 0; k < 5; k++)
        found[k] = NULL;
    for (uint32_t n = 0; n < map->via.map.size; n++) {
        const msgpack_object *key = &map->via.map.ptr[n].key;
        if (key->type != MSGPACK_OBJECT_STR || key->via.str.size > 7)
            continue;
        for (size_t k = 0; k < 5; k++)
            if (!found[k] && key->via.str.size == lens[k]
            &&  memcmp (key->via.str.ptr, keys[k], lens[k]) == 0)
                found[k] = &map->via.map.ptr[n].val;
    }
}

static int
s_header (dec_t *dec, proto_channel_t channel, const msgpack_object *root,
          proto_type_t *type)
{
    const msgpack_object *found[5];
    s_peek (root, found);
    const msgpack_object *v = found[0], *name = found[1], *id = found[2], *req = found[3];
    const msgpack_object *attempt = found[4];

    /*  Remember what identifies the frame before judging anything else     */
    if (id && id->type == MSGPACK_OBJECT_STR
    &&  proto_valid_id (id->via.str.ptr, id->via.str.size)) {
        memcpy (dec->err->id, id->via.str.ptr, id->via.str.size);
        dec->err->id[id->via.str.size] = '\0';
    }
    if (req && req->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        dec->err->req = req->via.u64;
        dec->err->has_req = true;
    }
    if (attempt && attempt->type == MSGPACK_OBJECT_POSITIVE_INTEGER
    &&  attempt->via.u64 >= 1 && attempt->via.u64 <= UINT32_MAX)
        dec->err->attempt = (uint32_t) attempt->via.u64;

    size_t mark = dec_push_key (dec, "v", 1);
    if (!v)
        return dec_fail (dec, "missing");
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (v->via.u64 != PROTO_VERSION)
            return dec_fail (dec, "unsupported version %" PRIu64, v->via.u64);
    }
    else
    if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return dec_fail (dec, "unsupported version %" PRId64, v->via.i64);
    else
        return dec_expect (dec, v, "int");
    dec_pop (dec, mark);

    dec_push_key (dec, "type", 4);
    if (!name)
        return dec_fail (dec, "missing");
    if (name->type != MSGPACK_OBJECT_STR)
        return dec_expect (dec, name, "str");
    const char *ptr = name->via.str.ptr;
    size_t len = name->via.str.size;
    const char *other = NULL;
    for (int t = PROTO_NONE + 1; t < PROTO_TYPE_COUNT_; t++) {
        const char *wire = proto_type_name ((proto_type_t) t);
        if (strlen (wire) != len || memcmp (wire, ptr, len) != 0)
            continue;
        proto_channel_t home = proto_type_channel ((proto_type_t) t);
        if (home == channel) {
            *type = (proto_type_t) t;
            dec_pop (dec, mark);
            return 0;
        }
        other = s_channel_names[home];
    }
    char clean[48];
    dec_sanitize (clean, sizeof clean, ptr, len, 32);
    if (other)
        return dec_fail (dec, "type \"%s\" is not valid on the %s socket",
                         clean, s_channel_names[channel]);
    return dec_fail (dec, "unknown type \"%s\"", clean);
}

proto_msg_t *
proto_decode (proto_channel_t channel, const void *data, size_t size,
              size_t max_size, proto_error_t *err)
{
    proto_error_t err_local;
    if (!err)
        err = &err_local;
    memset (err, 0, sizeof *err);
    if (max_size == 0)
        max_size = PROTO_MAX_FRAME_DEFAULT;

    dec_t dec = { .err = err };
    msgpack_unpacked unpacked;
    bool unpacked_live = false;
    proto_msg_t *msg = NULL;
    const uint8_t *bytes = (const uint8_t *) data;
    char why[sizeof err->message];

    if (channel < PROTO_CH_TASKS || channel > PROTO_CH_REPLY) {
        dec_fail (&dec, "unknown channel %d", (int) channel);
        goto malformed;
    }
    if (size == 0 || !data) {
        dec_fail (&dec, "empty frame");
        goto malformed;
    }
    if (size > max_size) {
        dec_fail (&dec, "frame of %zu bytes exceeds the cap of %zu", size, max_size);
        goto malformed;
    }
    uint8_t first = bytes[0];
    if (!((first >= 0x80 && first <= 0x8f) || first == 0xde || first == 0xdf)) {
        if (first == 0xc1)
            dec_fail (&dec, "malformed msgpack (byte 0xc1 at offset 0)");
        else {
            /*  Name what it is from the marker alone                       */
            msgpack_object probe = { .type = MSGPACK_OBJECT_NIL };
            if (first <= 0x7f || (first >= 0xcc && first <= 0xd3))
                probe.type = MSGPACK_OBJECT_POSITIVE_INTEGER;   /* "int" */
            else if (first >= 0xe0)
                probe.type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
            else if (first == 0xc2 || first == 0xc3)
                probe.type = MSGPACK_OBJECT_BOOLEAN;
            else if (first == 0xca || first == 0xcb)
                probe.type = MSGPACK_OBJECT_FLOAT64;
            else if ((first >= 0xa0 && first <= 0xbf) || (first >= 0xd9 && first <= 0xdb))
                probe.type = MSGPACK_OBJECT_STR;
            else if (first >= 0xc4 && first <= 0xc6)
                probe.type = MSGPACK_OBJECT_BIN;
            else if ((first >= 0x90 && first <= 0x9f) || first == 0xdc || first == 0xdd)
                probe.type = MSGPACK_OBJECT_ARRAY;
            else if (first != 0xc0)
                probe.type = MSGPACK_OBJECT_EXT;
            dec_fail (&dec, "expected a map, got %s", dec_kind_name (&probe));
        }
        goto malformed;
    }
    if (proto_scan (bytes, size, why, sizeof why)) {
        dec_fail (&dec, "%s", why);
        goto malformed;
    }

    msgpack_unpacked_init (&unpacked);
    unpacked_live = true;
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack_next (&unpacked, (const char *) data,
                                                    size, &off);
    if (rc != MSGPACK_UNPACK_SUCCESS || off != size) {
        dec_fail (&dec, rc == MSGPACK_UNPACK_NOMEM_ERROR ? "out of memory"
                                                        : "malformed msgpack");
        goto malformed;
    }
    const msgpack_object *root = &unpacked.data;
    if (root->type != MSGPACK_OBJECT_MAP) {
        dec_expect (&dec, root, "a map");
        goto malformed;
    }
    proto_type_t type = PROTO_NONE;
    if (s_header (&dec, channel, root, &type))
        goto malformed;

    /*  The message lives in its own arena, sized so that one chunk holds a
        typical frame's strings, payloads and arrays.                       */
    size_t first_chunk = sizeof (proto_msg_t) + size + size / 2 + 512;
    proto_arena_t *arena = proto_arena_new (first_chunk);
    if (arena)
        msg = (proto_msg_t *) proto_arena_calloc (arena, 1, sizeof *msg);
    if (!msg) {
        proto_arena_destroy (&arena);
        dec_fail (&dec, "out of memory");
        goto malformed;
    }
    msg->arena = arena;
    msg->type = type;
    dec.arena = arena;
    if (dec_body (&dec, msg, root))
        goto malformed;

    msgpack_unpacked_destroy (&unpacked);
    return msg;

malformed:
    if (unpacked_live)
        msgpack_unpacked_destroy (&unpacked);
    proto_msg_destroy (&msg);
    if (!dec.failed)
        dec_fail (&dec, "invalid frame");
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
