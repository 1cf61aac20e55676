/*  curve.c - CURVE on the worker link: keys, the ZAP handler, refusals.   */
#include "curve.h"
#include "cert.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zmq.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN_PREFIX "cleudo."
#define ZAP_FRAMES_MAX 8                /* a CURVE request has 7 */
#define ZAP_FRAME_MAX 256               /* bytes kept of one frame */
#define ALLOWED_MAX 4096                /* worker certificates loaded */
#define SEEN_MAX 1024                   /* refusals remembered (not logged again) */
#define REFUSALS_PER_MINUTE 60          /* new refusal lines; then muted */
#define SOCKETS_MAX 3                   /* tasks, results, control */

typedef struct {
    void *monitor;                      /* PAIR receiving handshake failures */
    char name[16];                      /* "tasks", "results", "control" */
} s_watched_t;

struct orch_curve_t {
    void *zctx;                         /* the orchestrator's context */
    void *zap;                          /* REP on inproc://zeromq.zap.01 */
    cert_t server;                      /* our certificate, with its secret */
    uint8_t (*allowed)[CERT_KEY_SIZE];  /* public keys of allowed workers */
    size_t allowed_count;               /* entries in allowed */
    s_watched_t watched[SOCKETS_MAX];   /* secured sockets and their monitors */
    size_t watched_count;               /* entries in watched */
    uint64_t seen[SEEN_MAX];            /* refusals already logged (hashes) */
    size_t seen_next;                   /* ring position in seen */
    int64_t window_start;               /* minute of the refusal line budget */
    int lines_in_window;                /* refusal lines printed in it */
    uint64_t refused;                   /* handshakes refused in total */
};

static int64_t
s_mono_s (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec;
}

static uint64_t
s_hash (const void *data, size_t size, uint64_t h)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < size; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/*  True the first time a refusal is seen, and only while the minute's
    budget of lines lasts: a peer that reconnects in a loop, or one that
    makes a new key every time, cannot fill the log.                        */
static bool
s_first_time (orch_curve_t *self, uint64_t fingerprint)
{
    for (size_t i = 0; i < SEEN_MAX; i++)
        if (self->seen[i] == fingerprint)
            return false;
    self->seen[self->seen_next] = fingerprint;
    self->seen_next = (self->seen_next + 1) % SEEN_MAX;
    int64_t now = s_mono_s ();
    if (now - self->window_start >= 60) {
        self->window_start = now;
        self->lines_in_window = 0;
    }
    if (self->lines_in_window == REFUSALS_PER_MINUTE) {
        self->lines_in_window++;
        log_event (CLOG_WARN, "worker_refusals_muted", "limit_per_minute=%d refused_total=%llu",
                   REFUSALS_PER_MINUTE, (unsigned long long) self->refused);
    }
    if (self->lines_in_window > REFUSALS_PER_MINUTE)
        return false;
    self->lines_in_window++;
    return true;
}

/* ---- keygen ------------------------------------------------------------ */

static int
s_mkdir (const char *path, mode_t mode, char *err, size_t err_size)
{
    struct stat st;
    if (mkdir (path, mode) == 0)
        chmod (path, mode);             /* not the umask's 0700 */
    else if (errno != EEXIST) {
        snprintf (err, err_size, "cannot create %s: %s", path, strerror (errno));
        return -1;
    }
    if (stat (path, &st) || !S_ISDIR (st.st_mode)) {
        snprintf (err, err_size, "%s is not a directory", path);
        return -1;
    }
    return 0;
}

int
orch_curve_keygen (const char *dir, FILE *out, char *err, size_t err_size)
{
    char workers[4096], paths[4][4200];
    if (snprintf (workers, sizeof workers, "%s/workers", dir) >= (int) sizeof workers) {
        snprintf (err, err_size, "keygen: directory name too long");
        return -1;
    }
    snprintf (paths[0], sizeof paths[0], "%s/server.key", dir);
    snprintf (paths[1], sizeof paths[1], "%s/server.key_secret", dir);
    snprintf (paths[2], sizeof paths[2], "%s/workers/worker.key", dir);
    snprintf (paths[3], sizeof paths[3], "%s/worker.key_secret", dir);
    struct stat st;
    for (int i = 0; i < 4; i++)
        if (lstat (paths[i], &st) == 0) {
            snprintf (err, err_size, "keygen: %s exists already; nothing was written (keys are"
                      " never replaced: move the old ones away first)", paths[i]);
            return -1;
        }
    if (s_mkdir (dir, 0700, err, err_size) || s_mkdir (workers, 0755, err, err_size))
        return -1;
    cert_t server, worker;
    if (cert_generate (&server) || cert_generate (&worker)) {
        snprintf (err, err_size, "keygen: this libzmq has no CURVE support");
        return -1;
    }
    int rc = cert_save_public (&server, paths[0], err, err_size)
          || cert_save_secret (&server, paths[1], err, err_size)
          || cert_save_public (&worker, paths[2], err, err_size)
          || cert_save_secret (&worker, paths[3], err, err_size) ? -1 : 0;
    cert_wipe (&server);
    cert_wipe (&worker);
    if (rc)
        return -1;
    fprintf (out, "%s          the orchestrator's public certificate (workers:"
             " SANDBOX_SERVER_KEY)\n", paths[0]);
    fprintf (out, "%s   the orchestrator's secret certificate, 0600 (ORCH_KEYS_DIR)\n",
             paths[1]);
    fprintf (out, "%s  a worker's public certificate: allowed to connect\n", paths[2]);
    fprintf (out, "%s   that worker's secret certificate, 0600 (SANDBOX_CERT)\n", paths[3]);
    return 0;
}

/* ---- loading ----------------------------------------------------------- */

static bool
s_ends_with (const char *s, const char *suffix)
{
    size_t a = strlen (s), b = strlen (suffix);
    return a >= b && strcmp (s + a - b, suffix) == 0;
}

static int
s_cmp_name (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

/*  Every regular NAME.key in DIR/workers (not NAME.key_secret: a secret certificate
    does not belong on the orchestrator, so it is refused).              */
static int
s_load_allowed (orch_curve_t *self, const char *keys_dir, char *err, size_t err_size)
{
    char dir[4200];
    snprintf (dir, sizeof dir, "%s/workers", keys_dir);
    DIR *d = opendir (dir);
    if (!d) {
        snprintf (err, err_size, "ORCH_KEYS_DIR=%s: cannot read the allowed workers directory"
                  " %s: %s; create the keys with `orchestrator keygen %s`", keys_dir, dir,
                  strerror (errno), keys_dir);
        return -1;
    }
    char *names[ALLOWED_MAX];
    size_t count = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir (d))) {
        if (e->d_name[0] == '.')
            continue;
        if (s_ends_with (e->d_name, "_secret")) {
            snprintf (err, err_size, "ORCH_KEYS_DIR=%s: %s/%s is a secret certificate: only"
                      " workers' public certificates (*.key) belong in %s; move it out",
                      keys_dir, dir, e->d_name, dir);
            rc = -1;
        }
        else if (s_ends_with (e->d_name, ".key")) {
            if (count == ALLOWED_MAX) {
                snprintf (err, err_size, "ORCH_KEYS_DIR=%s: more than %d certificates in %s",
                          keys_dir, ALLOWED_MAX, dir);
                rc = -1;
            }
            else if (!(names[count++] = strdup (e->d_name))) {
                count--;
                snprintf (err, err_size, "out of memory");
                rc = -1;
            }
        }
    }
    closedir (d);
    if (rc == 0 && count == 0) {
        snprintf (err, err_size, "ORCH_KEYS_DIR=%s: no worker certificate (*.key) in %s: no"
                  " worker could connect; run `orchestrator keygen DIR` or copy a worker's"
                  " public certificate there", keys_dir, dir);
        rc = -1;
    }
    qsort (names, count, sizeof names[0], s_cmp_name);
    if (rc == 0 && !(self->allowed = calloc (count, sizeof *self->allowed))) {
        snprintf (err, err_size, "out of memory");
        rc = -1;
    }
    for (size_t i = 0; i < count; i++) {
        if (rc == 0) {
            char path[4500], why[4800];
            cert_t cert;
            snprintf (path, sizeof path, "%s/%s", dir, names[i]);
            if (cert_load (path, false, &cert, why, sizeof why)) {
                snprintf (err, err_size, "ORCH_KEYS_DIR=%s: %s", keys_dir, why);
                rc = -1;
            }
            else if (cert.has_secret) {
                cert_wipe (&cert);
                snprintf (err, err_size, "ORCH_KEYS_DIR=%s: %s holds a secret key: put only the"
                          " public certificate (without secret-key) there", keys_dir, path);
                rc = -1;
            }
            else
                memcpy (self->allowed[self->allowed_count++], cert.public_key, CERT_KEY_SIZE);
        }
        free (names[i]);
    }
    return rc;
}

orch_curve_t *
orch_curve_new (void *zctx, const char *keys_dir, char *err, size_t err_size)
{
    orch_curve_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->zctx = zctx;
    self->window_start = s_mono_s ();
    if (!zmq_has ("curve")) {
        snprintf (err, err_size, "ORCH_CURVE=on but this libzmq has no CURVE support");
        goto fail;
    }
    char path[4200], why[4500];
    snprintf (path, sizeof path, "%s/server.key_secret", keys_dir);
    if (cert_load (path, true, &self->server, why, sizeof why)) {
        snprintf (err, err_size, "ORCH_KEYS_DIR=%s: the server certificate: %s; create the keys"
                  " with `orchestrator keygen %s` (or set ORCH_KEYS_DIR)", keys_dir, why,
                  keys_dir);
        goto fail;
    }
    struct stat st;
    if (stat (path, &st) == 0 && (st.st_mode & 077))
        log_event (CLOG_WARN, "key_file_open", "file=%s mode=%03o note=\"a secret"
                   " certificate should be 0600\"", path, (unsigned) (st.st_mode & 0777));
    if (s_load_allowed (self, keys_dir, err, err_size))
        goto fail;
    self->zap = zmq_socket (zctx, ZMQ_REP);
    int linger = 0;
    if (!self->zap || zmq_setsockopt (self->zap, ZMQ_LINGER, &linger, sizeof linger)
        || zmq_bind (self->zap, ZAP_ENDPOINT)) {
        snprintf (err, err_size, "cannot bind the ZAP handler %s: %s", ZAP_ENDPOINT,
                  zmq_strerror (zmq_errno ()));
        goto fail;
    }
    return self;
fail:
    orch_curve_destroy (&self);
    return NULL;
}

void
orch_curve_destroy (orch_curve_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orch_curve_t *self = *self_p;
    for (size_t i = 0; i < self->watched_count; i++)
        zmq_close (self->watched[i].monitor);
    if (self->zap)
        zmq_close (self->zap);
    cert_wipe (&self->server);
    free (self->allowed);
    free (self);
    *self_p = NULL;
}

size_t
orch_curve_allowed (const orch_curve_t *self)
{
    return self->allowed_count;
}

int
orch_curve_secure (orch_curve_t *self, void *socket, const char *name)
{
    if (self->watched_count == SOCKETS_MAX)
        return -1;
    int one = 1;
    char domain[64], inproc[64];
    snprintf (domain, sizeof domain, ZAP_DOMAIN_PREFIX "%s", name);
    snprintf (inproc, sizeof inproc, "inproc://orch-curve-monitor-%s", name);
    if (zmq_setsockopt (socket, ZMQ_CURVE_SERVER, &one, sizeof one)
        || zmq_setsockopt (socket, ZMQ_CURVE_SECRETKEY, self->server.secret_key, CERT_KEY_SIZE)
        || zmq_setsockopt (socket, ZMQ_ZAP_DOMAIN, domain, strlen (domain)))
        return -1;
    /*  Handshakes that fail before ZAP is asked: a peer without CURVE
        (mechanism mismatch) or with another server key (cryptographic). */
    if (zmq_socket_monitor (socket, inproc, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL))
        return -1;
    s_watched_t *w = &self->watched[self->watched_count];
    w->monitor = zmq_socket (self->zctx, ZMQ_PAIR);
    int linger = 0;
    if (!w->monitor)
        return -1;
    zmq_setsockopt (w->monitor, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect (w->monitor, inproc)) {
        zmq_close (w->monitor);
        return -1;
    }
    snprintf (w->name, sizeof w->name, "%s", name);
    self->watched_count++;
    return 0;
}

size_t
orch_curve_sockets (orch_curve_t *self, void **sockets, size_t max)
{
    size_t n = 0;
    if (n < max)
        sockets[n++] = self->zap;
    for (size_t i = 0; i < self->watched_count && n < max; i++)
        sockets[n++] = self->watched[i].monitor;
    return n;
}

/* ---- ZAP (RFC 27) ------------------------------------------------------ */

typedef struct {
    uint8_t data[ZAP_FRAME_MAX];        /* the frame, cut at ZAP_FRAME_MAX */
    size_t size;                        /* its real size */
} s_frame_t;

static bool
s_frame_is (const s_frame_t *f, const char *text)
{
    return f->size == strlen (text) && memcmp (f->data, text, f->size) == 0;
}

static bool
s_allowed (const orch_curve_t *self, const uint8_t key[CERT_KEY_SIZE])
{
    for (size_t i = 0; i < self->allowed_count; i++)
        if (memcmp (self->allowed[i], key, CERT_KEY_SIZE) == 0)
            return true;
    return false;
}

static void
s_reply (void *zap, const s_frame_t *request_id, const char *status, const char *text,
         const char *user)
{
    zmq_send (zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send (zap, request_id->data, request_id->size < ZAP_FRAME_MAX ? request_id->size : 0,
              ZMQ_SNDMORE);
    zmq_send (zap, status, strlen (status), ZMQ_SNDMORE);
    zmq_send (zap, text, strlen (text), ZMQ_SNDMORE);
    zmq_send (zap, user, strlen (user), ZMQ_SNDMORE);
    zmq_send (zap, "", 0, 0);
}

/*  One request: version, request id, domain, address, identity, mechanism,
    credentials. Only CURVE in one of our domains with an allowed key gets
    200. The other sockets of this context (submit) use NULL without a
    domain; libzmq does not ask about those, but if it ever did, they are
    let through: they authenticate their requests with the API token.   */
static void
s_zap_one (orch_curve_t *self)
{
    s_frame_t f[ZAP_FRAMES_MAX];
    size_t count = 0;
    bool more = true;
    while (more) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, self->zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&msg);
            if (count == 0)
                return;
            break;
        }
        more = zmq_msg_more (&msg);
        if (count < ZAP_FRAMES_MAX) {
            size_t size = zmq_msg_size (&msg);
            f[count].size = size;
            memcpy (f[count].data, zmq_msg_data (&msg), size < ZAP_FRAME_MAX ? size
                                                                               : ZAP_FRAME_MAX);
            count++;
        }
        zmq_msg_close (&msg);
    }
    if (count < 6 || !s_frame_is (&f[0], "1.0")) {
        static const s_frame_t none = { "", 0 };
        s_reply (self->zap, count >= 2 ? &f[1] : &none, "500", "malformed ZAP request", "");
        return;
    }
    bool ours = f[2].size > strlen (ZAP_DOMAIN_PREFIX)
             && f[2].size < ZAP_FRAME_MAX
             && memcmp (f[2].data, ZAP_DOMAIN_PREFIX, strlen (ZAP_DOMAIN_PREFIX)) == 0;
    if (s_frame_is (&f[5], "NULL") && f[2].size == 0) {
        s_reply (self->zap, &f[1], "200", "OK", "");
        return;
    }
    if (ours && s_frame_is (&f[5], "CURVE") && count == 7 && f[6].size == CERT_KEY_SIZE
        && s_allowed (self, f[6].data)) {
        char key[CERT_Z85_SIZE];
        cert_z85 (f[6].data, key);
        s_reply (self->zap, &f[1], "200", "OK", key);
        return;
    }
    s_reply (self->zap, &f[1], "400", "certificate not allowed", "");
    self->refused++;
    char domain[80], address[80], key[CERT_Z85_SIZE] = "none", mech[40];
    bool has_key = s_frame_is (&f[5], "CURVE") && count == 7 && f[6].size == CERT_KEY_SIZE;
    if (has_key)
        cert_z85 (f[6].data, key);
    uint64_t fp = s_hash (has_key ? f[6].data : f[3].data,
                          has_key ? CERT_KEY_SIZE : (f[3].size < ZAP_FRAME_MAX ? f[3].size : 0),
                          has_key ? 14695981039346656037ull : 1469598103934665603ull);
    if (!s_first_time (self, fp))
        return;
    size_t dlen = f[2].size < ZAP_FRAME_MAX ? f[2].size : ZAP_FRAME_MAX;
    size_t alen = f[3].size < ZAP_FRAME_MAX ? f[3].size : ZAP_FRAME_MAX;
    size_t mlen = f[5].size < ZAP_FRAME_MAX ? f[5].size : ZAP_FRAME_MAX;
    /*  "cleudo.results" -> socket="results"                                 */
    if (ours)                           /* our own ZMQ_ZAP_DOMAIN: plain text */
        snprintf (domain, sizeof domain, "%.*s", (int) (dlen - strlen (ZAP_DOMAIN_PREFIX)),
                  (const char *) f[2].data + strlen (ZAP_DOMAIN_PREFIX));
    else
        log_quote (domain, sizeof domain, f[2].data, dlen > 60 ? 60 : dlen);
    log_quote (address, sizeof address, f[3].data, alen > 60 ? 60 : alen);
    log_quote (mech, sizeof mech, f[5].data, mlen > 20 ? 20 : mlen);
    log_event (CLOG_WARN, "worker_refused", "socket=%s address=%s mechanism=%s key=\"%s\""
               " reason=not_allowed note=\"certificate not in ORCH_KEYS_DIR/workers; its"
               " frames are dropped; logged once per key\"", domain, address, mech, key);
}

/* ---- monitors ----------------------------------------------------------- */

static const char *
s_protocol_reason (uint32_t code)
{
    switch (code) {
        case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
            return "no_curve";
        case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
            return "bad_crypto";
        default:
            return "protocol_error";
    }
}

static void
s_monitor_one (orch_curve_t *self, s_watched_t *w)
{
    for (int i = 0; i < 64; i++) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, w->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&msg);
            return;
        }
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size (&msg) >= 6) {
            memcpy (&event, zmq_msg_data (&msg), sizeof event);
            memcpy (&value, (uint8_t *) zmq_msg_data (&msg) + 2, sizeof value);
        }
        bool more = zmq_msg_more (&msg);
        zmq_msg_close (&msg);
        while (more) {                  /* the endpoint: our bound address */
            zmq_msg_init (&msg);
            more = zmq_msg_recv (&msg, w->monitor, ZMQ_DONTWAIT) >= 0 && zmq_msg_more (&msg);
            zmq_msg_close (&msg);
        }
        /*  NO_DETAIL: the peer hung up during the handshake (after our
            protocol error, or a port scan): nothing to say about it.      */
        if (event != ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
            continue;
        self->refused++;
        const char *reason = s_protocol_reason (value);
        /*  No key, and libzmq does not say which peer: once per socket and
            reason.                                                         */
        uint64_t fp = s_hash (w->name, strlen (w->name), 1469598103934665603ull);
        fp = s_hash (reason, strlen (reason), fp);
        if (!s_first_time (self, fp))
            continue;
        log_event (CLOG_WARN, "worker_refused", "socket=%s reason=%s code=0x%x note=\"%s;"
                   " nothing is exchanged with it; logged once per socket and reason\"",
                   w->name, reason, (unsigned) value,
                   !strcmp (reason, "no_curve") ? "a peer without CURVE (plain ZMTP)"
                   : !strcmp (reason, "bad_crypto") ? "a peer with another server key"
                   : "a failed CURVE handshake");
    }
}

void
orch_curve_drain (orch_curve_t *self)
{
    for (int i = 0; i < 256; i++) {
        int events = 0;
        size_t size = sizeof events;
        if (zmq_getsockopt (self->zap, ZMQ_EVENTS, &events, &size) || !(events & ZMQ_POLLIN))
            break;
        s_zap_one (self);
    }
    for (size_t i = 0; i < self->watched_count; i++)
        s_monitor_one (self, &self->watched[i]);
}
