/*  workspace.c - create, fill, read back and remove task workspaces.      */
#define _GNU_SOURCE
#include "workspace.h"
#include "proto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/*  Deeper than this, removal moves a subtree up to the workspace root and
    carries on there, so a task's 100 000-level directory chain costs
    neither stack nor descriptors.                                          */
#define REMOVE_MAX_DEPTH 64
#define REMOVE_MAX_PASSES 10000

#define RESOLVE_FLAGS (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

struct sbx_workspace_t {
    int root_fd;                        /* SANDBOX_WORK_DIR, to unlink from */
    int fd;                             /* the workspace directory */
    char name[PROTO_ID_MAX + 32];       /* entry name under root */
    char *path;                         /* root/name, for logs and HOME */
    bool removed;                       /* gone already */
};

static int
s_openat2 (int dirfd, const char *path, int flags, int mode)
{
    struct open_how how = { .flags = (uint64_t) flags, .mode = (uint64_t) mode,
                            .resolve = RESOLVE_FLAGS };
    long fd;
    do
        fd = syscall (SYS_openat2, dirfd, path, &how, sizeof how);
    while (fd < 0 && errno == EINTR);
    return (int) fd;
}

int
sbx_workspace_prepare_root (const char *root, char *err, size_t err_size)
{
    size_t len = strlen (root);
    if (len == 0 || len >= 4096) {
        snprintf (err, err_size, "work directory path is empty or too long");
        return -1;
    }
    char path[4096];
    memcpy (path, root, len + 1);
    /*  mkdir -p: each prefix in turn; existing ones are fine.             */
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir (path, 0700) && errno != EEXIST) {
            snprintf (err, err_size, "cannot create work directory '%s': %s", path,
                      strerror (errno));
            return -1;
        }
        path[i] = saved;
    }
    struct stat st;
    if (stat (root, &st) || !S_ISDIR (st.st_mode)) {
        snprintf (err, err_size, "work directory '%s' is not a directory", root);
        return -1;
    }
    if (access (root, W_OK | X_OK)) {
        snprintf (err, err_size, "work directory '%s' is not writable: %s", root,
                  strerror (errno));
        return -1;
    }
    return 0;
}

sbx_workspace_t *
sbx_workspace_new (const char *root, const char *id, uint32_t attempt)
{
    sbx_workspace_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->root_fd = self->fd = -1;
    uint32_t rnd = 0;
    if (getrandom (&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t) sizeof rnd)
        rnd = (uint32_t) getpid () ^ (uint32_t) (uintptr_t) self;
    snprintf (self->name, sizeof self->name, "%.64s-%" PRIu32 "-%08" PRIx32, id, attempt, rnd);
    size_t plen = strlen (root) + 1 + strlen (self->name) + 1;
    self->path = malloc (plen);
    if (!self->path)
        goto fail;
    snprintf (self->path, plen, "%s/%s", root, self->name);

    self->root_fd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->root_fd < 0)
        goto fail;
    if (mkdirat (self->root_fd, self->name, 0700))
        goto fail;
    self->fd = openat (self->root_fd, self->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (self->fd < 0) {
        int e = errno;
        unlinkat (self->root_fd, self->name, AT_REMOVEDIR);
        errno = e;
        goto fail;
    }
    return self;
fail:;
    int e = errno;
    self->removed = true;
    sbx_workspace_destroy (&self);
    errno = e;
    return NULL;
}

void
sbx_workspace_destroy (sbx_workspace_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sbx_workspace_t *self = *self_p;
    if (!self->removed)
        sbx_workspace_remove (self);
    if (self->fd >= 0)
        close (self->fd);
    if (self->root_fd >= 0)
        close (self->root_fd);
    free (self->path);
    free (self);
    *self_p = NULL;
}

int
sbx_workspace_fd (const sbx_workspace_t *self)
{
    return self->fd;
}

const char *
sbx_workspace_path (const sbx_workspace_t *self)
{
    return self->path;
}

/*  A reason for a path error that a user can act on.                       */
static void
s_why (char *why, size_t why_size, int err)
{
    const char *text;
    switch (err) {
        case EEXIST: text = "already exists"; break;
        case ELOOP: text = "refused: symbolic link in path"; break;
        case EXDEV: text = "refused: path escapes the workspace"; break;
        case ENOTDIR: text = "a parent is not a directory"; break;
        case ENOENT: text = "not found"; break;
        case EISDIR: text = "is a directory"; break;
        default: text = strerror (err); break;
    }
    snprintf (why, why_size, "%s", text);
}

int
sbx_workspace_write (sbx_workspace_t *self, const char *rel, const void *data,
                     size_t size, int mode, char *why, size_t why_size)
{
    const char *bad = NULL;
    if (!proto_valid_rel_path (rel, strlen (rel), &bad)) {
        snprintf (why, why_size, "invalid path: %s", bad ? bad : "rejected");
        errno = EINVAL;
        return -1;
    }
    char path[PROTO_PATH_MAX + 1];
    snprintf (path, sizeof path, "%s", rel);

    /*  Walk down one directory at a time: mkdirat never follows a link in
        its last component, and openat2 refuses any link on the way.        */
    int dir = dup (self->fd);
    if (dir < 0)
        goto fail;
    char *comp = path;
    char *slash;
    while ((slash = strchr (comp, '/'))) {
        *slash = '\0';
        if (mkdirat (dir, comp, 0755) && errno != EEXIST)
            goto fail;
        int next = s_openat2 (dir, comp, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (next < 0)
            goto fail;
        close (dir);
        dir = next;
        comp = slash + 1;
    }
    /*  O_EXCL: never truncate or write through something already there
        (a hard link to a file outside would otherwise be written).        */
    int fd = s_openat2 (dir, comp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        goto fail;
    close (dir);
    dir = -1;
    const uint8_t *p = data;
    while (size > 0) {
        ssize_t n = write (fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            close (fd);
            errno = e;
            goto fail;
        }
        p += n;
        size -= (size_t) n;
    }
    if (close (fd))
        goto fail;
    return 0;
fail:;
    int e = errno;
    if (dir >= 0)
        close (dir);
    s_why (why, why_size, e);
    errno = e;
    return -1;
}

int
sbx_workspace_read (sbx_workspace_t *self, const char *rel, size_t max,
                    uint8_t **data, size_t *size, char *why, size_t why_size)
{
    *data = NULL;
    *size = 0;
    const char *bad = NULL;
    if (!proto_valid_rel_path (rel, strlen (rel), &bad)) {
        snprintf (why, why_size, "invalid path: %s", bad ? bad : "rejected");
        return -1;
    }
    /*  Look first without opening for real: opening a FIFO or a device has
        effects (blocking, rewinding a tape); an O_PATH descriptor has none. */
    int probe = s_openat2 (self->fd, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
    if (probe < 0) {
        s_why (why, why_size, errno);
        return -1;
    }
    struct stat st;
    int rc = fstat (probe, &st);
    close (probe);
    if (rc) {
        s_why (why, why_size, errno);
        return -1;
    }
    if (S_ISLNK (st.st_mode)) {
        snprintf (why, why_size, "refused: symbolic link");
        return -1;
    }
    if (!S_ISREG (st.st_mode)) {
        snprintf (why, why_size, "refused: not a regular file");
        return -1;
    }
    if (st.st_nlink != 1) {
        snprintf (why, why_size, "refused: %ju hard links", (uintmax_t) st.st_nlink);
        return -1;
    }
    if ((uint64_t) st.st_size > max) {
        snprintf (why, why_size, "refused: %jd bytes exceed the remaining collect budget of %zu bytes",
                  (intmax_t) st.st_size, max);
        return -1;
    }
    int fd = s_openat2 (self->fd, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
    if (fd < 0) {
        s_why (why, why_size, errno);
        return -1;
    }
    struct stat again;
    if (fstat (fd, &again) || again.st_dev != st.st_dev || again.st_ino != st.st_ino) {
        close (fd);
        snprintf (why, why_size, "refused: changed while collecting");
        return -1;
    }
    size_t want = (size_t) st.st_size;
    uint8_t *buf = malloc (want + 1);
    if (!buf) {
        close (fd);
        snprintf (why, why_size, "out of memory");
        return -1;
    }
    size_t got = 0;
    while (got <= want) {
        ssize_t n = read (fd, buf + got, want + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            s_why (why, why_size, errno);
            free (buf);
            close (fd);
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t) n;
    }
    close (fd);
    if (got > want) {
        free (buf);
        snprintf (why, why_size, "refused: grew while collecting");
        return -1;
    }
    *data = buf;
    *size = got;
    return 0;
}

/*  ---- removal ----------------------------------------------------------- */

typedef struct {
    int root_fd;                        /* where too-deep subtrees are moved */
    dev_t dev;                          /* file system we stay on */
    unsigned moved;                     /* subtrees moved to the root */
    int failed;                         /* something stayed behind */
} remover_t;

static int s_remove_dir (remover_t *rm, int parent, const char *name, int depth);

/*  Move a too-deep subtree to the top of the tree being removed, under a
    name that replaces nothing; a later pass removes it.                    */
static int
s_move_up (remover_t *rm, int dir, const char *name)
{
    for (int tries = 0; tries < 64; tries++) {
        char flat[64];
        snprintf (flat, sizeof flat, ".sbx-deep-%u", rm->moved++);
        if (renameat2 (dir, name, rm->root_fd, flat, RENAME_NOREPLACE) == 0)
            return 0;
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

/*  Remove every entry of the open directory dir.                           */
static void
s_clear_dir (remover_t *rm, int dir, int depth)
{
    int dup_fd = dup (dir);
    if (dup_fd < 0) {
        rm->failed = 1;
        return;
    }
    DIR *d = fdopendir (dup_fd);
    if (!d) {
        close (dup_fd);
        rm->failed = 1;
        return;
    }
    /*  The duplicate shares the file offset with dir: start from the top
        even if an earlier pass read dir to its end.                        */
    rewinddir (d);
    struct dirent *e;
    while ((e = readdir (d))) {
        const char *n = e->d_name;
        if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')))
            continue;
        /*  unlinkat never follows: files, symlinks, FIFOs, sockets and
            devices go here whatever their mode.                            */
        if (unlinkat (dir, n, 0) == 0 || errno == ENOENT)
            continue;
        if (errno != EISDIR && errno != EPERM) {
            rm->failed = 1;
            continue;
        }
        if (depth + 1 >= REMOVE_MAX_DEPTH) {
            if (s_move_up (rm, dir, n))
                rm->failed = 1;
            continue;
        }
        if (s_remove_dir (rm, dir, n, depth + 1))
            rm->failed = 1;
    }
    closedir (d);
}

static int
s_remove_dir (remover_t *rm, int parent, const char *name, int depth)
{
    int fd = openat (parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == EACCES) {
        /*  A task made it unreadable. AT_SYMLINK_NOFOLLOW: chmod refuses
            (EOPNOTSUPP) rather than follow a link planted here.           */
        if (fchmodat (parent, name, 0700, AT_SYMLINK_NOFOLLOW) == 0)
            fd = openat (parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    struct stat st;
    if (fstat (fd, &st) || st.st_dev != rm->dev) {
        close (fd);                     /* a mount point: never descend */
        errno = EXDEV;
        return -1;
    }
    /*  Removing entries needs write and search permission on the dir; the
        descriptor is the directory itself, so fchmod cannot hit a link.   */
    if ((st.st_mode & 0700) != 0700)
        fchmod (fd, 0700);
    s_clear_dir (rm, fd, depth);
    close (fd);
    if (unlinkat (parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
        return 0;
    return -1;
}

int
sbx_remove_tree_at (int dirfd, const char *name)
{
    if (unlinkat (dirfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -1;
    int fd = openat (dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    int rc = fstat (fd, &st);
    close (fd);
    if (rc)
        return -1;
    remover_t rm = { .root_fd = -1, .dev = st.st_dev };
    /*  Open the top directory once to hold moved-up subtrees; passes repeat
        until nothing is left (a moved subtree is cleared on a later pass). */
    int top = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (top < 0 && errno == EACCES && fchmodat (dirfd, name, 0700, AT_SYMLINK_NOFOLLOW) == 0)
        top = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (top < 0)
        return -1;
    rm.root_fd = top;
    for (int pass = 0; pass < REMOVE_MAX_PASSES; pass++) {
        rm.failed = 0;
        unsigned moved_before = rm.moved;
        if ((st.st_mode & 0700) != 0700)
            fchmod (top, 0700);
        s_clear_dir (&rm, top, 0);
        if (unlinkat (dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT) {
            close (top);
            return 0;
        }
        if (errno != ENOTEMPTY && errno != EEXIST)
            break;
        if (rm.failed && rm.moved == moved_before)
            break;                      /* no progress possible */
    }
    close (top);
    return -1;
}

int
sbx_workspace_remove (sbx_workspace_t *self)
{
    if (self->removed)
        return 0;
    if (sbx_remove_tree_at (self->root_fd, self->name))
        return -1;
    self->removed = true;
    return 0;
}
