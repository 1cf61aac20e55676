/*  cert.h - CURVE certificates in czmq's zcert text format.

    A certificate is a pair of files, as czmq's zcert_save () writes them:
      NAME.key          the public certificate (public-key only, 0644);
      NAME.key_secret   the secret certificate (public-key and secret-key,
                        0600): whoever reads it IS that peer.
    Both are ZPL text:

        metadata
        curve
            public-key = "<40 Z85 characters>"
            secret-key = "<40 Z85 characters>"     (secret file only)

    czmq's zcert_load () reads what cert_save () writes and the other way
    round (test/unit checks both). Used by the orchestrator (its server
    certificate, the allowed workers' public certificates, `keygen`) and by
    agent-sandbox (the server's public key, its own secret certificate).
*/
#ifndef CERT_H_INCLUDED
#define CERT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CERT_KEY_SIZE 32                /* a CURVE key in bytes */
#define CERT_Z85_SIZE 41                /* its Z85 text plus the NUL */
/*  What CURVE adds to every message on the wire ("\x07MESSAGE", the nonce,
    the flags byte and the MAC): libzmq checks ZMQ_MAXMSGSIZE against the
    encrypted frame, so a CURVE socket's limit is the cap plus this, and a
    frame of exactly the cap still passes, one byte more still does not.   */
#define CERT_CURVE_OVERHEAD 33

typedef struct {
    uint8_t public_key[CERT_KEY_SIZE];  /* always present */
    uint8_t secret_key[CERT_KEY_SIZE];  /* valid when has_secret */
    bool has_secret;                    /* read from a secret certificate */
} cert_t;

/*  A fresh key pair. 0, or -1 when libzmq has no CURVE.                    */
int cert_generate (cert_t *cert);

/*  Read a certificate file (public or secret). With need_secret, a file
    without secret-key is an error. A secret key must belong to the public
    key beside it. -1 with err naming the file and what is wrong (errno
    text when it cannot be read).                                           */
int cert_load (const char *path, bool need_secret, cert_t *cert, char *err, size_t err_size);

/*  Write the public (mode 0644) or secret (0600) certificate. Never
    replaces a file: an existing path is an error (O_EXCL). -1 with err.    */
int cert_save_public (const cert_t *cert, const char *path, char *err, size_t err_size);
int cert_save_secret (const cert_t *cert, const char *path, char *err, size_t err_size);

/*  Z85 text of a public key (41 bytes with the NUL) for logs.              */
void cert_z85 (const uint8_t key[CERT_KEY_SIZE], char out[CERT_Z85_SIZE]);

/*  Overwrite the secret key in memory.                                     */
void cert_wipe (cert_t *cert);

#endif
