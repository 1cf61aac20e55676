/*  token.h - the API token: load, generate, compare.

    The token guards every /api route and every submit-socket request. When
    ORCH_API_TOKEN is not set, the orchestrator generates 32 random bytes
    (43 characters of base64url) and writes them, followed by a newline, to
    DATA_DIR/token with mode 0600 (O_CREAT|O_EXCL|O_NOFOLLOW). A valid token
    file that already exists is reused, so restarts keep the token.
*/
#ifndef ORCH_TOKEN_H_INCLUDED
#define ORCH_TOKEN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define ORCH_TOKEN_MIN 16

/*  A usable token: 16..ORCH_TOKEN_MAX printable ASCII characters, no
    spaces (it travels in an HTTP header).                                  */
bool orch_token_valid (const char *token, size_t len);

/*  Read DATA_DIR/token, or create it with a fresh token. Writes the token
    (NUL-terminated) into out and the file path into path. *created tells
    which happened. Returns 0, or -1 with a message in err.                 */
int orch_token_load_or_create (const char *data_dir, char *out, size_t out_size,
                               char *path, size_t path_size, bool *created,
                               char *err, size_t err_size);

/*  Compare a presented token with the real one in time that depends only
    on the real token's length, never on where they differ.                 */
bool orch_token_equal (const char *given, size_t given_len,
                       const char *real, size_t real_len);

#endif
