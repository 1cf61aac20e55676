/*  json_text.h - bytes and wire strings as JSON strings (jansson).

    JSON strings must be valid UTF-8; bytes and names from the wire need
    not be. The rule for text is utf8_is_text (); these helpers are the
    only place where bytes become JSON strings, so the HTTP API and
    `cleudo --json` cannot drift apart.
*/
#ifndef JSON_TEXT_H_INCLUDED
#define JSON_TEXT_H_INCLUDED

#include <jansson.h>
#include <stddef.h>

#include "proto.h"

/*  Bytes as a JSON string: the bytes themselves when they are text, else
    their lossy form (U+FFFD replacements). NULL when out of memory.        */
json_t *jtext_string (const void *data, size_t size);

/*  Bytes as a JSON string holding their standard base64.                   */
json_t *jtext_b64 (const void *data, size_t size);

/*  A NUL-free C string from the wire (worker id, path, error) as JSON:
    jtext_string () of its bytes, or JSON null when text is NULL.           */
json_t *jtext_name (const char *text);

/*  obj[key] = value where key is a C string from the wire (jansson refuses
    keys that are not UTF-8: such a key goes in its lossy form). Steals
    value, also on failure. 0 or -1.                                        */
int jtext_set_key (json_t *obj, const char *key, json_t *value);

/*  Files into two objects: text[path] = contents for the files that are
    text, b64[path] = base64 for the others (each file in exactly one). 0,
    or -1 (also when text or b64 is NULL).                                  */
int jtext_split_files (const proto_file_t *files, size_t count, json_t *text, json_t *b64);

#endif
