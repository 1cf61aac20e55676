/*  task_json.c - JSON task map -> proto_task_t, validated.                 */
#include "task_json.h"
#include "b64.h"
#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  Field name shown in errors: at most this many bytes of a user key.     */
#define KEY_SHOWN 64

static const char *const s_top_keys[] = {
    "argv", "lang", "code", "code_b64", "stdin", "stdin_b64", "env", "files",
    "files_b64", "limits", "collect",
};
#define TOP_KEYS (sizeof s_top_keys / sizeof s_top_keys[0])

/*  Limits in proto_limits_t order, with their upper bounds.                */
static const struct {
    const char *name;
    size_t offset;
    uint64_t max;
} s_limits[] = {
    { "wall_ms",      offsetof (proto_limits_t, wall_ms),      PROTO_LIMIT_ABSURD_MS },
    { "cpu_ms",       offsetof (proto_limits_t, cpu_ms),       PROTO_LIMIT_ABSURD_MS },
    { "memory_bytes", offsetof (proto_limits_t, memory_bytes), PROTO_LIMIT_ABSURD_BYTES },
    { "processes",    offsetof (proto_limits_t, processes),    PROTO_LIMIT_ABSURD_COUNT },
    { "output_bytes", offsetof (proto_limits_t, output_bytes), PROTO_LIMIT_ABSURD_BYTES },
    { "file_bytes",   offsetof (proto_limits_t, file_bytes),   PROTO_LIMIT_ABSURD_BYTES },
};
#define LIMITS (sizeof s_limits / sizeof s_limits[0])

static int
s_bad (orch_err_t *err, const char *field, const char *message)
{
    return orch_err (err, 400, "bad_request", field, "%s", message);
}

/*  "name[key]" with the key cut to KEY_SHOWN bytes (on a UTF-8 boundary),
    so error fields stay short and valid.                                   */
static void
s_field_key (char *out, size_t size, const char *name, const char *key, size_t len)
{
    size_t shown = len > KEY_SHOWN ? utf8_cut (key, KEY_SHOWN) : len;
    snprintf (out, size, "%s[%.*s%s]", name, (int) shown, key, shown < len ? "..." : "");
}

static void *
s_keep (orch_task_in_t *self, void *block)
{
    if (!block)
        return NULL;
    if (self->block_count == self->block_cap) {
        size_t cap = self->block_cap ? self->block_cap * 2 : 8;
        void **grown = realloc (self->blocks, cap * sizeof *grown);
        if (!grown) {
            free (block);
            return NULL;
        }
        self->blocks = grown;
        self->block_cap = cap;
    }
    self->blocks[self->block_count++] = block;
    return block;
}

static void *
s_alloc (orch_task_in_t *self, size_t n, size_t size)
{
    return s_keep (self, calloc (n ? n : 1, size));
}

void
orch_task_in_free (orch_task_in_t *self)
{
    for (size_t i = 0; i < self->block_count; i++)
        free (self->blocks[i]);
    free (self->blocks);
    json_decref (self->root);
    memset (self, 0, sizeof *self);
}

static int
s_oom (orch_err_t *err)
{
    return orch_err (err, 500, "internal", NULL, "out of memory");
}

/*  A JSON string without NUL, as a C string (points into the json_t).     */
static int
s_cstring (const json_t *value, const char *field, const char **out, orch_err_t *err)
{
    if (!json_is_string (value))
        return s_bad (err, field, "must be a string");
    const char *text = json_string_value (value);
    if (strlen (text) != json_string_length (value))
        return s_bad (err, field, "must not contain a NUL character");
    *out = text;
    return 0;
}

/*  Bytes from a text string (UTF-8 as sent) or a base64 string.           */
static int
s_bytes (orch_task_in_t *self, const json_t *value, bool b64, const char *field,
         proto_bytes_t *out, orch_err_t *err)
{
    if (!json_is_string (value))
        return s_bad (err, field, b64 ? "must be a base64 string" : "must be a string");
    const char *text = json_string_value (value);
    size_t len = json_string_length (value);
    if (!b64) {
        out->data = (const uint8_t *) text;
        out->size = len;
        return 0;
    }
    uint8_t *data;
    size_t size, bad_at;
    const char *why;
    if (b64_decode (text, len, &data, &size, &bad_at, &why)) {
        if (strcmp (why, "out of memory") == 0)
            return s_oom (err);
        return orch_err (err, 400, "bad_request", field,
                         "invalid base64 (%s at offset %zu)", why, bad_at);
    }
    if (!s_keep (self, data))
        return s_oom (err);
    out->data = data;
    out->size = size;
    return 0;
}

static int
s_argv (orch_task_in_t *self, const json_t *value, orch_err_t *err)
{
    size_t n = json_is_array (value) ? json_array_size (value) : 0;
    if (n == 0)
        return s_bad (err, "argv", "must be a non-empty array of strings");
    if (n > PROTO_ARGV_MAX)
        return orch_err (err, 400, "bad_request", "argv", "has too many entries (%zu, max %d)",
                         n, PROTO_ARGV_MAX);
    const char **argv = s_alloc (self, n + 1, sizeof *argv);
    if (!argv)
        return s_oom (err);
    for (size_t i = 0; i < n; i++) {
        char field[32];
        snprintf (field, sizeof field, "argv[%zu]", i);
        if (s_cstring (json_array_get (value, i), field, &argv[i], err))
            return -1;
    }
    if (argv[0][0] == '\0')
        return s_bad (err, "argv[0]", "must not be empty");
    self->task.argv = argv;
    self->task.argc = n;
    return 0;
}

static int
s_env (orch_task_in_t *self, const json_t *value, orch_err_t *err)
{
    if (!json_is_object (value))
        return s_bad (err, "env", "must be an object of string values");
    size_t n = json_object_size (value);
    if (n > PROTO_ENV_MAX)
        return orch_err (err, 400, "bad_request", "env", "has too many entries (%zu, max %d)",
                         n, PROTO_ENV_MAX);
    proto_env_t *env = s_alloc (self, n + 1, sizeof *env);
    if (!env)
        return s_oom (err);
    const char *key;
    size_t key_len;
    json_t *item;
    size_t i = 0;
    json_object_keylen_foreach ((json_t *) value, key, key_len, item) {
        char field[KEY_SHOWN + 32];
        s_field_key (field, sizeof field, "env", key, key_len);
        if (!proto_valid_env_key (key, key_len))
            return s_bad (err, field, "invalid name: must match [A-Za-z_][A-Za-z0-9_]*"
                          " (at most 256 characters)");
        env[i].key = key;
        if (s_cstring (item, field, &env[i].value, err))
            return -1;
        i++;
    }
    self->task.env = env;
    self->task.env_count = n;
    return 0;
}

static int
s_path (const char *name, const char *key, size_t len, char *field, size_t field_size,
        orch_err_t *err)
{
    s_field_key (field, field_size, name, key, len);
    const char *why = NULL;
    if (!proto_valid_rel_path (key, len, &why))
        return s_bad (err, field, why ? why : "invalid relative path");
    return 0;
}

/*  files (text) and files_b64 (base64) into one list; a path may appear in
    only one of them.                                                       */
static int
s_files (orch_task_in_t *self, const json_t *text, const json_t *b64, orch_err_t *err)
{
    if (text && !json_is_object (text))
        return s_bad (err, "files", "must be an object of relative path -> text");
    if (b64 && !json_is_object (b64))
        return s_bad (err, "files_b64", "must be an object of relative path -> base64");
    size_t n = (text ? json_object_size (text) : 0) + (b64 ? json_object_size (b64) : 0);
    if (n > PROTO_FILES_MAX)
        return orch_err (err, 400, "bad_request", "files", "has too many entries (%zu, max %d)",
                         n, PROTO_FILES_MAX);
    proto_file_t *files = s_alloc (self, n + 1, sizeof *files);
    if (!files)
        return s_oom (err);
    size_t count = 0;
    for (int pass = 0; pass < 2; pass++) {
        const json_t *map = pass ? b64 : text;
        const char *name = pass ? "files_b64" : "files";
        if (!map)
            continue;
        const char *key;
        size_t key_len;
        json_t *item;
        json_object_keylen_foreach ((json_t *) map, key, key_len, item) {
            char field[KEY_SHOWN + 32];
            if (s_path (name, key, key_len, field, sizeof field, err))
                return -1;
            if (pass && text && json_object_getn (text, key, key_len))
                return s_bad (err, field, "is also given in files");
            files[count].path = key;
            if (s_bytes (self, item, pass == 1, field, &files[count].content, err))
                return -1;
            count++;
        }
    }
    self->task.files = files;
    self->task.file_count = count;
    return 0;
}

static int
s_limits_parse (orch_task_in_t *self, const json_t *value, orch_err_t *err)
{
    proto_limits_t *limits = &self->task.limits;
    if (!json_is_object (value))
        return s_bad (err, "limits", "must be an object");
    const char *key;
    json_t *item;
    json_object_foreach ((json_t *) value, key, item) {
        /*  Cut a long key on a character boundary (fuzz regression
            limits-key-cut-inside-utf8): error fields stay valid UTF-8.   */
        char field[KEY_SHOWN + 32];
        size_t key_len = strlen (key);
        size_t shown = key_len > KEY_SHOWN ? utf8_cut (key, KEY_SHOWN) : key_len;
        snprintf (field, sizeof field, "limits.%.*s%s", (int) shown, key,
                  shown < key_len ? "..." : "");
        if (strcmp (key, "network") == 0) {
            if (!json_is_boolean (item))
                return s_bad (err, field, "must be true or false");
            limits->network = json_is_true (item) ? 1 : 0;
            continue;
        }
        size_t i = 0;
        while (i < LIMITS && strcmp (s_limits[i].name, key) != 0)
            i++;
        if (i == LIMITS)
            return s_bad (err, field, "unknown limit (known: wall_ms, cpu_ms, memory_bytes,"
                          " processes, output_bytes, file_bytes, network)");
        if (!json_is_integer (item) || json_integer_value (item) <= 0)
            return s_bad (err, field, "must be a positive integer");
        uint64_t v = (uint64_t) json_integer_value (item);
        if (v > s_limits[i].max)
            return orch_err (err, 400, "bad_request", field, "is absurdly large (%llu, max %llu)",
                             (unsigned long long) v, (unsigned long long) s_limits[i].max);
        *(uint64_t *) ((char *) limits + s_limits[i].offset) = v;
    }
    return 0;
}

static int
s_collect (orch_task_in_t *self, const json_t *value, orch_err_t *err)
{
    if (!json_is_array (value))
        return s_bad (err, "collect", "must be an array of relative paths");
    size_t n = json_array_size (value);
    if (n > PROTO_FILES_MAX)
        return orch_err (err, 400, "bad_request", "collect", "has too many entries (%zu, max %d)",
                         n, PROTO_FILES_MAX);
    const char **collect = s_alloc (self, n + 1, sizeof *collect);
    if (!collect)
        return s_oom (err);
    for (size_t i = 0; i < n; i++) {
        char field[32];
        snprintf (field, sizeof field, "collect[%zu]", i);
        const char *path;
        if (s_cstring (json_array_get (value, i), field, &path, err))
            return -1;
        const char *why = NULL;
        if (!proto_valid_rel_path (path, strlen (path), &why))
            return s_bad (err, field, why ? why : "invalid relative path");
        collect[i] = path;
    }
    self->task.collect = collect;
    self->task.collect_count = n;
    return 0;
}

/*  Exactly one of a text key and its _b64 twin, or neither.               */
static int
s_one_of (const json_t *root, const char *name, const char *b64_name, const json_t **value,
          bool *is_b64, orch_err_t *err)
{
    const json_t *text = json_object_get (root, name);
    const json_t *b64 = json_object_get (root, b64_name);
    if (text && b64)
        return orch_err (err, 400, "bad_request", b64_name, "give %s or %s, not both",
                         name, b64_name);
    *value = text ? text : b64;
    *is_b64 = b64 != NULL;
    return 0;
}

int
orch_task_in_parse (orch_task_in_t *self, json_t *root, orch_err_t *err)
{
    memset (self, 0, sizeof *self);
    self->task.limits.network = -1;
    if (!json_is_object (root))
        return orch_err (err, 400, "bad_request", NULL,
                         "the body must be a JSON object with argv or lang and code");
    self->root = json_incref (root);
    const char *key;
    size_t key_len;
    json_t *value;
    json_object_keylen_foreach (root, key, key_len, value) {
        size_t i = 0;
        while (i < TOP_KEYS && strcmp (s_top_keys[i], key) != 0)
            i++;
        if (i == TOP_KEYS || strlen (key) != key_len) {
            char field[KEY_SHOWN + 8];
            size_t shown = key_len > KEY_SHOWN ? utf8_cut (key, KEY_SHOWN) : key_len;
            snprintf (field, sizeof field, "%.*s", (int) shown, key);
            return s_bad (err, field, "unknown field (known: argv, lang, code, code_b64, stdin,"
                          " stdin_b64, env, files, files_b64, limits, collect)");
        }
    }
    const json_t *argv = json_object_get (root, "argv");
    const json_t *lang = json_object_get (root, "lang");
    const json_t *code;
    bool code_b64, stdin_b64;
    if (s_one_of (root, "code", "code_b64", &code, &code_b64, err))
        return -1;
    if (argv && (code || lang))
        return s_bad (err, "argv", "give either argv or lang with code, not both");
    if (!argv && !code && !lang)
        return s_bad (err, "argv", "required: give argv, or lang with code");
    if (argv && s_argv (self, argv, err))
        return -1;
    if (!argv) {
        if (!lang)
            return s_bad (err, "lang", "required with code (sh, bash or python3)");
        if (!code)
            return s_bad (err, "code", "required with lang (or code_b64)");
        if (!json_is_string (lang) || proto_lang_parse (json_string_value (lang),
                                                        &self->task.lang))
            return s_bad (err, "lang", "must be one of sh, bash, python3");
        if (s_bytes (self, code, code_b64, code_b64 ? "code_b64" : "code", &self->task.code,
                     err))
            return -1;
    }
    const json_t *input;
    if (s_one_of (root, "stdin", "stdin_b64", &input, &stdin_b64, err))
        return -1;
    if (input) {
        if (s_bytes (self, input, stdin_b64, stdin_b64 ? "stdin_b64" : "stdin",
                     &self->task.stdin_data, err))
            return -1;
        self->task.has_stdin = true;
    }
    if ((value = json_object_get (root, "env")) && s_env (self, value, err))
        return -1;
    const json_t *files = json_object_get (root, "files");
    const json_t *files_b64 = json_object_get (root, "files_b64");
    if ((files || files_b64) && s_files (self, files, files_b64, err))
        return -1;
    if ((value = json_object_get (root, "limits")) && s_limits_parse (self, value, err))
        return -1;
    if ((value = json_object_get (root, "collect")) && s_collect (self, value, err))
        return -1;
    return 0;
}

/* --- request bodies -------------------------------------------------------- */

int
orch_json_depth_check (const char *text, size_t len, size_t max, size_t *at)
{
    size_t depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++;                    /* the escaped character */
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '[' || c == '{') {
            if (++depth > max) {
                *at = i;
                return -1;
            }
        }
        else if ((c == ']' || c == '}') && depth)
            depth--;
    }
    return 0;
}

json_t *
orch_json_body (const char *body, size_t len, size_t flags, orch_err_t *err,
                orch_reject_t *why)
{
    size_t at = 0;
    if (orch_json_depth_check (body, len, ORCH_JSON_DEPTH_MAX, &at)) {
        *why = ORCH_REJECT_JSON_TOO_DEEP;
        orch_err (err, 400, "bad_request", NULL, "JSON nested deeper than %d levels (at byte"
                  " %zu)", ORCH_JSON_DEPTH_MAX, at);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb (body, len, flags, &jerr);
    if (root)
        return root;
    if (!utf8_valid (body, len)) {
        *why = ORCH_REJECT_INVALID_UTF8;
        orch_err (err, 400, "bad_request", NULL, "the body is not valid UTF-8 (%s, line %d,"
                  " column %d)", jerr.text, jerr.line, jerr.column);
    }
    else {
        *why = ORCH_REJECT_INVALID_JSON;
        orch_err (err, 400, "bad_request", NULL, "invalid JSON: %s (line %d, column %d)",
                  jerr.text, jerr.line, jerr.column);
    }
    return NULL;
}
