/*  fuzz_path.c - libFuzzer target: relative workspace paths.

    Input: one control byte, then the path (raw bytes, not NUL-terminated,
    exactly as a frame or a JSON key hands it over).

    1. proto_valid_rel_path () against the rule in proto.h, restated here
       as an independent oracle: both must agree on every input, and an
       accepted path is 1..1024 bytes, has no NUL, does not start or end
       with '/', and has no "", "." or ".." component.
    2. An accepted path goes into a real workspace (sbx_workspace_* from
       services/agent-sandbox/workspace.c) under a private temporary
       directory next to an "outside" directory holding a secret file.
       The control byte may first plant what a hostile task leaves behind
       at one component of the path: a symbolic link to outside (absolute
       or relative), a hard link or symlink to the secret, or a FIFO. Then:
         - with nothing planted, writing must succeed (ENAMETOOLONG for a
           component over 255 bytes is the only excuse) and reading back
           must give what was written;
         - a read that succeeds returns what the write wrote, never the
           secret, and never succeeds when the write failed;
         - the file cannot be written twice (bit 0x80);
         - outside is never touched: its directories keep their mtime and
           link count, the secret its content and its single link;
         - destroying the workspace leaves the root empty.
       Reading a FIFO must not block (-timeout catches a hang).

    Only paths of at most FS_MAX_COMPONENTS components reach step 2: a
    512-level path costs ~12 ms of mkdir and removal and would pull the
    target below 1000 exec/s; 72 levels still pass REMOVE_MAX_DEPTH (64),
    so removal's move-up of deep subtrees is exercised.

    control byte: bits 0-1 plant (0 none, 1 dir symlink, 2 secret link,
    3 FIFO), bits 2-5 component index (mod count), bit 6 relative symlink,
    bit 7 write twice.
*/
#define _GNU_SOURCE
#include "proto.h"
#include "workspace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET      "SECRET"
#define CONTENT     "inside"
#define READ_MAX    (1u << 20)
#define FS_MAX_COMPONENTS 72

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char s_base[4096];               /* private temporary directory */
static char s_root[4200];               /* base/root: SANDBOX_WORK_DIR */
static char s_outside[4200];            /* base/outside: must stay as is */
static char s_sub[4300];                /* base/outside/sub */
static char s_secret[4300];             /* base/outside/secret */
static struct stat s_outside_st;        /* outside as it was */
static struct stat s_sub_st;            /* outside/sub as it was */

static void
s_fail (const char *what, const uint8_t *path, size_t len)
{
    fprintf (stderr, "fuzz_path: INVARIANT VIOLATED: %s (path \"", what);
    for (size_t i = 0; path && i < len && i < 200; i++)
        fprintf (stderr, path[i] >= 0x20 && path[i] < 0x7f ? "%c" : "\\x%02x", path[i]);
    fprintf (stderr, "\", %zu bytes)\n", len);
    abort ();
}

static void
s_die (const char *what)
{
    fprintf (stderr, "fuzz_path: setup: %s: %s\n", what, strerror (errno));
    abort ();
}

static void
s_cleanup (void)
{
    if (s_base[0])
        sbx_remove_tree_at (AT_FDCWD, s_base);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    const char *tmp = getenv ("TMPDIR");
    snprintf (s_base, sizeof s_base, "%s/cleudo-fuzz-path.XXXXXX",
              tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp (s_base))
        s_die ("mkdtemp");
    atexit (s_cleanup);
    snprintf (s_root, sizeof s_root, "%s/root", s_base);
    snprintf (s_outside, sizeof s_outside, "%s/outside", s_base);
    snprintf (s_sub, sizeof s_sub, "%s/sub", s_outside);
    snprintf (s_secret, sizeof s_secret, "%s/secret", s_outside);
    if (mkdir (s_root, 0700) || mkdir (s_outside, 0700) || mkdir (s_sub, 0700))
        s_die ("mkdir");
    int fd = open (s_secret, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || write (fd, SECRET, strlen (SECRET)) != (ssize_t) strlen (SECRET)
    ||  close (fd))
        s_die ("secret");
    if (stat (s_outside, &s_outside_st) || stat (s_sub, &s_sub_st))
        s_die ("stat");
    return 0;
}

/*  proto.h's rule, written independently of proto_names.c.                */
static bool
s_oracle (const uint8_t *p, size_t len)
{
    if (len == 0 || len > PROTO_PATH_MAX || p[0] == '/')
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && p[i] == '\0')
            return false;
        if (i < len && p[i] != '/')
            continue;
        size_t clen = i - start;
        if (clen == 0 || (clen == 1 && p[start] == '.')
        ||  (clen == 2 && p[start] == '.' && p[start + 1] == '.'))
            return false;
        start = i + 1;
    }
    return true;
}

/*  The invariants stated in the brief, checked one by one.                 */
static void
s_check_accepted (const uint8_t *p, size_t len)
{
    if (len == 0 || len > PROTO_PATH_MAX)
        s_fail ("accepted a path of bad length", p, len);
    if (memchr (p, '\0', len))
        s_fail ("accepted a path with a NUL byte", p, len);
    if (p[0] == '/')
        s_fail ("accepted an absolute path", p, len);
    if (p[len - 1] == '/')
        s_fail ("accepted a path ending in '/'", p, len);
    size_t start = 0;
    for (size_t i = 0; i <= len; i++)
        if (i == len || p[i] == '/') {
            size_t clen = i - start;
            if (clen == 2 && p[start] == '.' && p[start + 1] == '.')
                s_fail ("accepted a path with a '..' component", p, len);
            if (clen == 1 && p[start] == '.')
                s_fail ("accepted a path with a '.' component", p, len);
            if (clen == 0)
                s_fail ("accepted a path with an empty component", p, len);
            start = i + 1;
        }
}

/*  Plant a hostile entry at component `which` of path (creating the
    directories before it). true when something was planted.               */
static bool
s_plant (int ws_fd, char *path, size_t ncomp, unsigned flags)
{
    unsigned kind = flags & 3;
    size_t which = ((flags >> 2) & 15) % ncomp;
    bool relative = flags & 0x40;
    int dir = dup (ws_fd);
    if (dir < 0)
        s_die ("dup");
    char *comp = path;
    bool planted = false;
    for (size_t i = 0; ; i++) {
        char *slash = strchr (comp, '/');
        bool last = slash == NULL;
        if (slash)
            *slash = '\0';
        if (i == which) {
            char target[8192];
            if (kind == 1 && relative) {
                /*  ../ up to the workspace, its root, the base: outside  */
                size_t n = 0;
                for (size_t up = 0; up < i + 2; up++)
                    n += (size_t) snprintf (target + n, sizeof target - n, "../");
                snprintf (target + n, sizeof target - n, "outside/sub");
            }
            else
                snprintf (target, sizeof target, "%s", kind == 1 ? s_sub : s_secret);
            int rc;
            if (kind == 3)
                rc = mkfifoat (dir, comp, 0600);
            else
            if (kind == 2 && last)
                rc = linkat (AT_FDCWD, s_secret, dir, comp, 0);
            else
                rc = symlinkat (target, dir, comp);
            planted = rc == 0;
        }
        if (slash)
            *slash = '/';
        if (i == which || last)
            break;
        *slash = '\0';
        int next = -1;
        if (mkdirat (dir, comp, 0755) == 0 || errno == EEXIST)
            next = openat (dir, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        *slash = '/';
        if (next < 0)
            break;                      /* e.g. ENAMETOOLONG: plant nothing */
        close (dir);
        dir = next;
        comp = slash + 1;
    }
    close (dir);
    return planted;
}

static void
s_check_outside (const uint8_t *p, size_t len, bool after_destroy)
{
    struct stat st;
    if (stat (s_outside, &st) || st.st_nlink != s_outside_st.st_nlink
    ||  st.st_mtim.tv_sec != s_outside_st.st_mtim.tv_sec
    ||  st.st_mtim.tv_nsec != s_outside_st.st_mtim.tv_nsec)
        s_fail ("the directory outside the workspace changed", p, len);
    if (stat (s_sub, &st) || st.st_nlink != s_sub_st.st_nlink
    ||  st.st_mtim.tv_sec != s_sub_st.st_mtim.tv_sec
    ||  st.st_mtim.tv_nsec != s_sub_st.st_mtim.tv_nsec)
        s_fail ("a directory outside the workspace was written", p, len);
    char buf[64];
    int fd = open (s_secret, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read (fd, buf, sizeof buf);
    if (fd >= 0)
        close (fd);
    if (n != (ssize_t) strlen (SECRET) || memcmp (buf, SECRET, (size_t) n) != 0)
        s_fail ("the secret outside the workspace was modified", p, len);
    if (after_destroy && (stat (s_secret, &st) || st.st_nlink != 1))
        s_fail ("a link to the secret survived the workspace", p, len);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    const uint8_t *p = data + 1;
    size_t len = size - 1;

    /*  1. the validator                                                    */
    const char *why = "unset";
    bool ok = proto_valid_rel_path ((const char *) p, len, &why);
    if (ok != proto_valid_rel_path ((const char *) p, len, NULL))
        s_fail ("result depends on whether why is given", p, len);
    if (ok != s_oracle (p, len))
        s_fail (ok ? "accepted a path the rule refuses" : "refused a path the rule allows",
                p, len);
    if (!ok) {
        if (!why || !*why)
            s_fail ("refused without a reason", p, len);
        return 0;
    }
    if (why)
        s_fail ("accepted with a reason set", p, len);
    s_check_accepted (p, len);

    /*  2. the workspace                                                    */
    char path[PROTO_PATH_MAX + 1];
    memcpy (path, p, len);
    path[len] = '\0';
    size_t ncomp = 1;
    for (size_t i = 0; i < len; i++)
        ncomp += p[i] == '/';
    if (ncomp > FS_MAX_COMPONENTS)
        return 0;
    sbx_workspace_t *ws = sbx_workspace_new (s_root, "fuzz", 1);
    if (!ws)
        s_die ("sbx_workspace_new");
    bool planted = (flags & 3) && s_plant (sbx_workspace_fd (ws), path, ncomp, flags);
    char reason[256];
    errno = 0;
    int w = sbx_workspace_write (ws, path, CONTENT, strlen (CONTENT), 0644, reason,
                                 sizeof reason);
    int w_errno = errno;
    if (w && !reason[0])
        s_fail ("write failed without a reason", p, len);
    if (!planted && w && w_errno != ENAMETOOLONG) {
        fprintf (stderr, "write: %s (errno %d)\n", reason, w_errno);
        s_fail ("writing a valid path into an empty workspace failed", p, len);
    }
    if (w == 0 && (flags & 0x80)
    &&  sbx_workspace_write (ws, path, SECRET, strlen (SECRET), 0644, reason,
                             sizeof reason) == 0)
        s_fail ("an existing file was written again", p, len);
    s_check_outside (p, len, false);

    uint8_t *got = NULL;
    size_t got_size = 0;
    int r = sbx_workspace_read (ws, path, READ_MAX, &got, &got_size, reason, sizeof reason);
    if (r == 0) {
        if (w != 0)
            s_fail ("read succeeded where the write had failed", p, len);
        if (got_size != strlen (CONTENT) || memcmp (got, CONTENT, got_size) != 0)
            s_fail ("read returned something other than what was written", p, len);
    }
    else
    if (w == 0) {
        fprintf (stderr, "read: %s\n", reason);
        s_fail ("a file just written cannot be read back", p, len);
    }
    free (got);

    sbx_workspace_destroy (&ws);
    if (ws)
        s_fail ("sbx_workspace_destroy did not null the pointer", p, len);
    if (rmdir (s_root) != 0)
        s_fail ("the workspace was not removed completely", p, len);
    if (mkdir (s_root, 0700))
        s_die ("mkdir root");
    s_check_outside (p, len, true);
    return 0;
}
