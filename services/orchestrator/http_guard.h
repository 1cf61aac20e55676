/*  http_guard.h - who may hold an HTTP connection, and for how long.

    MHD in epoll mode holds thousands of idle connections cheaply (one fd
    and an untouched memory pool each). What runs out is the connection
    budget, so a hostile client is kept from taking all of it:
      * in total ORCH_HTTP_MAX_CONNECTIONS at once; beyond, the accept
        policy closes new connections at once (counted, logged once a
        second at most). The file descriptor limit is raised to fit.
      * per client address ORCH_HTTP_MAX_PER_IP (0: no limit), so one host
        cannot take the whole budget. Loopback is exempt: a local client
        can stop the service anyway, and a local reverse proxy brings every
        remote client from 127.0.0.1 (limit at the proxy then).
      * a deadline for request headers: ORCH_HTTP_HEADER_TIMEOUT after a
        connection opened, or after its previous request ended, the next
        request's headers must be complete, or the connection is shut
        down. MHD's idle timeout restarts with every byte, so a client
        sending one header byte every few seconds (slowloris) would keep
        its connection for ever. Idle keep-alive connections end then too.
        A request whose headers are complete (a body upload, a ?wait, an
        event stream) is left to the idle timeout.
*/
#ifndef ORCH_HTTP_GUARD_H_INCLUDED
#define ORCH_HTTP_GUARD_H_INCLUDED

#include "stats.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct orch_http_guard_t orch_http_guard_t;

/*  max_per_ip 0: no per-address limit. NULL when out of memory.           */
orch_http_guard_t *orch_http_guard_new (orch_stats_t *stats, size_t max_total,
                                        size_t max_per_ip, int64_t header_timeout_ms);
void orch_http_guard_destroy (orch_http_guard_t **self_p);

/*  MHD's accept policy (MHD_start_daemon's apc; cls is the guard).       */
enum MHD_Result orch_http_guard_accept (void *cls, const struct sockaddr *addr,
                                        socklen_t addr_len);

/*  MHD_OPTION_NOTIFY_CONNECTION (cls is the guard).                         */
void orch_http_guard_notify (void *cls, struct MHD_Connection *conn, void **socket_context,
                             enum MHD_ConnectionNotificationCode code);

/*  The headers of a request on conn are complete (busy), or the request
    ended (not busy: the next one's header deadline starts at mono).       */
void orch_http_guard_busy (orch_http_guard_t *self, struct MHD_Connection *conn, bool busy,
                           int64_t mono);

/*  Shut down connections past their header deadline; how many.           */
size_t orch_http_guard_cron (orch_http_guard_t *self, int64_t mono);

/*  Connections open now.                                                    */
size_t orch_http_guard_count (const orch_http_guard_t *self);

/*  File descriptors for want connections: raises the soft RLIMIT_NOFILE
    (up to the hard one) when needed; returns how many connections fit
    (want, or fewer when the hard limit is too low).                       */
size_t orch_http_guard_fd_budget (size_t want);

#endif
