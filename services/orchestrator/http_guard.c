/*  http_guard.c - connection limits, per-address limits, header deadline. */
#include "http_guard.h"
#include "log.h"
#include "loglimit.h"
#include "orch.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define FD_RESERVE 256                  /* database, ZeroMQ, logs, slack */
#define ADDR_TEXT 64                    /* INET6_ADDRSTRLEN and some */

/*  One open connection (MHD's socket_context).                             */
typedef struct s_conn_t {
    int fd;                             /* MHD's; only ever shut down here */
    char addr[ADDR_TEXT];               /* counted per address; "" if exempt */
    int64_t since;                      /* mono ms: opened / last request ended */
    bool busy;                          /* headers complete, request not ended */
    bool cut;                           /* shut down by us */
    struct s_conn_t *prev, *next;
} s_conn_t;

struct orch_http_guard_t {
    orch_stats_t *stats;                /* counters (may be NULL) */
    size_t max_total;                   /* ORCH_HTTP_MAX_CONNECTIONS */
    size_t max_per_ip;                  /* ORCH_HTTP_MAX_PER_IP, 0: none */
    int64_t header_timeout;             /* ORCH_HTTP_HEADER_TIMEOUT, ms */
    s_conn_t *conns;                    /* open connections */
    size_t count;
    zhashx_t *per_ip;                   /* address -> count (as a pointer) */
    orch_loglimit_t log;                /* "http_refused" lines */
};

orch_http_guard_t *
orch_http_guard_new (orch_stats_t *stats, size_t max_total, size_t max_per_ip,
                     int64_t header_timeout_ms)
{
    orch_http_guard_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->per_ip = zhashx_new ();
    if (!self->per_ip) {
        free (self);
        return NULL;
    }
    self->stats = stats;
    self->max_total = max_total;
    self->max_per_ip = max_per_ip;
    self->header_timeout = header_timeout_ms;
    return self;
}

void
orch_http_guard_destroy (orch_http_guard_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orch_http_guard_t *self = *self_p;
    while (self->conns) {
        s_conn_t *c = self->conns;
        self->conns = c->next;
        free (c);
    }
    zhashx_destroy (&self->per_ip);
    free (self);
    *self_p = NULL;
}

/*  Text form of addr into out; false for loopback (exempt) and families
    other than IPv4 / IPv6.                                                 */
static bool
s_address (const struct sockaddr *addr, char *out, size_t size)
{
    out[0] = '\0';
    if (!addr)
        return false;
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) addr;
        if ((ntohl (in->sin_addr.s_addr) >> 24) == 127)
            return false;
        return inet_ntop (AF_INET, &in->sin_addr, out, (socklen_t) size) != NULL;
    }
    if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) addr;
        const uint8_t *b = in6->sin6_addr.s6_addr;
        if (IN6_IS_ADDR_LOOPBACK (&in6->sin6_addr)
            || (IN6_IS_ADDR_V4MAPPED (&in6->sin6_addr) && b[12] == 127))
            return false;
        return inet_ntop (AF_INET6, &in6->sin6_addr, out, (socklen_t) size) != NULL;
    }
    return false;
}

static size_t
s_ip_count (orch_http_guard_t *self, const char *addr)
{
    return (size_t) (uintptr_t) zhashx_lookup (self->per_ip, addr);
}

static void
s_ip_add (orch_http_guard_t *self, const char *addr, int delta)
{
    size_t n = s_ip_count (self, addr);
    n = delta > 0 ? n + 1 : n ? n - 1 : 0;
    if (n)
        zhashx_update (self->per_ip, addr, (void *) (uintptr_t) n);
    else
        zhashx_delete (self->per_ip, addr);
}

/*  Counted always; a line once a second at most (loglimit.h).             */
static void
s_refused (orch_http_guard_t *self, orch_reject_t why, const char *addr)
{
    orch_stats_rejected (self->stats, why);
    unsigned long long suppressed;
    if (orch_loglimit_ok (&self->log, 1, orch_mono_ms (), &suppressed))
        log_event (CLOG_WARN, "http_refused", "reason=%s addr=%s open=%zu suppressed=%llu",
                   why == ORCH_REJECT_PER_IP_LIMIT ? "per_ip_limit" : "connection_limit",
                   addr[0] ? addr : "local", self->count, suppressed);
}

enum MHD_Result
orch_http_guard_accept (void *cls, const struct sockaddr *addr, socklen_t addr_len)
{
    (void) addr_len;
    orch_http_guard_t *self = cls;
    char text[ADDR_TEXT];
    bool counted = s_address (addr, text, sizeof text);
    if (self->count >= self->max_total) {
        s_refused (self, ORCH_REJECT_CONNECTION_LIMIT, text);
        return MHD_NO;
    }
    if (counted && self->max_per_ip && s_ip_count (self, text) >= self->max_per_ip) {
        s_refused (self, ORCH_REJECT_PER_IP_LIMIT, text);
        return MHD_NO;
    }
    return MHD_YES;
}

void
orch_http_guard_notify (void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode code)
{
    orch_http_guard_t *self = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        s_conn_t *c = calloc (1, sizeof *c);
        if (!c)
            return;                     /* not tracked: only the idle timeout */
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info (conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = info ? info->connect_fd : -1;
        info = MHD_get_connection_info (conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (s_address (info ? info->client_addr : NULL, c->addr, sizeof c->addr))
            s_ip_add (self, c->addr, +1);
        else
            c->addr[0] = '\0';
        c->since = orch_mono_ms ();
        c->next = self->conns;
        if (c->next)
            c->next->prev = c;
        self->conns = c;
        self->count++;
        *socket_context = c;
        return;
    }
    s_conn_t *c = *socket_context;
    if (!c)
        return;
    if (c->addr[0])
        s_ip_add (self, c->addr, -1);
    if (c->prev)
        c->prev->next = c->next;
    else
        self->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    self->count--;
    free (c);
    *socket_context = NULL;
}

void
orch_http_guard_busy (orch_http_guard_t *self, struct MHD_Connection *conn, bool busy,
                      int64_t mono)
{
    (void) self;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    s_conn_t *c = info ? info->socket_context : NULL;
    if (!c)
        return;
    c->busy = busy;
    if (!busy)
        c->since = mono;
}

size_t
orch_http_guard_cron (orch_http_guard_t *self, int64_t mono)
{
    size_t cut = 0;
    for (s_conn_t *c = self->conns; c; c = c->next) {
        if (c->busy || c->cut || c->fd < 0 || mono - c->since < self->header_timeout)
            continue;
        /*  MHD owns the descriptor: shutting it down (never closing it)
            makes MHD see the end of the stream and close the connection
            the ordinary way on its next run.                               */
        shutdown (c->fd, SHUT_RDWR);
        c->cut = true;
        cut++;
        orch_stats_rejected (self->stats, ORCH_REJECT_HEADER_TIMEOUT);
    }
    if (cut)
        log_event (CLOG_DEBUG, "http_header_timeout", "closed=%zu open=%zu", cut, self->count);
    return cut;
}

size_t
orch_http_guard_count (const orch_http_guard_t *self)
{
    return self->count;
}

size_t
orch_http_guard_fd_budget (size_t want)
{
    struct rlimit rl;
    if (getrlimit (RLIMIT_NOFILE, &rl))
        return want;
    rlim_t need = (rlim_t) want + FD_RESERVE;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rlim_t raised = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        struct rlimit up = { raised, rl.rlim_max };
        if (setrlimit (RLIMIT_NOFILE, &up) == 0)
            rl.rlim_cur = raised;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return want;
    return rl.rlim_cur > FD_RESERVE + 16 ? (size_t) (rl.rlim_cur - FD_RESERVE) : 16;
}
