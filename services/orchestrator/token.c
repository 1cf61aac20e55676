/*  token.c - API token generation, storage and constant-time comparison.   */
#include "token.h"
#include "b64.h"
#include "orch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool
orch_token_valid (const char *token, size_t len)
{
    if (len < ORCH_TOKEN_MIN || len > ORCH_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (token[i] < 0x21 || token[i] > 0x7e)
            return false;
    return true;
}

bool
orch_token_equal (const char *given, size_t given_len, const char *real, size_t real_len)
{
    /*  Walk the real token's length whatever was given, so timing reveals
        neither the matching prefix nor (beyond a mismatch) the length.     */
    volatile unsigned char diff = (unsigned char) (given_len != real_len);
    for (size_t i = 0; i < real_len; i++) {
        unsigned char g = i < given_len ? (unsigned char) given[i] : 0;
        diff |= (unsigned char) (g ^ (unsigned char) real[i]);
    }
    return diff == 0;
}

static int
s_read (int fd, const char *path, char *out, size_t out_size, char *err, size_t err_size)
{
    struct stat st;
    if (fstat (fd, &st) || !S_ISREG (st.st_mode)) {
        snprintf (err, err_size, "token file %s is not a regular file", path);
        return -1;
    }
    char buf[ORCH_TOKEN_MAX + 8];
    size_t len = 0;
    while (len < sizeof buf) {
        ssize_t n = read (fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf (err, err_size, "cannot read token file %s: %s", path, strerror (errno));
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t) n;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    if (!orch_token_valid (buf, len) || len + 1 > out_size) {
        snprintf (err, err_size,
                  "token file %s does not hold a valid token (%d..%d printable characters"
                  " without spaces); fix or remove it", path, ORCH_TOKEN_MIN, ORCH_TOKEN_MAX);
        return -1;
    }
    if (st.st_mode & 077)
        fprintf (stderr, "orchestrator: warning: token file %s is readable by others (mode %03o)\n",
                 path, (unsigned) (st.st_mode & 0777));
    memcpy (out, buf, len);
    out[len] = '\0';
    return 0;
}

int
orch_token_load_or_create (const char *data_dir, char *out, size_t out_size,
                           char *path, size_t path_size, bool *created,
                           char *err, size_t err_size)
{
    int n = snprintf (path, path_size, "%s/token", data_dir);
    if (n < 0 || (size_t) n >= path_size) {
        snprintf (err, err_size, "data directory path is too long");
        return -1;
    }
    *created = false;
    for (int tries = 0; tries < 2; tries++) {
        int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            int rc = s_read (fd, path, out, out_size, err, err_size);
            close (fd);
            return rc;
        }
        if (errno != ENOENT) {
            snprintf (err, err_size, "cannot open token file %s: %s", path, strerror (errno));
            return -1;
        }
        fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST)
            continue;                   /* somebody else made it: read it */
        if (fd < 0) {
            snprintf (err, err_size, "cannot create token file %s: %s", path, strerror (errno));
            return -1;
        }
        uint8_t raw[32];
        orch_random (raw, sizeof raw);
        char text[64];
        size_t len = b64_encode (raw, sizeof raw, text, true);
        if (len + 1 > out_size) {
            close (fd);
            snprintf (err, err_size, "token buffer too small");
            return -1;
        }
        text[len] = '\n';
        size_t done = 0;
        while (done < len + 1) {
            ssize_t w = write (fd, text + done, len + 1 - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                snprintf (err, err_size, "cannot write token file %s: %s", path, strerror (errno));
                close (fd);
                unlink (path);
                return -1;
            }
            done += (size_t) w;
        }
        if (fsync (fd)) {
            snprintf (err, err_size, "cannot sync token file %s: %s", path, strerror (errno));
            close (fd);
            unlink (path);
            return -1;
        }
        close (fd);
        memcpy (out, text, len);
        out[len] = '\0';
        *created = true;
        return 0;
    }
    snprintf (err, err_size, "token file %s keeps changing", path);
    return -1;
}
