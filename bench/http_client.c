/*  http_client.c - HTTP/1.1 keep-alive load on raw sockets: one connection
    per client thread, one request in flight on each (loadgen.h). Curl or
    Python would cost more per request than the orchestrator does.

    http_client -a HOST:PORT [-t TOKEN] [-c CLIENTS] [-d SECONDS] [-n TOTAL]
                [-m METHOD] [-p PATH] [-b BODY] [-e STATUS] [-s SUBSTRING]
                [-w WARMUP]

    A request counts when the answer has status STATUS (default 200) and,
    with -s, its body contains SUBSTRING. One JSON line (bench_util.h) with
    "reconnects": answers that closed the connection (Connection: close).
*/
#define _GNU_SOURCE
#include "loadgen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define RESPONSE_MAX (1024 * 1024)

typedef struct {
    struct sockaddr_storage addr;       /* the server */
    socklen_t addr_len;
    char *request;                      /* the whole request, built once */
    size_t request_len;
    int expect_status;
    const char *expect_body;            /* substring, or NULL */
    uint64_t reconnects;                /* Connection: close seen (atomic) */
} s_cfg_t;

typedef struct {
    s_cfg_t *cfg;
    int fd;
    bool closing;                       /* the server said Connection: close */
    char *buf;                          /* response */
} s_conn_t;

static int
s_connect (s_conn_t *c)
{
    c->fd = socket (c->cfg->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (c->fd < 0 || setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one)
        || connect (c->fd, (struct sockaddr *) &c->cfg->addr, c->cfg->addr_len)) {
        bu_fail ("connect: %s", strerror (errno));
        if (c->fd >= 0)
            close (c->fd);
        c->fd = -1;
        return -1;
    }
    c->closing = false;
    return 0;
}

static void *
s_open (void *cfg, int index)
{
    (void) index;
    s_conn_t *c = calloc (1, sizeof *c);
    if (!c)
        return NULL;
    c->cfg = cfg;
    c->buf = malloc (RESPONSE_MAX + 1);
    if (!c->buf || s_connect (c)) {
        free (c->buf);
        free (c);
        return NULL;
    }
    return c;
}

static void
s_close (void *conn)
{
    s_conn_t *c = conn;
    if (c->fd >= 0)
        close (c->fd);
    free (c->buf);
    free (c);
}

/*  Value of header name in the head (NUL-terminated), or NULL.            */
static const char *
s_header (const char *head, const char *name)
{
    size_t len = strlen (name);
    for (const char *p = strstr (head, "\r\n"); p; p = strstr (p, "\r\n")) {
        p += 2;
        if (strncasecmp (p, name, len) == 0 && p[len] == ':') {
            p += len + 1;
            while (*p == ' ')
                p++;
            return p;
        }
    }
    return NULL;
}

/*  Copy the JSON string value of "key" in body into out (raw, unescaped
    bytes up to the closing quote), "" when absent.                         */
static void
s_json_field (const char *body, const char *key, char *out, size_t size)
{
    char pat[64];
    snprintf (pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr (body, pat);
    size_t n = 0;
    if (p) {
        p += strlen (pat);
        while (p[n] && p[n] != '"' && n + 1 < size)
            n++;
        memcpy (out, p, n);
    }
    out[n] = '\0';
}

static int
s_request (void *conn)
{
    s_conn_t *c = conn;
    s_cfg_t *cfg = c->cfg;
    if (c->closing || c->fd < 0) {
        if (c->fd >= 0)
            close (c->fd);
        if (s_connect (c))
            return -1;
    }
    size_t off = 0;
    while (off < cfg->request_len) {
        ssize_t n = send (c->fd, cfg->request + off, cfg->request_len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            bu_fail ("send: %s", n ? strerror (errno) : "closed");
            return -2;
        }
        off += (size_t) n;
    }
    size_t used = 0;
    char *body = NULL;
    size_t need = 0;
    for (;;) {
        if (used == RESPONSE_MAX) {
            bu_fail ("response larger than %d bytes", RESPONSE_MAX);
            return -2;
        }
        ssize_t n = recv (c->fd, c->buf + used, RESPONSE_MAX - used, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            bu_fail ("recv: %s", n ? strerror (errno) : "connection closed by the server");
            return -2;
        }
        used += (size_t) n;
        c->buf[used] = '\0';
        if (!body) {
            char *eoh = strstr (c->buf, "\r\n\r\n");
            if (!eoh)
                continue;
            *eoh = '\0';
            body = eoh + 4;
            const char *cl = s_header (c->buf, "Content-Length");
            if (!cl) {
                bu_fail ("answer without Content-Length");
                return -2;
            }
            need = (size_t) (body - c->buf) + strtoul (cl, NULL, 10);
            const char *conn_hdr = s_header (c->buf, "Connection");
            if (conn_hdr && strncasecmp (conn_hdr, "close", 5) == 0) {
                c->closing = true;
                __atomic_fetch_add (&cfg->reconnects, 1, __ATOMIC_RELAXED);
            }
        }
        if (used >= need)
            break;
    }
    c->buf[need] = '\0';
    int status = 0;
    if (sscanf (c->buf, "HTTP/1.%*d %d", &status) != 1 || status != cfg->expect_status) {
        bu_fail ("status %d, expected %d: %.200s", status, cfg->expect_status, body);
        return -1;
    }
    if (cfg->expect_body && !strstr (body, cfg->expect_body)) {
        /*  A task record: its status and error say why; else the start.  */
        char st[32], why[200];
        s_json_field (body, "status", st, sizeof st);
        s_json_field (body, "error", why, sizeof why);
        if (st[0])
            bu_fail ("task %s: %s", st, why[0] ? why : "(no error text)");
        else
            bu_fail ("answer lacks '%s': %.200s", cfg->expect_body, body);
        return -1;
    }
    return 0;
}

int
main (int argc, char **argv)
{
    const char *addr = NULL, *token = NULL, *method = "GET", *path = "/healthz", *body = NULL;
    s_cfg_t cfg = { .expect_status = 200 };
    int clients = 1;
    double seconds = 1;
    uint64_t total = 0;
    lg_client_t client = { .open = s_open, .request = s_request, .close = s_close,
                           .cfg = &cfg, .warmup = 5 };
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp (opt, "-a") == 0)
            addr = lg_next_arg (argc, argv, &i);
        else if (strcmp (opt, "-t") == 0)
            token = lg_next_arg (argc, argv, &i);
        else if (strcmp (opt, "-c") == 0)
            clients = (int) bu_arg_num ("-c", lg_next_arg (argc, argv, &i));
        else if (strcmp (opt, "-d") == 0)
            seconds = bu_arg_num ("-d", lg_next_arg (argc, argv, &i));
        else if (strcmp (opt, "-n") == 0)
            total = (uint64_t) bu_arg_num ("-n", lg_next_arg (argc, argv, &i));
        else if (strcmp (opt, "-m") == 0)
            method = lg_next_arg (argc, argv, &i);
        else if (strcmp (opt, "-p") == 0)
            path = lg_next_arg (argc, argv, &i);
        else if (strcmp (opt, "-b") == 0)
            body = lg_next_arg (argc, argv, &i);
        else if (strcmp (opt, "-e") == 0)
            cfg.expect_status = (int) bu_arg_num ("-e", lg_next_arg (argc, argv, &i));
        else if (strcmp (opt, "-s") == 0)
            cfg.expect_body = lg_next_arg (argc, argv, &i);
        else if (strcmp (opt, "-w") == 0)
            client.warmup = atoi (lg_next_arg (argc, argv, &i));
        else {
            fprintf (stderr, "usage: http_client -a HOST:PORT [-t TOKEN] [-c CLIENTS] "
                             "[-d SECONDS] [-n TOTAL] [-m METHOD] [-p PATH] [-b BODY] "
                             "[-e STATUS] [-s SUBSTRING] [-w WARMUP]\n");
            return 2;
        }
    }
    const char *colon = addr ? strrchr (addr, ':') : NULL;
    if (!colon) {
        fprintf (stderr, "http_client: -a HOST:PORT is required\n");
        return 2;
    }
    char host[256];
    snprintf (host, sizeof host, "%.*s", (int) (colon - addr), addr);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
    if (getaddrinfo (host, colon + 1, &hints, &ai)) {
        fprintf (stderr, "http_client: cannot resolve %s\n", addr);
        return 2;
    }
    memcpy (&cfg.addr, ai->ai_addr, ai->ai_addrlen);
    cfg.addr_len = ai->ai_addrlen;
    freeaddrinfo (ai);

    size_t blen = body ? strlen (body) : 0;
    size_t cap = strlen (path) + (token ? strlen (token) : 0) + blen + 512;
    cfg.request = malloc (cap);
    int n = snprintf (cfg.request, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, addr);
    if (token)
        n += snprintf (cfg.request + n, cap - (size_t) n, "Authorization: Bearer %s\r\n", token);
    if (body)
        n += snprintf (cfg.request + n, cap - (size_t) n,
                       "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
    n += snprintf (cfg.request + n, cap - (size_t) n, "\r\n%s", body ? body : "");
    cfg.request_len = (size_t) n;

    bu_result_t res;
    int rc = lg_run (&client, clients, seconds, total, &res);
    char extra[64];
    snprintf (extra, sizeof extra, ",\"reconnects\":%llu", (unsigned long long) cfg.reconnects);
    bu_print_result (&res, clients, extra);
    if (res.first_error[0])
        fprintf (stderr, "http_client: first error: %s\n", res.first_error);
    bu_samples_free (&res.lat);
    free (cfg.request);
    return rc ? 1 : 0;
}
