/*  sessions.h - dashboard logins: the API token exchanged for a cookie.

    A browser must not keep the token (localStorage is readable by any
    script that ever runs on the page), so POST /api/session trades it for
    a random session id in an HttpOnly, SameSite=Strict cookie. Each
    session also has a CSRF token that the page keeps in memory and sends
    as X-CSRF-Token with every request that changes something: a request
    that merely carries the cookie proves nothing about who made it.

    Sessions live in memory only (a restart logs everybody out; the token
    still works) and expire after ORCH_SESSION_TTL_MS. At most max exist;
    the oldest goes when a new one would not fit. Lookups compare in
    constant time.
*/
#ifndef ORCH_SESSIONS_H_INCLUDED
#define ORCH_SESSIONS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ORCH_SESSION_ID_LEN 43          /* base64url of 32 random bytes */
#define ORCH_SESSION_TTL_MS (12 * 3600 * 1000LL)

typedef struct orch_sessions_t orch_sessions_t;

orch_sessions_t *orch_sessions_new (size_t max);
void orch_sessions_destroy (orch_sessions_t **self_p);

/*  A new session: its id and CSRF token (ORCH_SESSION_ID_LEN + 1 bytes
    each) and when it expires (Unix ms). 0 or -1.                          */
int orch_sessions_create (orch_sessions_t *self, int64_t now_ms, char *sid, char *csrf,
                          int64_t *expires_ms);

/*  The live session with this id: its CSRF token (valid until the next
    call) and expiry, or NULL.                                              */
const char *orch_sessions_find (orch_sessions_t *self, const char *sid, int64_t now_ms,
                                int64_t *expires_ms);

/*  Forget a session (logout). Returns whether it existed.                 */
bool orch_sessions_remove (orch_sessions_t *self, const char *sid);

/*  The CSRF token given matches the session's (constant time).            */
bool orch_sessions_csrf_ok (const char *expected, const char *given);

size_t orch_sessions_count (const orch_sessions_t *self);

#endif
