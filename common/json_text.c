/*  json_text.c - bytes and wire strings as JSON strings (see json_text.h). */
#include "json_text.h"
#include "b64.h"
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

/*  A JSON string of len bytes of text (valid UTF-8), which it frees.       */
static json_t *
s_take (char *text, size_t len)
{
    json_t *s = text ? json_stringn_nocheck (text, len) : NULL;
    free (text);
    return s;
}

json_t *
jtext_string (const void *data, size_t size)
{
    if (!size)
        return json_string ("");
    if (utf8_is_text (data, size))
        return json_stringn_nocheck (data, size);
    size_t len = 0;
    char *lossy = utf8_lossy (data, size, &len);
    return s_take (lossy, len);
}

json_t *
jtext_b64 (const void *data, size_t size)
{
    size_t len = 0;
    char *text = b64_encode_new (data, size, &len);
    return s_take (text, len);
}

json_t *
jtext_name (const char *text)
{
    return text ? jtext_string (text, strlen (text)) : json_null ();
}

int
jtext_set_key (json_t *obj, const char *key, json_t *value)
{
    size_t len = strlen (key);
    if (utf8_valid (key, len))
        return json_object_set_new (obj, key, value);
    char *lossy = utf8_lossy (key, len, NULL);
    if (!lossy) {
        json_decref (value);
        return -1;
    }
    int rc = json_object_set_new (obj, lossy, value);
    free (lossy);
    return rc;
}

int
jtext_split_files (const proto_file_t *files, size_t count, json_t *text, json_t *b64)
{
    int rc = text && b64 ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const proto_bytes_t *c = &files[i].content;
        if (utf8_is_text (c->data, c->size))
            rc = jtext_set_key (text, files[i].path, jtext_string (c->data, c->size));
        else
            rc = jtext_set_key (b64, files[i].path, jtext_b64 (c->data, c->size));
    }
    return rc;
}
