/*  sbx_landlock.c - the task's Landlock ruleset (see sbx_landlock.h).

    Debian 12's <linux/landlock.h> stops at ABI 2; the later access rights,
    the network rules and the scopes are defined here. The ruleset attribute
    is our own struct with every field, and its size passed to the kernel
    follows the ABI: a kernel rejects (E2BIG) a struct larger than the one
    it knows unless the extra bytes are zero, and an older kernel must not
    see fields it does not know at all.
*/
#define _GNU_SOURCE
#include "errfmt.h"
#include "sbx_landlock.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SBX_CHILD_CODE __attribute__ ((no_sanitize ("address", "undefined"), noinline))

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#endif
#ifndef __NR_landlock_add_rule
#define __NR_landlock_add_rule 445
#endif
#ifndef __NR_landlock_restrict_self
#define __NR_landlock_restrict_self 446
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)           /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)        /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)       /* ABI 5 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)        /* ABI 4 */
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)  /* ABI 6 */
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif

/*  struct landlock_ruleset_attr as of ABI 6 (ABI 7 added no field).       */
typedef struct {
    uint64_t handled_access_fs;         /* ABI 1 */
    uint64_t handled_access_net;        /* ABI 4 */
    uint64_t scoped;                    /* ABI 6 */
} s_ruleset_attr_t;

#define S_FS_ALL (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE     \
                  | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR    \
                  | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE\
                  | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR    \
                  | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK    \
                  | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK  \
                  | LANDLOCK_ACCESS_FS_MAKE_SYM | LANDLOCK_ACCESS_FS_REFER        \
                  | LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)
/*  The only rights a rule on a non-directory may carry (else EINVAL).     */
#define S_FS_FILE (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE    \
                   | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE  \
                   | LANDLOCK_ACCESS_FS_IOCTL_DEV)
#define S_R   (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define S_RX  (S_R | LANDLOCK_ACCESS_FS_EXECUTE)
/*  Device sinks: open for writing (shell "> /dev/null"). No IOCTL_DEV: a
    task has no use for device ioctls; those it gets refused fail EACCES
    (isatty () on /dev/null still answers "no").                           */
#define S_RW_DEV (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE   \
                  | LANDLOCK_ACCESS_FS_TRUNCATE)

/*  What a task may see of the system. Paths are opened following links
    (/bin -> usr/bin on a merged-/usr system: the rule lands on the target,
    which is what Landlock checks). Entries that do not exist are skipped.  */
typedef struct {
    const char *path;                   /* absolute path */
    uint64_t access;                    /* LANDLOCK_ACCESS_FS_* granted */
} s_system_entry_t;

static const s_system_entry_t s_system[] = {
    { "/usr", S_RX },                   /* programs, libraries, interpreters' modules */
    { "/bin", S_RX },                   /* the rest in case /usr is not merged */
    { "/sbin", S_RX },
    { "/lib", S_RX },                   /* dynamic loader, libc */
    { "/lib32", S_RX },
    { "/lib64", S_RX },
    { "/etc", S_R },                    /* ld.so.cache, passwd, locales, resolv.conf;
                                           /etc/shadow stays closed by its mode
                                           once the task's uid is not 0 */
    { "/proc", S_R },                   /* /proc/self/...; no writes (oom_score_adj...) */
    { "/dev/null", S_RW_DEV },
    { "/dev/zero", S_RW_DEV },
    { "/dev/full", S_RW_DEV },
    { "/dev/random", LANDLOCK_ACCESS_FS_READ_FILE },
    { "/dev/urandom", LANDLOCK_ACCESS_FS_READ_FILE },
    /*  Deliberately absent: /tmp and /dev/shm (shared with the host; a
        private /tmp comes from extra_rw or a mount namespace), /dev/tty and
        /dev/pts (terminal injection), /sys, /run, /var, /home, /root.      */
};

#define S_SYSTEM_COUNT (sizeof s_system / sizeof s_system[0])

/*  Optional cache of the system entries (sbx_landlock_cache_system): an
    O_PATH fd per entry and whether it is a directory. Opening and closing
    them is about half of a per-task prepare.                              */
static struct {
    bool ready;                         /* filled by sbx_landlock_cache_system */
    int fd[S_SYSTEM_COUNT];             /* O_PATH fd, -1: entry absent */
    bool is_dir[S_SYSTEM_COUNT];        /* fd is a directory */
} s_cache;

int
sbx_landlock_abi (void)
{
    long abi = syscall (__NR_landlock_create_ruleset, NULL, 0,
                        LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 0)
        return -1;
    if (abi == 0) {                     /* never seen; treat as absent */
        errno = EOPNOTSUPP;
        return -1;
    }
    return (int) abi;
}

/*  Everything the running ABI can restrict, exactly as the kernel
    documentation's sample does it: start from all we know, remove what
    each older ABI lacks. Returns the struct size that ABI understands.    */
static size_t
s_handled (int abi, bool network, s_ruleset_attr_t *attr)
{
    attr->handled_access_fs = S_FS_ALL;
    attr->handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP;
    attr->scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
    switch (abi) {
    case 1:
        /*  Without REFER (ABI 2), Landlock forbids every rename or link
            that changes a file's directory, even inside the workspace.     */
        attr->handled_access_fs &= ~LANDLOCK_ACCESS_FS_REFER;
        __attribute__ ((fallthrough));
    case 2:
        attr->handled_access_fs &= ~LANDLOCK_ACCESS_FS_TRUNCATE;
        __attribute__ ((fallthrough));
    case 3:
        attr->handled_access_net = 0;
        __attribute__ ((fallthrough));
    case 4:
        attr->handled_access_fs &= ~LANDLOCK_ACCESS_FS_IOCTL_DEV;
        __attribute__ ((fallthrough));
    case 5:
        attr->scoped = 0;
        __attribute__ ((fallthrough));
    default:
        break;                          /* 6, 7 (7 added audit flags only), later */
    }
    /*  With network on, TCP is not handled at all: Landlock has no "any
        port" rule; the seccomp variant then allows AF_INET/AF_INET6.       */
    if (network)
        attr->handled_access_net = 0;
    if (abi >= 6)
        return sizeof *attr;
    if (abi >= 4)
        return offsetof (s_ruleset_attr_t, scoped);
    return offsetof (s_ruleset_attr_t, handled_access_net);
}

static int
s_add_path_rule (int ruleset, int dirfd, uint64_t access)
{
    struct landlock_path_beneath_attr rule;
    memset (&rule, 0, sizeof rule);
    rule.allowed_access = access;
    rule.parent_fd = dirfd;
    return (int) syscall (__NR_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH,
                          &rule, 0);
}

/*  Rule for an already open fd (a directory, or with file rights only).   */
static int
s_add_fd (int ruleset, int fd, uint64_t access, uint64_t handled, bool must_be_dir,
          const char *what, char *err, size_t errlen)
{
    struct stat st;
    if (fstat (fd, &st) < 0) {
        errfmt (err, errlen, "landlock: fstat %s: %s", what, strerror (errno));
        return -1;
    }
    if (!S_ISDIR (st.st_mode)) {
        if (must_be_dir) {
            errfmt (err, errlen, "landlock: %s is not a directory", what);
            return -1;
        }
        access &= S_FS_FILE;
    }
    access &= handled;
    if (access == 0)
        return 0;
    if (s_add_path_rule (ruleset, fd, access) < 0) {
        errfmt (err, errlen, "landlock: add rule for %s: %s", what, strerror (errno));
        return -1;
    }
    return 0;
}

static int
s_add_path (int ruleset, const char *path, uint64_t access, uint64_t handled,
            bool optional, char *err, size_t errlen)
{
    int fd = open (path, O_PATH | O_CLOEXEC | (optional ? 0 : O_DIRECTORY));
    if (fd < 0) {
        /*  A system entry we cannot reach is simply not granted.           */
        if (optional && (errno == ENOENT || errno == ENOTDIR || errno == EACCES))
            return 0;
        errfmt (err, errlen, "landlock: open %s: %s", path, strerror (errno));
        return -1;
    }
    int rc = s_add_fd (ruleset, fd, access, handled, !optional, path, err, errlen);
    close (fd);
    return rc;
}

int
sbx_landlock_cache_system (char *err, size_t errlen)
{
    if (s_cache.ready)
        return 0;
    for (size_t i = 0; i < S_SYSTEM_COUNT; i++) {
        int fd = open (s_system[i].path, O_PATH | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat (fd, &st) < 0) {
            close (fd);
            fd = -1;
        }
        if (fd < 0 && errno != ENOENT && errno != ENOTDIR && errno != EACCES) {
            errfmt (err, errlen, "landlock: open %s: %s", s_system[i].path, strerror (errno));
            while (i-- > 0)
                if (s_cache.fd[i] >= 0)
                    close (s_cache.fd[i]);
            return -1;
        }
        s_cache.fd[i] = fd;
        s_cache.is_dir[i] = fd >= 0 && S_ISDIR (st.st_mode);
    }
    s_cache.ready = true;
    return 0;
}

int
sbx_landlock_prepare (const sbx_landlock_spec_t *spec, int *fd_out, char *err, size_t errlen)
{
    *fd_out = -1;
    if (spec->abi < 1) {
        errfmt (err, errlen, "landlock: unavailable (abi %d)", spec->abi);
        errno = EOPNOTSUPP;
        return -1;
    }
    if (!spec->workspace && spec->workspace_fd < 0) {
        errfmt (err, errlen, "landlock: no workspace given");
        errno = EINVAL;
        return -1;
    }
    s_ruleset_attr_t attr;
    size_t size = s_handled (spec->abi, spec->network, &attr);
    /*  The kernel always makes ruleset fds close-on-exec.                 */
    int ruleset = (int) syscall (__NR_landlock_create_ruleset, &attr, size, 0);
    if (ruleset < 0) {
        errfmt (err, errlen, "landlock: create ruleset (abi %d): %s", spec->abi, strerror (errno));
        return -1;
    }
    const uint64_t fs = attr.handled_access_fs;
    for (size_t i = 0; i < S_SYSTEM_COUNT; i++) {
        if (!s_cache.ready) {
            if (s_add_path (ruleset, s_system[i].path, s_system[i].access, fs, true,
                            err, errlen) < 0)
                goto failed;
            continue;
        }
        uint64_t access = s_system[i].access & fs;
        if (!s_cache.is_dir[i])
            access &= S_FS_FILE;
        if (s_cache.fd[i] >= 0 && access && s_add_path_rule (ruleset, s_cache.fd[i], access) < 0) {
            errfmt (err, errlen, "landlock: add rule for %s: %s", s_system[i].path,
                   strerror (errno));
            goto failed;
        }
    }

    /*  The workspace: every right the ABI handles.                         */
    if (spec->workspace) {
        if (s_add_path (ruleset, spec->workspace, fs, fs, false, err, errlen) < 0)
            goto failed;
    }
    else if (s_add_fd (ruleset, spec->workspace_fd, fs, fs, true, "workspace fd",
                       err, errlen) < 0)
        goto failed;
    for (size_t i = 0; spec->extra_rw && spec->extra_rw[i]; i++)
        if (s_add_path (ruleset, spec->extra_rw[i], fs, fs, false, err, errlen) < 0)
            goto failed;

    *fd_out = ruleset;
    return 0;

failed:;
    int saved = errno;
    close (ruleset);
    errno = saved;
    return -1;
}

/*  Child step: after NO_NEW_PRIVS (required) and after the capability drop
    and uid switch (so that those raw calls are never judged by Landlock),
    before seccomp (the filter then need not allow landlock_restrict_self). */
SBX_CHILD_CODE int
sbx_landlock_child_restrict (int ruleset_fd)
{
    return syscall (__NR_landlock_restrict_self, ruleset_fd, 0) < 0 ? -errno : 0;
}
