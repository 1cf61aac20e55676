/*  sbx_cgroup.c - a cgroup per task (see sbx_cgroup.h).                   */
#define _GNU_SOURCE
#include "errfmt.h"
#include "sbx_cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SBX_CHILD_CODE __attribute__ ((no_sanitize ("address", "undefined"), noinline))

struct sbx_cgroup_s {
    sbx_cgroup_caps_t caps;             /* what was detected */
    int version;                        /* 1 or 2 */
    char dir[2][SBX_CGROUP_PATH_MAX];   /* the worker's group (v1: memory, pids) */
    bool memsw;                         /* v1 memory.memsw.limit_in_bytes exists */
    bool swap_max;                      /* v2 memory.swap.max exists */
    bool kill_file;                     /* v2 cgroup.kill exists */
};

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_nap (void)
{
    struct timespec ts = { 0, 500 * 1000 };
    nanosleep (&ts, NULL);
}

/*  ---- files ----------------------------------------------------------- */

static int
s_write (const char *dir, const char *file, const char *text)
{
    char path[SBX_CGROUP_PATH_MAX + 64];
    snprintf (path, sizeof path, "%s/%s", dir, file);
    int fd = open (path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    /*  Setting a v1 memory limit reclaims first and gives up with EINTR
        when a signal arrives meanwhile (seen under load: 1 task in ~1000
        ended internal_error). Nothing was changed then: write again.      */
    ssize_t n;
    int tries = 0;
    do
        n = write (fd, text, strlen (text));
    while (n < 0 && errno == EINTR && ++tries < 100);
    int saved = errno;
    close (fd);
    if (n != (ssize_t) strlen (text)) {
        errno = n < 0 ? saved : EIO;
        return -1;
    }
    return 0;
}

/*  Whole small file into buf (NUL-terminated). Length, or -1.             */
static ssize_t
s_read (const char *dir, const char *file, char *buf, size_t size)
{
    char path[SBX_CGROUP_PATH_MAX + 64];
    if (file)
        snprintf (path, sizeof path, "%s/%s", dir, file);
    else
        snprintf (path, sizeof path, "%s", dir);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t used = 0;
    ssize_t n = 0;
    while (used < size - 1 && ((n = read (fd, buf + used, size - 1 - used)) > 0
                                || (n < 0 && errno == EINTR)))
        if (n > 0)
            used += (size_t) n;
    int saved = errno;
    close (fd);
    buf[used] = '\0';
    if (n < 0) {
        errno = saved;
        return -1;
    }
    return (ssize_t) used;
}

static bool
s_exists (const char *dir, const char *file)
{
    char path[SBX_CGROUP_PATH_MAX + 64];
    snprintf (path, sizeof path, "%s/%s", dir, file);
    return access (path, F_OK) == 0;
}

/*  Is word one of the space-separated words of list?                       */
static bool
s_has_word (const char *list, const char *word)
{
    size_t len = strlen (word);
    for (const char *p = list; (p = strstr (p, word)); p += len)
        if ((p == list || isspace ((unsigned char) p[-1]))
            && (!p[len] || isspace ((unsigned char) p[len])))
            return true;
    return false;
}

/*  "key value" line of a flat keyed file; 0 when absent.                  */
static uint64_t
s_key (const char *text, const char *key)
{
    size_t len = strlen (key);
    for (const char *line = text; *line; ) {
        if (strncmp (line, key, len) == 0 && line[len] == ' ')
            return strtoull (line + len + 1, NULL, 10);
        const char *nl = strchr (line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
    return 0;
}

static uint64_t
s_number (const char *dir, const char *file)
{
    char buf[64];
    if (s_read (dir, file, buf, sizeof buf) <= 0)
        return 0;
    return strtoull (buf, NULL, 10);
}

/*  ---- where the hierarchies are --------------------------------------- */

/*  Undo mountinfo's octal escapes (\040) in place.                        */
static void
s_unescape (char *s)
{
    char *w = s;
    for (char *r = s; *r; ) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7'
            && r[3] >= '0' && r[3] <= '7') {
            *w++ = (char) ((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 4;
        }
        else
            *w++ = *r++;
    }
    *w = '\0';
}

/*  Mount point and root of the first mount of fstype whose super options
    include option (NULL: any). 0, or -1.                                   */
static int
s_find_mount (const char *fstype, const char *option, char *mnt, size_t mntlen,
              char *root, size_t rootlen)
{
    FILE *f = fopen ("/proc/self/mountinfo", "re");
    if (!f)
        return -1;
    char line[4096];
    int rc = -1;
    while (rc < 0 && fgets (line, sizeof line, f)) {
        /*  ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE
            SOURCE SUPER_OPTIONS                                            */
        char *dash = strstr (line, " - ");
        if (!dash)
            continue;
        *dash = '\0';
        char *save = NULL, *field[6];
        int n = 0;
        for (char *tok = strtok_r (line, " ", &save); tok; tok = strtok_r (NULL, " ", &save))
            if (n < 6)
                field[n++] = tok;
        if (n < 6)
            continue;
        char *type = strtok_r (dash + 3, " \n", &save);
        strtok_r (NULL, " \n", &save);    /* source */
        char *opts = strtok_r (NULL, " \n", &save);
        if (!type || strcmp (type, fstype) != 0)
            continue;
        if (option) {
            bool found = false;
            char *osave = NULL;
            for (char *o = opts ? strtok_r (opts, ",", &osave) : NULL; o && !found;
                 o = strtok_r (NULL, ",", &osave))
                found = strcmp (o, option) == 0;
            if (!found)
                continue;
        }
        s_unescape (field[3]);
        s_unescape (field[4]);
        snprintf (root, rootlen, "%s", field[3]);
        snprintf (mnt, mntlen, "%s", field[4]);
        rc = 0;
    }
    fclose (f);
    return rc;
}

/*  This process's cgroup path for controller (NULL: the v2 "0::" line).   */
static int
s_own_path (const char *controller, char *out, size_t outlen)
{
    FILE *f = fopen ("/proc/self/cgroup", "re");
    if (!f)
        return -1;
    char line[4096];
    int rc = -1;
    while (rc < 0 && fgets (line, sizeof line, f)) {
        line[strcspn (line, "\n")] = '\0';
        char *c1 = strchr (line, ':');
        char *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *list = c1 + 1;
        bool match;
        if (!controller)
            match = strncmp (line, "0:", 2) == 0 && !*list;
        else {
            match = false;
            char copy[256];
            snprintf (copy, sizeof copy, "%s", list);
            char *save = NULL;
            for (char *c = strtok_r (copy, ",", &save); c && !match; c = strtok_r (NULL, ",", &save))
                match = strcmp (c, controller) == 0;
        }
        if (match) {
            snprintf (out, outlen, "%s", c2 + 1);
            rc = 0;
        }
    }
    fclose (f);
    return rc;
}

/*  The directory of this process's cgroup in the hierarchy mounted with
    fstype/option: mount point + own path below the mount's root.          */
static int
s_own_dir (const char *fstype, const char *option, const char *controller, char *out,
           size_t outlen, char *why, size_t whylen)
{
    char mnt[SBX_CGROUP_PATH_MAX], root[SBX_CGROUP_PATH_MAX], own[SBX_CGROUP_PATH_MAX];
    if (s_find_mount (fstype, option, mnt, sizeof mnt, root, sizeof root) < 0) {
        errfmt (why, whylen, "no %s%s%s hierarchy mounted", fstype, option ? " " : "",
               option ? option : "");
        errno = ENOENT;
        return -1;
    }
    if (s_own_path (controller, own, sizeof own) < 0) {
        errfmt (why, whylen, "own %s cgroup not in /proc/self/cgroup",
               controller ? controller : "v2");
        errno = ENOENT;
        return -1;
    }
    const char *rel = own;
    size_t rlen = strlen (root);
    if (strcmp (root, "/") != 0) {
        if (strncmp (own, root, rlen) != 0 || (own[rlen] && own[rlen] != '/')) {
            errfmt (why, whylen, "own cgroup %s is outside the mounted %s", own, root);
            errno = ENOENT;
            return -1;
        }
        rel = own + rlen;
    }
    if (strcmp (rel, "/") == 0)
        rel = "";
    int n = snprintf (out, outlen, "%s%s", mnt, rel);
    if (n < 0 || (size_t) n >= outlen - 120) {
        errfmt (why, whylen, "cgroup path too long");
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/*  ---- removing a group ------------------------------------------------ */

/*  SIGKILL everything listed in dir/cgroup.procs; how many were listed.
    Never this process: on v1 a thread of ours may live in a task group (a
    spawner parked there so that tasks are born inside), and cgroup.procs
    then lists our pid.                                                     */
static int
s_kill_listed (const char *dir)
{
    char buf[65536];
    if (s_read (dir, "cgroup.procs", buf, sizeof buf) < 0)
        return errno == ENOENT ? 0 : -1;
    int n = 0;
    pid_t self = getpid ();
    for (char *p = buf; *p; ) {
        char *end;
        long pid = strtol (p, &end, 10);
        if (end == p)
            break;
        if (pid > 0 && pid != self) {
            kill ((pid_t) pid, SIGKILL);
            n++;
        }
        p = end;
        while (*p == '\n')
            p++;
    }
    return n;
}

/*  Kill, then remove dir and any group below it. 0 or -1.                 */
static int
s_remove_tree (const char *dir, int timeout_ms)
{
    DIR *d = opendir (dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    while ((e = readdir (d)))
        if (e->d_type == DT_DIR && strcmp (e->d_name, ".") && strcmp (e->d_name, "..")) {
            char sub[SBX_CGROUP_PATH_MAX + 256];
            snprintf (sub, sizeof sub, "%s/%s", dir, e->d_name);
            s_remove_tree (sub, timeout_ms);
        }
    closedir (d);
    int64_t deadline = s_now_ms () + timeout_ms;
    for (;;) {
        int listed = s_kill_listed (dir);
        if (listed == 0 && rmdir (dir) == 0)
            return 0;
        if (listed == 0 && errno != EBUSY)
            return errno == ENOENT ? 0 : -1;
        if (s_now_ms () >= deadline) {
            errno = listed > 0 ? ETIMEDOUT : EBUSY;
            return -1;
        }
        s_nap ();
    }
}

/*  ---- detection ------------------------------------------------------- */

static bool
s_name_ok (const char *name)
{
    size_t len = strlen (name);
    if (len == 0 || len > 100 || !strcmp (name, ".") || !strcmp (name, ".."))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum ((unsigned char) name[i]) && !strchr ("_.-", name[i]))
            return false;
    return true;
}

/*  mkdir dir/name, replacing a stale empty group of that name.            */
static int
s_mkgroup (const char *parent, const char *name, char *out, size_t outlen)
{
    int n = snprintf (out, outlen, "%s/%s", parent, name);
    if (n < 0 || (size_t) n >= outlen) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (mkdir (out, 0755) == 0)
        return 0;
    if (errno != EEXIST || s_remove_tree (out, 200) < 0 || mkdir (out, 0755) < 0) {
        if (errno == EEXIST)
            errno = EBUSY;
        return -1;
    }
    return 0;
}

static int
s_try_v2 (sbx_cgroup_t *cg, const sbx_cgroup_config_t *config, const char *name,
          char *why, size_t whylen)
{
    char base[SBX_CGROUP_PATH_MAX], buf[1024];
    if (config->v2_dir)
        snprintf (base, sizeof base, "%s", config->v2_dir);
    else if (s_own_dir ("cgroup2", NULL, NULL, base, sizeof base, why, whylen) < 0)
        return -1;
    if (s_read (base, "cgroup.controllers", buf, sizeof buf) < 0) {
        errfmt (why, whylen, "v2: read %s/cgroup.controllers: %s", base, strerror (errno));
        return -1;
    }
    buf[strcspn (buf, "\n")] = '\0';
    if (!s_has_word (buf, "memory") || !s_has_word (buf, "pids")) {
        errfmt (why, whylen, "v2: %s offers controllers \"%s\", need memory and pids (bound"
               " to v1, or not delegated)", base, buf);
        errno = EOPNOTSUPP;
        return -1;
    }
    if (s_read (base, "cgroup.subtree_control", buf, sizeof buf) < 0)
        buf[0] = '\0';
    if ((!s_has_word (buf, "memory") || !s_has_word (buf, "pids"))
        && s_write (base, "cgroup.subtree_control", "+memory +pids") < 0) {
        errfmt (why, whylen, "v2: enabling memory,pids in %s/cgroup.subtree_control: %s%s",
               base, strerror (errno), errno == EBUSY ? " (the worker's own cgroup holds"
               " processes: run it in a delegated subtree or set v2_dir)" : "");
        return -1;
    }
    if (s_mkgroup (base, name, cg->dir[0], sizeof cg->dir[0]) < 0) {
        errfmt (why, whylen, "v2: mkdir %s/%s: %s", base, name, strerror (errno));
        return -1;
    }
    if (s_write (cg->dir[0], "cgroup.subtree_control", "+memory +pids") < 0) {
        int e = errno;
        errfmt (why, whylen, "v2: enabling memory,pids in %s: %s", cg->dir[0], strerror (e));
        rmdir (cg->dir[0]);
        cg->dir[0][0] = '\0';
        errno = e;
        return -1;
    }
    cg->version = 2;
    cg->swap_max = s_exists (cg->dir[0], "memory.swap.max");
    cg->kill_file = s_exists (cg->dir[0], "cgroup.kill");
    return 0;
}

static int
s_try_v1 (sbx_cgroup_t *cg, const sbx_cgroup_config_t *config, const char *name,
          char *why, size_t whylen)
{
    static const char *const controllers[2] = { "memory", "pids" };
    const char *const given[2] = { config->memory_dir, config->pids_dir };
    for (int i = 0; i < 2; i++) {
        char base[SBX_CGROUP_PATH_MAX];
        if (given[i])
            snprintf (base, sizeof base, "%s", given[i]);
        else if (s_own_dir ("cgroup", controllers[i], controllers[i], base, sizeof base,
                            why, whylen) < 0)
            goto failed;
        if (s_mkgroup (base, name, cg->dir[i], sizeof cg->dir[i]) < 0) {
            errfmt (why, whylen, "v1: mkdir %s/%s: %s", base, name, strerror (errno));
            cg->dir[i][0] = '\0';
            goto failed;
        }
    }
    cg->version = 1;
    cg->memsw = s_exists (cg->dir[0], "memory.memsw.limit_in_bytes");
    return 0;
failed:;
    int e = errno;
    for (int i = 0; i < 2; i++)
        if (cg->dir[i][0])
            rmdir (cg->dir[i]);
    cg->dir[0][0] = cg->dir[1][0] = '\0';
    errno = e;
    return -1;
}

sbx_cgroup_t *
sbx_cgroup_new (const sbx_cgroup_config_t *config, sbx_cgroup_caps_t *caps, char *err,
                size_t errlen)
{
    static const sbx_cgroup_config_t defaults;
    if (!config)
        config = &defaults;
    sbx_cgroup_caps_t local;
    if (!caps)
        caps = &local;
    memset (caps, 0, sizeof *caps);
    char name[128];
    if (config->name)
        snprintf (name, sizeof name, "%s", config->name);
    else
        snprintf (name, sizeof name, "cleudo-%d", (int) getpid ());
    if (!s_name_ok (name)) {
        caps->err = EINVAL;
        errfmt (caps->detail, sizeof caps->detail, "group name \"%s\": use [A-Za-z0-9_.-]",
               name);
        errfmt (err, errlen, "cgroup: %s", caps->detail);
        return NULL;
    }
    sbx_cgroup_t *cg = calloc (1, sizeof *cg);
    if (!cg) {
        caps->err = ENOMEM;
        errfmt (caps->detail, sizeof caps->detail, "out of memory");
        errfmt (err, errlen, "cgroup: out of memory");
        return NULL;
    }
    char why2[320] = "", why1[320] = "";
    int e2 = 0, e1 = 0;
    if (!config->no_v2 && s_try_v2 (cg, config, name, why2, sizeof why2) < 0)
        e2 = errno ? errno : EOPNOTSUPP;
    if (!cg->version && !config->no_v1 && s_try_v1 (cg, config, name, why1, sizeof why1) < 0)
        e1 = errno ? errno : EOPNOTSUPP;
    if (!cg->version) {
        caps->err = e1 ? e1 : e2 ? e2 : EOPNOTSUPP;
        snprintf (caps->detail, sizeof caps->detail, "%.150s%s%.150s", why2,
                  why2[0] && why1[0] ? "; " : "", why1[0] ? why1 : "");
        if (!caps->detail[0])
            snprintf (caps->detail, sizeof caps->detail, "disabled by configuration");
        errfmt (err, errlen, "cgroup: unavailable (%s: %s)", errname (caps->err),
               caps->detail);
        free (cg);
        return NULL;
    }
    caps->available = true;
    caps->version = cg->version;
    caps->swap_limit = cg->version == 2 ? cg->swap_max : cg->memsw;
    caps->kill_file = cg->kill_file;
    if (cg->version == 2)
        snprintf (caps->detail, sizeof caps->detail, "v2 at %.200s, swap %s, %s", cg->dir[0],
                  cg->swap_max ? "off" : "not limitable",
                  cg->kill_file ? "cgroup.kill" : "kill loop");
    else
        snprintf (caps->detail, sizeof caps->detail, "v1 memory at %.120s, pids at %.120s,"
                  " swap %s", cg->dir[0], cg->dir[1],
                  cg->memsw ? "off (memsw)" : "swappiness 0 (no swap accounting)");
    cg->caps = *caps;
    return cg;
}

void
sbx_cgroup_destroy (sbx_cgroup_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sbx_cgroup_t *cg = *self_p;
    for (int i = 0; i < 2; i++)
        if (cg->dir[i][0])
            s_remove_tree (cg->dir[i], 1000);
    free (cg);
    *self_p = NULL;
}

const sbx_cgroup_caps_t *
sbx_cgroup_caps (const sbx_cgroup_t *self)
{
    return &self->caps;
}

/*  No process in dir or any group below it.                               */
static bool
s_tree_empty (const char *dir, int depth)
{
    char buf[64];
    if (s_read (dir, "cgroup.procs", buf, sizeof buf) < 0 || buf[0])
        return false;
    if (depth > 8)
        return false;
    DIR *d = opendir (dir);
    if (!d)
        return false;
    bool empty = true;
    struct dirent *e;
    while (empty && (e = readdir (d)))
        if (e->d_type == DT_DIR && strcmp (e->d_name, ".") && strcmp (e->d_name, "..")) {
            char sub[SBX_CGROUP_PATH_MAX + 256];
            snprintf (sub, sizeof sub, "%s/%s", dir, e->d_name);
            empty = s_tree_empty (sub, depth + 1);
        }
    closedir (d);
    return empty;
}

int
sbx_cgroup_remove_stale (const sbx_cgroup_t *self)
{
    int removed = 0;
    for (int i = 0; i < 2; i++) {
        if (!self->dir[i][0])
            continue;
        char parent[SBX_CGROUP_PATH_MAX];
        snprintf (parent, sizeof parent, "%s", self->dir[i]);
        char *slash = strrchr (parent, '/');
        if (!slash || slash == parent)
            continue;
        *slash = '\0';
        DIR *d = opendir (parent);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir (d))) {
            int pid, end = 0;
            if (e->d_type != DT_DIR || sscanf (e->d_name, "cleudo-%d%n", &pid, &end) != 1
                || e->d_name[end] || pid <= 0 || pid == getpid ())
                continue;
            if (kill (pid, 0) == 0 || errno != ESRCH)
                continue;               /* alive (or not ours to judge) */
            char dir[SBX_CGROUP_PATH_MAX + 256];
            snprintf (dir, sizeof dir, "%s/%s", parent, e->d_name);
            if (s_tree_empty (dir, 0) && s_remove_tree (dir, 200) == 0)
                removed++;
        }
        closedir (d);
    }
    return removed;
}

void
sbx_cgroup_probe (const sbx_cgroup_config_t *config, sbx_cgroup_caps_t *caps)
{
    char err[256];
    sbx_cgroup_t *cg = sbx_cgroup_new (config, caps, err, sizeof err);
    if (!cg)
        return;
    sbx_cgroup_task_t t;
    if (sbx_cgroup_task_create (cg, "probe", 64ull << 20, 16, &t, err, sizeof err) < 0) {
        caps->available = false;
        caps->version = 0;
        caps->err = errno ? errno : EIO;
        snprintf (caps->detail, sizeof caps->detail, "%s", err);
    }
    else
        sbx_cgroup_task_destroy (&t);
    sbx_cgroup_destroy (&cg);
}

/*  ---- task groups ----------------------------------------------------- */

static void
s_task_reset (sbx_cgroup_task_t *t)
{
    memset (t, 0, sizeof *t);
    t->procs_fd[0] = t->procs_fd[1] = t->dir_fd = -1;
}

static int
s_limit (const char *dir, const char *file, uint64_t value, const char *none)
{
    char text[32];
    if (value)
        snprintf (text, sizeof text, "%llu", (unsigned long long) value);
    else
        snprintf (text, sizeof text, "%s", none);
    return s_write (dir, file, text);
}

int
sbx_cgroup_task_create (sbx_cgroup_t *self, const char *name, uint64_t memory_bytes,
                        uint64_t pids_max, sbx_cgroup_task_t *t, char *err, size_t errlen)
{
    s_task_reset (t);
    if (!s_name_ok (name)) {
        errfmt (err, errlen, "cgroup: task group name \"%s\": use [A-Za-z0-9_.-]", name);
        errno = EINVAL;
        return -1;
    }
    const char *what = "mkdir";
    int groups = self->version == 1 ? 2 : 1;
    for (int i = 0; i < groups; i++)
        if (s_mkgroup (self->dir[i], name, t->dir[i], sizeof t->dir[i]) < 0) {
            t->dir[i][0] = '\0';
            goto failed;
        }
    t->version = self->version;
    const char *mem = t->dir[0];
    const char *pids = self->version == 1 ? t->dir[1] : t->dir[0];
    if (self->version == 2) {
        what = "memory.max";
        if (s_limit (mem, "memory.max", memory_bytes, "max") < 0)
            goto failed;
        what = "memory.swap.max";
        if (self->swap_max && s_write (mem, "memory.swap.max", "0") < 0)
            goto failed;
        /*  One OOM kill takes the whole group: a task is one unit.        */
        what = "memory.oom.group";
        if (s_exists (mem, "memory.oom.group") && s_write (mem, "memory.oom.group", "1") < 0)
            goto failed;
    }
    else {
        what = "memory.limit_in_bytes";
        if (s_limit (mem, "memory.limit_in_bytes", memory_bytes, "-1") < 0)
            goto failed;
        /*  memsw (memory + swap) equal to the memory limit: no swap.       */
        what = "memory.memsw.limit_in_bytes";
        if (self->memsw && s_limit (mem, "memory.memsw.limit_in_bytes", memory_bytes, "-1") < 0)
            goto failed;
        if (!self->memsw)
            s_write (mem, "memory.swappiness", "0");
    }
    what = "pids.max";
    if (s_limit (pids, "pids.max", pids_max, "max") < 0)
        goto failed;
    what = "cgroup.procs";
    for (int i = 0; i < groups; i++) {
        char path[SBX_CGROUP_PATH_MAX + 16];
        snprintf (path, sizeof path, "%s/cgroup.procs", t->dir[i]);
        if ((t->procs_fd[i] = open (path, O_WRONLY | O_CLOEXEC)) < 0)
            goto failed;
    }
    if (self->version == 2
        && (t->dir_fd = open (t->dir[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        goto failed;
    return 0;
failed:;
    int e = errno;
    errfmt (err, errlen, "cgroup: task group %s: %s: %s", name, what, strerror (e));
    for (int i = 0; i < 2; i++) {
        if (t->procs_fd[i] >= 0)
            close (t->procs_fd[i]);
        if (t->dir[i][0])
            rmdir (t->dir[i]);
    }
    if (t->dir_fd >= 0)
        close (t->dir_fd);
    s_task_reset (t);
    errno = e;
    return -1;
}

int
sbx_cgroup_task_limit (sbx_cgroup_t *self, sbx_cgroup_task_t *t, uint64_t memory_bytes,
                       uint64_t pids_max, char *err, size_t errlen)
{
    const char *what = "memory.max";
    if (t->version == 0 || t->version != self->version) {
        errfmt (err, errlen, "cgroup: task group not created");
        errno = EINVAL;
        return -1;
    }
    const char *mem = t->dir[0];
    const char *pids = t->version == 1 ? t->dir[1] : t->dir[0];
    if (t->version == 2) {
        if (s_limit (mem, "memory.max", memory_bytes, "max") < 0)
            goto failed;
    }
    else if (!self->memsw) {
        what = "memory.limit_in_bytes";
        if (s_limit (mem, "memory.limit_in_bytes", memory_bytes, "-1") < 0)
            goto failed;
    }
    else {
        /*  v1 keeps memsw >= memory at every moment (else EINVAL): going
            down, memory first; going up, memsw first.                      */
        what = "memory.limit_in_bytes";
        if (s_limit (mem, "memory.limit_in_bytes", memory_bytes, "-1") == 0) {
            what = "memory.memsw.limit_in_bytes";
            if (s_limit (mem, "memory.memsw.limit_in_bytes", memory_bytes, "-1") < 0)
                goto failed;
        }
        else {
            if (errno != EINVAL)
                goto failed;
            what = "memory.memsw.limit_in_bytes";
            if (s_limit (mem, "memory.memsw.limit_in_bytes", memory_bytes, "-1") < 0)
                goto failed;
            what = "memory.limit_in_bytes";
            if (s_limit (mem, "memory.limit_in_bytes", memory_bytes, "-1") < 0)
                goto failed;
        }
    }
    what = "pids.max";
    if (s_limit (pids, "pids.max", pids_max, "max") < 0)
        goto failed;
    return 0;
failed:;
    int e = errno;
    errfmt (err, errlen, "cgroup: %s: %s: %s", t->dir[0], what, strerror (e));
    errno = e;
    return -1;
}

int
sbx_cgroup_task_oom_kills (const sbx_cgroup_task_t *t, uint64_t *count)
{
    *count = 0;
    if (t->version == 0) {
        errno = EINVAL;
        return -1;
    }
    char buf[1024];
    if (s_read (t->dir[0], t->version == 2 ? "memory.events" : "memory.oom_control", buf,
                sizeof buf) < 0)
        return -1;
    *count = s_key (buf, "oom_kill");
    return 0;
}

SBX_CHILD_CODE int
sbx_cgroup_child_join (const sbx_cgroup_task_t *t)
{
    if (t->version == 0)
        return 0;
    for (int i = 0; i < 2; i++)
        if (t->procs_fd[i] >= 0 && syscall (SYS_write, t->procs_fd[i], "0", 1) < 0)
            return -errno;
    return 0;
}

int
sbx_cgroup_task_stats (const sbx_cgroup_task_t *t, sbx_cgroup_stats_t *st)
{
    memset (st, 0, sizeof *st);
    if (t->version == 0) {
        errno = EINVAL;
        return -1;
    }
    char buf[4096];
    const char *mem = t->dir[0];
    const char *pids = t->version == 1 ? t->dir[1] : t->dir[0];
    if (t->version == 2) {
        if (s_read (mem, "memory.events", buf, sizeof buf) < 0)
            return -1;
        st->oom_kills = s_key (buf, "oom_kill");
        st->memory_max_hits = s_key (buf, "max");
        st->memory_peak = s_number (mem, "memory.peak");
    }
    else {
        /*  "oom_kill N" since Linux 4.13.                                  */
        if (s_read (mem, "memory.oom_control", buf, sizeof buf) < 0)
            return -1;
        st->oom_kills = s_key (buf, "oom_kill");
        st->memory_max_hits = s_number (mem, "memory.failcnt");
        uint64_t memsw = s_number (mem, "memory.memsw.failcnt");
        if (memsw > st->memory_max_hits)
            st->memory_max_hits = memsw;
        st->memory_peak = s_number (mem, "memory.max_usage_in_bytes");
    }
    if (s_read (pids, "pids.events", buf, sizeof buf) >= 0)
        st->pids_max_hits = s_key (buf, "max");
    return 0;
}

int
sbx_cgroup_task_kill (sbx_cgroup_task_t *t, int timeout_ms)
{
    if (t->version == 0)
        return 0;
    if (t->version == 2 && s_exists (t->dir[0], "cgroup.kill"))
        s_write (t->dir[0], "cgroup.kill", "1");
    int64_t deadline = s_now_ms () + timeout_ms;
    for (;;) {
        /*  v1 (and v2 without cgroup.kill): kill the listed ones until the
            list stays empty. A process forked between the read and its
            parent's death shows up in the next read; one that got SIGKILL
            cannot fork any more, so this converges.                        */
        int listed = 0;
        for (int i = 0; i < 2; i++)
            if (t->dir[i][0]) {
                int n = s_kill_listed (t->dir[i]);
                listed += n > 0 ? n : 0;
            }
        if (listed == 0)
            return 0;
        if (s_now_ms () >= deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        s_nap ();
    }
}

int
sbx_cgroup_task_destroy (sbx_cgroup_task_t *t)
{
    if (t->version == 0)
        return 0;
    int rc = sbx_cgroup_task_kill (t, 2000);
    int e = errno;
    for (int i = 0; i < 2; i++)
        if (t->procs_fd[i] >= 0)
            close (t->procs_fd[i]);
    if (t->dir_fd >= 0)
        close (t->dir_fd);
    t->procs_fd[0] = t->procs_fd[1] = t->dir_fd = -1;
    for (int i = 0; i < 2; i++) {
        if (!t->dir[i][0])
            continue;
        if (s_remove_tree (t->dir[i], 1000) < 0) {
            rc = -1;
            e = errno;
        }
        else
            t->dir[i][0] = '\0';
    }
    if (rc == 0)
        s_task_reset (t);
    errno = e;
    return rc;
}

/*  ---- the subreaper fallback ------------------------------------------ */

/*  Children of this process (every thread's but those of the threads in
    skip), up to max. Count, or -1.                                        */
static int
s_children (pid_t *out, int max, const pid_t *skip, size_t skip_count)
{
    int n = 0;
    DIR *d = opendir ("/proc/self/task");
    if (d) {
        struct dirent *e;
        while ((e = readdir (d))) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9')
                continue;
            bool skipped = false;
            for (size_t k = 0; k < skip_count && !skipped; k++)
                skipped = atoi (e->d_name) == skip[k];
            if (skipped)
                continue;
            char path[300], buf[16384];
            snprintf (path, sizeof path, "/proc/self/task/%s/children", e->d_name);
            if (s_read (path, NULL, buf, sizeof buf) < 0)
                continue;
            for (char *p = buf; *p && n < max; ) {
                char *end;
                long pid = strtol (p, &end, 10);
                if (end == p)
                    break;
                out[n++] = (pid_t) pid;
                p = end;
            }
        }
        closedir (d);
        if (access ("/proc/thread-self/children", F_OK) == 0)
            return n;
        n = 0;
    }
    if (skip_count) {
        errno = ENOTSUP;                /* the scan below sees every thread's */
        return -1;
    }
    /*  No "children" files (CONFIG_PROC_CHILDREN off): scan /proc.         */
    pid_t self = getpid ();
    d = opendir ("/proc");
    if (!d)
        return -1;
    struct dirent *e;
    while (n < max && (e = readdir (d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[1024];
        snprintf (path, sizeof path, "/proc/%s/stat", e->d_name);
        if (s_read (path, NULL, buf, sizeof buf) <= 0)
            continue;
        const char *close_paren = strrchr (buf, ')');
        int ppid;
        if (close_paren && sscanf (close_paren + 1, " %*c %d", &ppid) == 1 && ppid == self)
            out[n++] = (pid_t) atoi (e->d_name);
    }
    closedir (d);
    return n;
}

int
sbx_reap_descendants (const pid_t *keep, size_t keep_count, int timeout_ms)
{
    return sbx_reap_descendants_except (keep, keep_count, NULL, 0, timeout_ms);
}

int
sbx_reap_descendants_except (const pid_t *keep, size_t keep_count, const pid_t *skip_tids,
                             size_t skip_count, int timeout_ms)
{
    enum { MAX = 4096 };
    pid_t *kids = malloc (MAX * sizeof *kids);
    if (!kids)
        return -1;
    int killed = 0;
    int64_t deadline = s_now_ms () + timeout_ms;
    for (;;) {
        int n = s_children (kids, MAX, skip_tids, skip_count);
        if (n < 0) {
            free (kids);
            return -1;
        }
        int strangers = 0;
        for (int i = 0; i < n; i++) {
            bool kept = false;
            for (size_t k = 0; k < keep_count && !kept; k++)
                kept = kids[i] == keep[k];
            if (kept)
                continue;
            /*  Our child: its pid cannot be reused before we reap it.      */
            strangers++;
            kill (kids[i], SIGKILL);
            if (waitpid (kids[i], NULL, WNOHANG | __WALL) > 0)
                killed++;
        }
        if (strangers == 0)
            break;
        if (s_now_ms () >= deadline) {
            free (kids);
            errno = ETIMEDOUT;
            return -1;
        }
        s_nap ();
    }
    free (kids);
    return killed;
}
