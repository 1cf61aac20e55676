/*  cert.c - CURVE certificates in czmq's zcert text format.               */
#include "cert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define CERT_FILE_MAX 65536             /* a certificate is a few hundred bytes */
#define Z85_LEN (CERT_Z85_SIZE - 1)

int
cert_generate (cert_t *cert)
{
    char pub[CERT_Z85_SIZE], sec[CERT_Z85_SIZE];
    memset (cert, 0, sizeof *cert);
    if (zmq_curve_keypair (pub, sec))
        return -1;
    zmq_z85_decode (cert->public_key, pub);
    zmq_z85_decode (cert->secret_key, sec);
    cert->has_secret = true;
    memset (sec, 0, sizeof sec);
    return 0;
}

void
cert_z85 (const uint8_t key[CERT_KEY_SIZE], char out[CERT_Z85_SIZE])
{
    zmq_z85_encode (out, key, CERT_KEY_SIZE);
}

void
cert_wipe (cert_t *cert)
{
    volatile uint8_t *p = cert->secret_key;
    for (size_t i = 0; i < CERT_KEY_SIZE; i++)
        p[i] = 0;
}

/*  "name = value" at one level of indentation below "curve". The value is
    quoted (czmq always quotes) or bare; Z85 has no '"' and no blank, but
    it has '#', so a bare value ends at a blank, never at '#'.            */
static bool
s_key_line (const char *line, const char *name, char *value, size_t value_size)
{
    size_t n = strlen (name);
    if (strncmp (line, name, n))
        return false;
    const char *p = line + n;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p++ != '=')
        return false;
    while (*p == ' ' || *p == '\t')
        p++;
    const char *end;
    if (*p == '"') {
        end = strchr (++p, '"');
        if (!end)
            return false;
    }
    else
        for (end = p; *end && *end != ' ' && *end != '\t'; end++)
            ;
    size_t len = (size_t) (end - p);
    if (len >= value_size)
        len = value_size - 1;
    memcpy (value, p, len);
    value[len] = '\0';
    return true;
}

static bool
s_decode (const char *text, uint8_t key[CERT_KEY_SIZE])
{
    return strlen (text) == Z85_LEN && zmq_z85_decode (key, text) != NULL;
}

int
cert_load (const char *path, bool need_secret, cert_t *cert, char *err, size_t err_size)
{
    memset (cert, 0, sizeof *cert);
    char buf[CERT_FILE_MAX + 1];
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf (err, err_size, "cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read (fd, buf + len, sizeof buf - 1 - len)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf (err, err_size, "cannot read %s: %s", path, strerror (errno));
            close (fd);
            return -1;
        }
        len += (size_t) n;
    }
    close (fd);
    if (len >= CERT_FILE_MAX) {
        snprintf (err, err_size, "%s is not a certificate (over %d bytes)", path, CERT_FILE_MAX);
        return -1;
    }
    buf[len] = '\0';

    char pub[64] = "", sec[64] = "";
    bool in_curve = false, has_pub = false, has_sec = false;
    for (char *line = buf, *next; line; line = next) {
        next = strchr (line, '\n');
        if (next)
            *next++ = '\0';
        size_t l = strlen (line);
        while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
            line[--l] = '\0';
        size_t indent = strspn (line, " \t");
        const char *text = line + indent;
        if (!*text || *text == '#')
            continue;
        if (indent == 0) {
            in_curve = strcmp (text, "curve") == 0;
            continue;
        }
        if (!in_curve)
            continue;
        if (s_key_line (text, "public-key", pub, sizeof pub))
            has_pub = true;
        else if (s_key_line (text, "secret-key", sec, sizeof sec))
            has_sec = true;
    }
    if (!has_pub) {
        snprintf (err, err_size, "%s is not a CURVE certificate (no curve/public-key)", path);
        goto fail;
    }
    if (!s_decode (pub, cert->public_key)) {
        snprintf (err, err_size, "%s: curve/public-key is not %d Z85 characters", path, Z85_LEN);
        goto fail;
    }
    if (has_sec) {
        char derived[CERT_Z85_SIZE];
        if (!s_decode (sec, cert->secret_key)) {
            snprintf (err, err_size, "%s: curve/secret-key is not %d Z85 characters", path,
                      Z85_LEN);
            goto fail;
        }
        if (zmq_curve_public (derived, sec) || strcmp (derived, pub)) {
            snprintf (err, err_size, "%s: curve/secret-key does not belong to its public-key",
                      path);
            goto fail;
        }
        cert->has_secret = true;
    }
    else if (need_secret) {
        snprintf (err, err_size, "%s is a public certificate (no curve/secret-key): the secret"
                  " one is the file ending in _secret", path);
        goto fail;
    }
    memset (sec, 0, sizeof sec);
    return 0;
fail:
    memset (sec, 0, sizeof sec);
    cert_wipe (cert);
    return -1;
}

static int
s_save (const cert_t *cert, const char *path, bool secret, char *err, size_t err_size)
{
    if (secret && !cert->has_secret) {
        snprintf (err, err_size, "%s: no secret key to save", path);
        return -1;
    }
    char stamp[32] = "";
    time_t now = time (NULL);
    struct tm tm;
    if (localtime_r (&now, &tm))
        strftime (stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    char pub[CERT_Z85_SIZE], sec[CERT_Z85_SIZE] = "";
    cert_z85 (cert->public_key, pub);
    if (secret)
        cert_z85 (cert->secret_key, sec);
    char text[1024];
    int len;
    if (secret)
        len = snprintf (text, sizeof text,
                        "#   ****  Generated on %s by CleudoCode (czmq zcert format)  ****\n"
                        "#   ZeroMQ CURVE **Secret** Certificate\n"
                        "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n"
                        "\n"
                        "metadata\n"
                        "curve\n"
                        "    public-key = \"%s\"\n"
                        "    secret-key = \"%s\"\n", stamp, pub, sec);
    else
        len = snprintf (text, sizeof text,
                        "#   ****  Generated on %s by CleudoCode (czmq zcert format)  ****\n"
                        "#   ZeroMQ CURVE Public Certificate\n"
                        "#   Exchange securely, or use a secure mechanism to verify the contents\n"
                        "#   of this file after exchange.\n"
                        "\n"
                        "metadata\n"
                        "curve\n"
                        "    public-key = \"%s\"\n", stamp, pub);
    memset (sec, 0, sizeof sec);
    mode_t mode = secret ? 0600 : 0644;
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            snprintf (err, err_size, "%s exists already: not replaced", path);
        else
            snprintf (err, err_size, "cannot create %s: %s", path, strerror (errno));
        memset (text, 0, sizeof text);
        return -1;
    }
    /*  The umask must not decide: a secret is 0600 whatever it says, and
        a public certificate must be readable by the other service's user. */
    int rc = fchmod (fd, mode);
    size_t done = 0;
    while (rc == 0 && done < (size_t) len) {
        ssize_t n = write (fd, text + done, (size_t) len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = -1;
        else
            done += (size_t) n;
    }
    if (rc == 0)
        rc = fsync (fd);
    int saved = errno;
    if (close (fd) && rc == 0) {
        rc = -1;
        saved = errno;
    }
    memset (text, 0, sizeof text);
    if (rc) {
        unlink (path);
        snprintf (err, err_size, "cannot write %s: %s", path, strerror (saved));
        return -1;
    }
    return 0;
}

int
cert_save_public (const cert_t *cert, const char *path, char *err, size_t err_size)
{
    return s_save (cert, path, false, err, err_size);
}

int
cert_save_secret (const cert_t *cert, const char *path, char *err, size_t err_size)
{
    return s_save (cert, path, true, err, err_size);
}
