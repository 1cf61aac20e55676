/*  utf8.h - keep text we send as msgpack str valid UTF-8.

    Names from a task (paths, argv[0]) end up quoted in result messages;
    the orchestrator stores and serves those as JSON, which must be UTF-8.
*/
#ifndef SBX_UTF8_H_INCLUDED
#define SBX_UTF8_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

/*  True when len bytes of text are valid UTF-8 (no overlong forms, no
    surrogates, nothing above U+10FFFF).                                    */
bool sbx_utf8_valid (const char *text, size_t len);

/*  Replace each byte that does not start a valid sequence with '?', in
    place (NUL-terminated text).                                            */
void sbx_utf8_fix (char *text);

#endif
