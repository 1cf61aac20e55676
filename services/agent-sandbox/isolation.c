/*  isolation.c - detect the layers, prepare them per task (isolation.h).

    Why per-slot namespaces and per-slot cgroups: whatever can be made once
    is made once. A slot runs one task at a time, and whatever a task
    started is dead before its slot takes the next one (its PID namespace,
    the cgroup kill), so the slot's user and network namespaces, its
    template root and its cgroup are reused: per task only the joins remain.

    Why a spawner thread per slot: a spawn suspends the spawning thread
    until the task has exec'd (CLONE_VFORK: ~0.3-0.5 ms of the child's
    set-up: seccomp, Landlock, execve). Done by the event loop, that time
    is lost to every other slot, and one worker could not start tasks
    faster than one at a time. So each slot has a thread that only spawns:
    the event loop prepares the task, hands it over (sbx_iso_spawn_begin),
    and goes on until the thread's reply byte makes its pipe readable.

    Why the spawner threads sit in the slots' cgroups (v1): joining a
    cgroup (writing to cgroup.procs) takes the kernel's global
    cgroup_threadgroup_rwsem for writing, which waits for an RCU grace
    period unless another migration happened just before: ~20-40 µs back
    to back, but ~10 ms after a quiet spell (measured in the worker: `true`
    p50 1.9 ms back to back, 11.9 ms with 100 ms between tasks, 2.5 ms with
    the cgroup off), and the spawning thread is blocked (vfork) meanwhile.
    On v1 every thread can sit in its own cgroup ("tasks" file), and a
    child is born in its creating thread's cgroup: so each slot's spawner
    thread is parked in the slot's groups, and the task is born in its
    group, nothing migrates. The thread is not
    a process of the group's (the OOM killer picks group leaders only; our
    kill loops skip our own pid) and counts once against pids.max, plus the
    short-lived first stage: pids.max is the task's limit + 2. On v2 threads
    of one process share a cgroup: the task joins (the cost above), unless
    the kernel is booted with cgroup_favordynmods.
*/
#define _GNU_SOURCE
#include "errfmt.h"
#include "isolation.h"
#include "log.h"
#include "sbx_caps.h"
#include "sbx_cgroup.h"
#include "sbx_landlock.h"
#include "sbx_ns.h"
#include "sbx_seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define S_WORKSPACE_INSIDE "/workspace"  /* the workspace in the minimal root */
#define S_DETAIL_MAX 512

/*  What sbx_ns calls each layer, for those that are ours too.            */
static const int s_ns_layer[SBX_ISO_LAYER_COUNT] = {
    [SBX_ISO_SECCOMP] = -1, [SBX_ISO_LANDLOCK] = -1,
    [SBX_ISO_USERNS] = SBX_NS_USER, [SBX_ISO_PIDNS] = SBX_NS_PID,
    [SBX_ISO_MOUNTNS] = SBX_NS_MOUNT, [SBX_ISO_NETNS] = SBX_NS_NET,
    [SBX_ISO_IPCNS] = SBX_NS_IPC, [SBX_ISO_UTSNS] = SBX_NS_UTS,
    [SBX_ISO_CGROUP] = -1, [SBX_ISO_RLIMITS] = -1, [SBX_ISO_CAPS] = -1,
};

static const char *const s_names[SBX_ISO_LAYER_COUNT] = {
    "seccomp", "landlock", "userns", "pidns", "mountns", "netns", "ipcns", "utsns",
    "cgroup", "rlimits", "caps",
};

/*  The configuration switch that turns a layer off, for messages.         */
static const char *const s_switch[SBX_ISO_LAYER_COUNT] = {
    "SANDBOX_SECCOMP", "SANDBOX_LANDLOCK", "SANDBOX_NAMESPACES", "SANDBOX_NAMESPACES",
    "SANDBOX_NAMESPACES", "SANDBOX_NAMESPACES", "SANDBOX_NAMESPACES", "SANDBOX_NAMESPACES",
    "SANDBOX_CGROUP", NULL, NULL,
};

/*  A slot's spawner thread. The hand-off is a pipe each way,
    not a condition variable: a pipe write is a "sync" wake-up (the waker
    is about to sleep), so the scheduler runs the woken thread on the
    waker's CPU, which is warm, instead of waking an idle one (in a VM an
    idle vCPU halts, and waking it costs tens of µs, twice per spawn).    */
typedef struct {
    const char *dir[2];                 /* the slot's group directories (v1) */
    pthread_t thread;                   /* parked in them */
    pid_t tid;                          /* its thread id */
    bool started;                       /* thread exists */
    bool busy;                          /* a spawn asked and its reply not read
                                           (the event loop's view) */
    int req[2];                         /* main -> spawner: 'S' spawn, 'Q' quit */
    int rep[2];                         /* spawner -> main: one byte per reply */
    int ready;                          /* 1 parked, -errno failed (before the first reply) */
    const sbx_child_spec_t *spec;       /* request */
    pid_t pid;                          /* reply */
    int pidfd;
    int rc;
    sbx_child_failure_t why;
} s_spawner_t;

struct sbx_iso_s {
    sbx_iso_config_t config;            /* as given (strings not owned) */
    sbx_iso_status_t status[SBX_ISO_LAYER_COUNT];   /* per layer */
    char detail[SBX_ISO_LAYER_COUNT][S_DETAIL_MAX]; /* what works, or why not */
    int landlock_abi;                   /* in use; 0: none */
    sbx_seccomp_t *seccomp;             /* both programs; NULL: none */
    sbx_ns_t *ns;                       /* per-slot namespaces; NULL: none */
    unsigned ns_layers;                 /* SBX_NS_BIT()s in use */
    sbx_cgroup_t *cg;                   /* the worker's group; NULL: none */
    sbx_cgroup_task_t *groups;          /* per slot, reused task after task */
    uint64_t *oom_seen;                 /* per slot: the group's oom_kill count */
    uint64_t (*limits)[2];              /* per slot: memory, pids last written
                                           (a write costs ~10 µs; most tasks
                                           ask the same) */
    s_spawner_t *spawners;              /* per slot; NULL: the loop spawns */
    bool parked;                        /* spawners sit in the slots' groups (v1) */
    sbx_caps_plan_t *plans;             /* per slot */
    bool per_slot_ids;                  /* root: a host uid per slot */
    bool chown;                         /* give each workspace to its task's uid */
    bool subreaper;                     /* PR_SET_CHILD_SUBREAPER set */
};

static void
s_set (sbx_iso_t *self, int layer, sbx_iso_status_t status, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
s_set (sbx_iso_t *self, int layer, sbx_iso_status_t status, const char *fmt, ...)
{
    self->status[layer] = status;
    va_list args;
    va_start (args, fmt);
    vsnprintf (self->detail[layer], sizeof self->detail[layer], fmt, args);
    va_end (args);
}

static bool
s_has_cap (int cap)
{
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset (data, 0, sizeof data);
    if (syscall (SYS_capget, &hdr, data) < 0)
        return false;
    return (data[cap / 32].effective >> (cap % 32)) & 1;
}

static bool
s_on (const sbx_iso_t *self, int layer)
{
    return self->status[layer] == SBX_ISO_ENFORCED;
}

/*  ---- detection, one layer at a time ----------------------------------- */

static void
s_detect_seccomp (sbx_iso_t *self)
{
    if (!self->config.seccomp) {
        s_set (self, SBX_ISO_SECCOMP, SBX_ISO_DISABLED, "SANDBOX_SECCOMP=off");
        return;
    }
    if (sbx_seccomp_probe () < 0) {
        int e = errno;
        s_set (self, SBX_ISO_SECCOMP, SBX_ISO_UNAVAILABLE, "%s: %s", errname (e),
               e == EOPNOTSUPP ? "no SECCOMP_RET_KILL_PROCESS (kernel before 4.14)"
                               : "no seccomp filter support");
        return;
    }
    char why[256] = "";
    self->seccomp = sbx_seccomp_new (why, sizeof why);
    if (!self->seccomp) {
        s_set (self, SBX_ISO_SECCOMP, SBX_ISO_UNAVAILABLE, "%s", why);
        return;
    }
    s_set (self, SBX_ISO_SECCOMP, SBX_ISO_ENFORCED, "deny-list, EPERM; other"
           " architectures killed; sockets: AF_UNIX only%s",
           self->config.allow_network ? " (AF_INET/AF_INET6 for tasks given network)" : "");
}

static void
s_detect_landlock (sbx_iso_t *self)
{
    if (!self->config.landlock) {
        s_set (self, SBX_ISO_LANDLOCK, SBX_ISO_DISABLED, "SANDBOX_LANDLOCK=off");
        return;
    }
    int abi = sbx_landlock_abi ();
    if (abi < 1) {
        int e = errno;
        s_set (self, SBX_ISO_LANDLOCK, SBX_ISO_UNAVAILABLE, "%s: %s", errname (e),
               e == EOPNOTSUPP ? "built in but disabled at boot (lsm=)" : "not in this kernel");
        return;
    }
    char why[256] = "";
    if (sbx_landlock_cache_system (why, sizeof why) < 0) {
        s_set (self, SBX_ISO_LANDLOCK, SBX_ISO_UNAVAILABLE, "%s", why);
        return;
    }
    self->landlock_abi = abi;
    s_set (self, SBX_ISO_LANDLOCK, SBX_ISO_ENFORCED, "ABI %d: system read-only, workspace"
           " read-write%s%s", abi, abi >= 4 ? ", TCP bind/connect denied" : "",
           abi >= 6 ? ", abstract sockets and signals scoped" : "");
}

/*  Where the slot helpers build the template roots (in their own mount
    namespaces, under a tmpfs they mount there): any existing directory that
    does not hold the work directory, which the template binds from the
    host and the tmpfs would hide.                                          */
static const char *
s_root_base (const char *work_dir)
{
    static const char *const candidates[] = {
        "/tmp", "/var/tmp", "/mnt", "/run", "/srv", "/opt", "/media", NULL
    };
    for (size_t i = 0; candidates[i]; i++) {
        size_t len = strlen (candidates[i]);
        struct stat st;
        if (strncmp (work_dir, candidates[i], len) == 0
            && (work_dir[len] == '/' || work_dir[len] == '\0'))
            continue;
        if (stat (candidates[i], &st) == 0 && S_ISDIR (st.st_mode))
            return candidates[i];
    }
    return "/tmp";                      /* sbx_ns_new then says why not */
}

/*  The namespaces: probed for real, then made per slot.                   */
static void
s_detect_namespaces (sbx_iso_t *self, sbx_ns_caps_t *caps)
{
    if (!self->config.namespaces) {
        for (int l = 0; l < SBX_ISO_LAYER_COUNT; l++)
            if (s_ns_layer[l] >= 0)
                s_set (self, l, SBX_ISO_DISABLED, "SANDBOX_NAMESPACES=off");
        return;
    }
    sbx_ns_config_t cfg = {
        .uid_base = self->config.uid_base, .gid_base = self->config.uid_base,
        .work_dir = self->config.work_dir, .workspace_at = S_WORKSPACE_INSIDE,
        .root_base = s_root_base (self->config.work_dir),
    };
    sbx_ns_probe (&cfg, caps);
    char why[512] = "";
    self->ns = sbx_ns_new (&cfg, caps, self->config.slots, why, sizeof why);
    self->ns_layers = sbx_ns_layers (self->ns);
    if (!self->ns)
        self->ns_layers = 0;
    else if (!self->ns_layers)
        sbx_ns_destroy (&self->ns);
    for (int l = 0; l < SBX_ISO_LAYER_COUNT; l++) {
        int nl = s_ns_layer[l];
        if (nl < 0)
            continue;
        if (self->ns_layers & SBX_NS_BIT (nl)) {
            const char *extra = "";
            if (nl == SBX_NS_MOUNT)
                extra = (self->ns_layers & SBX_NS_BIT (SBX_NS_PROC))
                        ? "; workspace at " S_WORKSPACE_INSIDE ", fresh /proc"
                        : "; workspace at " S_WORKSPACE_INSIDE ", no /proc";
            s_set (self, l, SBX_ISO_ENFORCED, "%s%s", caps->detail[nl], extra);
        }
        else if (!caps->available[nl])
            s_set (self, l, SBX_ISO_UNAVAILABLE, "%s: %s", errname (caps->err[nl]),
                   caps->detail[nl]);
        else if (why[0])
            s_set (self, l, SBX_ISO_UNAVAILABLE, "making the slots failed: %s", why);
        else
            s_set (self, l, SBX_ISO_UNAVAILABLE, "needs a layer that is missing (without a"
                   " user namespace only a worker with CAP_SYS_ADMIN makes the others;"
                   " the minimal root needs pivot_root)");
    }
}

static void
s_detect_cgroup (sbx_iso_t *self)
{
    if (!self->config.cgroup) {
        s_set (self, SBX_ISO_CGROUP, SBX_ISO_DISABLED, "SANDBOX_CGROUP=off");
        return;
    }
    sbx_cgroup_config_t cfg = { .name = self->config.cgroup_name };
    sbx_cgroup_caps_t caps;
    char why[512] = "";
    self->cg = sbx_cgroup_new (&cfg, &caps, why, sizeof why);
    if (!self->cg) {
        s_set (self, SBX_ISO_CGROUP, SBX_ISO_UNAVAILABLE, "%s: %s", errname (caps.err),
               caps.detail);
        return;
    }
    /*  Workers killed with SIGKILL leave their groups behind (each a kernel
        memory cgroup that lingers): the first worker to start clears them. */
    int stale = self->config.cgroup_name ? 0 : sbx_cgroup_remove_stale (self->cg);
    if (stale > 0)
        log_event (CLOG_INFO, "cgroup_stale_removed", "count=%d", stale);
    size_t slots = self->config.slots;
    self->groups = calloc (slots, sizeof *self->groups);
    self->oom_seen = calloc (slots, sizeof *self->oom_seen);
    self->limits = calloc (slots, sizeof *self->limits);
    if (!self->groups || !self->oom_seen || !self->limits) {
        s_set (self, SBX_ISO_CGROUP, SBX_ISO_UNAVAILABLE, "ENOMEM: out of memory");
        goto failed;
    }
    for (size_t i = 0; i < slots; i++) {
        char name[32];
        snprintf (name, sizeof name, "slot-%zu", i);
        if (sbx_cgroup_task_create (self->cg, name, 0, 0, &self->groups[i], why,
                                    sizeof why) < 0) {
            s_set (self, SBX_ISO_CGROUP, SBX_ISO_UNAVAILABLE, "%s: %s", errname (errno), why);
            goto failed;
        }
        sbx_cgroup_task_oom_kills (&self->groups[i], &self->oom_seen[i]);
    }
    s_set (self, SBX_ISO_CGROUP, SBX_ISO_ENFORCED, "%s; a group per slot: memory (no swap)"
           " and pids limits per task, OOM kills seen, leftovers killed", caps.detail);
    return;
failed:
    for (size_t i = 0; self->groups && i < slots; i++)
        sbx_cgroup_task_destroy (&self->groups[i]);
    free (self->groups);
    free (self->oom_seen);
    free (self->limits);
    self->groups = NULL;
    self->oom_seen = NULL;
    self->limits = NULL;
    sbx_cgroup_destroy (&self->cg);
}

/*  The capability drop per slot, after the namespaces are known: with a
    user namespace the ids come from its mapping; as root without one the
    drop switches to the slot's uid itself.                                */
static int
s_plan_caps (sbx_iso_t *self, char *err, size_t errlen)
{
    char why[256] = "";
    bool bset = sbx_caps_clear_bounding_set (why, sizeof why) == 0;
    size_t slots = self->config.slots;
    self->plans = calloc (slots, sizeof *self->plans);
    if (!self->plans) {
        errfmt (err, errlen, "out of memory");
        return -1;
    }
    bool userns = s_on (self, SBX_ISO_USERNS);
    bool pidns = s_on (self, SBX_ISO_PIDNS);
    bool root_switch = !userns && self->per_slot_ids;
    uid_t base = self->config.uid_base;
    for (size_t i = 0; i < slots; i++) {
        sbx_caps_plan_t *p = &self->plans[i];
        if (sbx_caps_plan_init (p, root_switch, base + (uid_t) i, base + (gid_t) i, why,
                                sizeof why) < 0) {
            errfmt (err, errlen, "%s", why);
            return -1;
        }
        /*  B holds every capability of the slot's user namespace.          */
        if (userns)
            p->have_setpcap = true;
        /*  A uid switch clears the parent-death signal: re-armed. In a new
            PID namespace getppid () says 0: no parent check there (the ns
            set-up checks the worker through a pidfd).                      */
        p->pdeath_signal = SIGKILL;
        p->parent = pidns ? 0 : getpid ();
    }
    const char *ids;
    char idbuf[160];
    if (userns && self->per_slot_ids)
        ids = "uid 1000 in the task's user namespace = host uid SANDBOX_UID_BASE+slot";
    else if (userns)
        ids = "uid 1000 in the task's user namespace = the worker's own uid";
    else if (root_switch) {
        snprintf (idbuf, sizeof idbuf, "setresuid to host uid %u+slot", (unsigned) base);
        ids = idbuf;
    }
    else {
        snprintf (idbuf, sizeof idbuf, "the worker's own uid %u", (unsigned) geteuid ());
        ids = idbuf;
    }
    s_set (self, SBX_ISO_CAPS, SBX_ISO_ENFORCED, "no_new_privs, every capability dropped"
           " (CapEff 0), bounding set %s; ids: %s", bset ? "empty" : "kept (no CAP_SETPCAP)",
           ids);
    return 0;
}

/*  ---- spawner threads ------------------------------------------------------ */

static int
s_write_tid (const char *dir, pid_t tid)
{
    char path[SBX_CGROUP_PATH_MAX + 16], text[24];
    snprintf (path, sizeof path, "%s/tasks", dir);
    int n = snprintf (text, sizeof text, "%d", (int) tid);
    int fd = open (path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t w = write (fd, text, (size_t) n);
    int e = errno;
    close (fd);
    return w == n ? 0 : -(w < 0 ? e : EIO);
}

static bool
s_put (int fd, char c)
{
    ssize_t n;
    while ((n = write (fd, &c, 1)) < 0 && errno == EINTR)
        ;
    return n == 1;
}

static char
s_get (int fd)
{
    char c;
    ssize_t n;
    while ((n = read (fd, &c, 1)) < 0 && errno == EINTR)
        ;
    return n == 1 ? c : 'Q';
}

static void *
s_spawner_main (void *arg)
{
    s_spawner_t *sp = arg;
    /*  No handler of the worker may ever run here (nor on a child's stack). */
    sigset_t all;
    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, NULL);
    pid_t tid = (pid_t) syscall (SYS_gettid);
    sp->tid = tid;
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++)
        if (sp->dir[i] && sp->dir[i][0])
            rc = s_write_tid (sp->dir[i], tid);
    sp->ready = rc < 0 ? rc : 1;
    s_put (sp->rep[1], 'R');
    while (rc == 0 && s_get (sp->req[0]) == 'S') {
        sbx_child_failure_t why;
        pid_t pid = 0;
        int pidfd = -1;
        sp->rc = sbx_child_start (sp->spec, &pid, &pidfd, &why);
        sp->pid = pid;
        sp->pidfd = pidfd;
        sp->why = why;
        s_put (sp->rep[1], 'D');
    }
    return NULL;
}

static void
s_spawner_close (s_spawner_t *sp)
{
    for (int i = 0; i < 2; i++) {
        if (sp->req[i] >= 0)
            close (sp->req[i]);
        if (sp->rep[i] >= 0)
            close (sp->rep[i]);
        sp->req[i] = sp->rep[i] = -1;
    }
}

static void
s_spawners_stop (sbx_iso_t *self)
{
    for (size_t i = 0; self->spawners && i < self->config.slots; i++) {
        s_spawner_t *sp = &self->spawners[i];
        if (sp->started) {
            s_put (sp->req[1], 'Q');
            pthread_join (sp->thread, NULL);
            sp->started = false;
        }
        s_spawner_close (sp);
    }
    free (self->spawners);
    self->spawners = NULL;
}

/*  One thread per slot, parked in the slot's groups when park (v1).
    -errno (and no spawners) when a thread cannot be started or parked.    */
static int
s_spawners_start (sbx_iso_t *self, bool park)
{
    size_t slots = self->config.slots;
    self->spawners = calloc (slots, sizeof *self->spawners);
    if (!self->spawners)
        return -ENOMEM;
    for (size_t i = 0; i < slots; i++)
        self->spawners[i].req[0] = self->spawners[i].req[1] = self->spawners[i].rep[0]
            = self->spawners[i].rep[1] = -1;
    int rc = 0;
    for (size_t i = 0; i < slots && rc == 0; i++) {
        s_spawner_t *sp = &self->spawners[i];
        sp->dir[0] = park ? self->groups[i].dir[0] : NULL;
        sp->dir[1] = park ? self->groups[i].dir[1] : NULL;
        if (pipe2 (sp->req, O_CLOEXEC) < 0 || pipe2 (sp->rep, O_CLOEXEC) < 0) {
            rc = -errno;
            break;
        }
        /*  Small stacks: the thread only calls sbx_child_start.           */
        pthread_attr_t attr;
        pthread_attr_init (&attr);
        pthread_attr_setstacksize (&attr, 256 * 1024);
        int e = pthread_create (&sp->thread, &attr, s_spawner_main, sp);
        pthread_attr_destroy (&attr);
        if (e) {
            rc = -e;
            break;
        }
        sp->started = true;
        if (s_get (sp->rep[0]) != 'R')
            rc = -EPIPE;
        else if (sp->ready < 0)
            rc = sp->ready;
    }
    if (rc < 0)
        s_spawners_stop (self);
    self->parked = rc == 0 && park;
    return rc;
}

int
sbx_iso_spawn_begin (const sbx_iso_t *iso, size_t slot, const sbx_child_spec_t *spec)
{
    if (!iso || !iso->spawners || slot >= iso->config.slots)
        return -1;
    s_spawner_t *sp = &iso->spawners[slot];
    if (sp->busy)
        return -1;
    sp->spec = spec;
    if (!s_put (sp->req[1], 'S'))
        return -1;                      /* the thread is gone: spawn here */
    sp->busy = true;
    return sp->rep[0];
}

int
sbx_iso_spawn_end (const sbx_iso_t *iso, size_t slot, pid_t *pid, int *pidfd,
                   sbx_child_failure_t *why)
{
    s_spawner_t *sp = iso && iso->spawners && slot < iso->config.slots
                    ? &iso->spawners[slot] : NULL;
    if (!sp || !sp->busy || s_get (sp->rep[0]) != 'D') {
        /*  Not asked, or the thread is gone (cannot happen while the
            worker lives).                                                  */
        if (sp)
            sp->busy = false;
        why->step = SBX_STEP_NONE;
        why->err = EPIPE;
        why->sub = 0;
        return -1;
    }
    sp->busy = false;
    sp->spec = NULL;
    *pid = sp->pid;
    *pidfd = sp->pidfd;
    *why = sp->why;
    return sp->rc;
}

int
sbx_iso_spawn (const sbx_iso_t *iso, size_t slot, const sbx_child_spec_t *spec, pid_t *pid,
               int *pidfd, sbx_child_failure_t *why)
{
    if (sbx_iso_spawn_begin (iso, slot, spec) < 0)
        return sbx_child_start (spec, pid, pidfd, why);
    return sbx_iso_spawn_end (iso, slot, pid, pidfd, why);
}

size_t
sbx_iso_spawner_tids (const sbx_iso_t *iso, pid_t *tids, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; iso && iso->spawners && i < iso->config.slots && n < max; i++)
        tids[n++] = iso->spawners[i].tid;
    return n;
}

size_t
sbx_iso_spawning (const sbx_iso_t *iso)
{
    size_t n = 0;
    for (size_t i = 0; iso && iso->spawners && i < iso->config.slots; i++)
        n += iso->spawners[i].busy;
    return n;
}

sbx_iso_t *
sbx_iso_new (const sbx_iso_config_t *config, char *err, size_t errlen)
{
    if (!config->work_dir || config->slots == 0) {
        errfmt (err, errlen, "isolation: work_dir and slots are required");
        return NULL;
    }
    sbx_iso_t *self = calloc (1, sizeof *self);
    if (!self) {
        errfmt (err, errlen, "isolation: out of memory");
        return NULL;
    }
    self->config = *config;
    /*  SANDBOX_REQUIRE names (config.c checks them too; this is for other
        callers).                                                           */
    const char *p = config->require ? config->require : "";
    while (*p) {
        size_t n = strcspn (p, ",");
        bool known = n == 0;
        for (int l = 0; l < SBX_ISO_LAYER_COUNT && !known; l++)
            known = strlen (s_names[l]) == n && strncmp (s_names[l], p, n) == 0;
        if (!known) {
            errfmt (err, errlen, "invalid SANDBOX_REQUIRE='%s': '%.*s' is not one of %s",
                   config->require, (int) (n > 40 ? 40 : n), p, SBX_ISO_LAYER_NAMES);
            goto failed;
        }
        p += n + (p[n] == ',');
    }
    self->per_slot_ids = s_has_cap (CAP_SETUID) && s_has_cap (CAP_SETGID);
    /*  Per-slot host uids: each workspace is given to its task's uid (0700),
        and the work directory must let those uids through (0711: no
        listing, so no task learns another's workspace name). Before the
        namespaces: the slots' template roots bind it as those uids.       */
    self->chown = self->per_slot_ids;
    if (self->chown && chmod (config->work_dir, 0711) < 0) {
        errfmt (err, errlen, "invalid SANDBOX_WORK_DIR='%s': chmod 0711: %s", config->work_dir,
               strerror (errno));
        goto failed;
    }

    s_detect_seccomp (self);
    s_detect_landlock (self);
    sbx_ns_caps_t ns_caps;
    memset (&ns_caps, 0, sizeof ns_caps);
    s_detect_namespaces (self, &ns_caps);
    s_detect_cgroup (self);
    if (s_plan_caps (self, err, errlen) < 0)
        goto failed;
    /*  After the capability plan: the threads inherit the empty bounding
        set, and so do the tasks they start.                                */
    /*  Without a PID namespace, orphans of a task would go to init: as a
        subreaper the worker gets them, to kill (cgroup or sweep) and reap. */
    if (!s_on (self, SBX_ISO_PIDNS) && prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
        self->subreaper = true;
    bool v1 = self->cg && sbx_cgroup_caps (self->cg)->version == 1 && !config->cgroup_join;
    /*  A sweep tells a spawn in flight by its thread's "children" file;
        without those files (CONFIG_PROC_CHILDREN off) it could not, so
        the loop spawns, unless v1 needs the threads anyway.               */
    int rc = 0;
    if (v1 || !sbx_iso_needs_sweep (self) || access ("/proc/thread-self/children", F_OK) == 0)
        rc = s_spawners_start (self, v1);
    if (rc < 0 && v1)
        rc = s_spawners_start (self, false);
    if (self->cg) {
        size_t len = strlen (self->detail[SBX_ISO_CGROUP]);
        snprintf (self->detail[SBX_ISO_CGROUP] + len, sizeof self->detail[SBX_ISO_CGROUP] - len,
                  self->parked ? "; tasks born in their group (a spawner thread per slot)"
                               : "; tasks join their group (up to ~10 ms after a quiet spell)");
    }
    if (rc < 0)
        log_event (CLOG_WARN, "spawner_threads", "error=\"%s\" note=\"the event loop spawns"
                   " each task itself, one at a time\"", strerror (-rc));
    s_set (self, SBX_ISO_RLIMITS, SBX_ISO_ENFORCED, "CPU (SIGKILL at soft + 1 s), %s,"
           " processes, file size, open files, no core dumps",
           self->cg ? "no address-space limit (the cgroup limits memory)" : "address space");
    return self;
failed:
    sbx_iso_destroy (&self);
    return NULL;
}

void
sbx_iso_destroy (sbx_iso_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sbx_iso_t *self = *self_p;
    s_spawners_stop (self);
    for (size_t i = 0; self->groups && i < self->config.slots; i++)
        sbx_cgroup_task_destroy (&self->groups[i]);
    sbx_cgroup_destroy (&self->cg);
    sbx_ns_destroy (&self->ns);
    sbx_seccomp_destroy (&self->seccomp);
    free (self->groups);
    free (self->oom_seen);
    free (self->limits);
    free (self->plans);
    free (self);
    *self_p = NULL;
}

/*  ---- what it found ------------------------------------------------------ */

const char *
sbx_iso_layer_name (int layer)
{
    return layer >= 0 && layer < SBX_ISO_LAYER_COUNT ? s_names[layer] : "unknown";
}

sbx_iso_status_t
sbx_iso_status (const sbx_iso_t *self, int layer)
{
    return layer >= 0 && layer < SBX_ISO_LAYER_COUNT ? self->status[layer] : SBX_ISO_UNAVAILABLE;
}

const char *
sbx_iso_status_name (sbx_iso_status_t status)
{
    switch (status) {
        case SBX_ISO_ENFORCED: return "enforced";
        case SBX_ISO_DISABLED: return "disabled";
        default: return "unavailable";
    }
}

const char *
sbx_iso_detail (const sbx_iso_t *self, int layer)
{
    return layer >= 0 && layer < SBX_ISO_LAYER_COUNT ? self->detail[layer] : "";
}

int
sbx_iso_landlock_abi (const sbx_iso_t *self)
{
    return self ? self->landlock_abi : 0;
}

void
sbx_iso_log (const sbx_iso_t *self)
{
    for (int l = 0; l < SBX_ISO_LAYER_COUNT; l++) {
        char q[2 * S_DETAIL_MAX];
        const char *d = self->detail[l];
        log_event (self->status[l] == SBX_ISO_ENFORCED ? CLOG_INFO : CLOG_WARN, "isolation",
                   "layer=%s status=%s detail=%s", s_names[l],
                   sbx_iso_status_name (self->status[l]), log_quote (q, sizeof q, d, strlen (d)));
    }
}

int
sbx_iso_check_required (const sbx_iso_t *self, char *err, size_t errlen)
{
    const char *p = self->config.require ? self->config.require : "";
    while (*p) {
        size_t n = strcspn (p, ",");
        for (int l = 0; l < SBX_ISO_LAYER_COUNT; l++) {
            if (strlen (s_names[l]) != n || strncmp (s_names[l], p, n) != 0 || s_on (self, l))
                continue;
            if (self->status[l] == SBX_ISO_DISABLED)
                errfmt (err, errlen, "SANDBOX_REQUIRE names %s, which is disabled by %s=off;"
                       " refusing to start", s_names[l], s_switch[l]);
            else
                errfmt (err, errlen, "SANDBOX_REQUIRE names %s, which this worker cannot"
                       " enforce: %s: unavailable (%s); refusing to start", s_names[l],
                       s_names[l], self->detail[l]);
            return -1;
        }
        p += n + (p[n] == ',');
    }
    return 0;
}

size_t
sbx_iso_hello (const sbx_iso_t *self, proto_layer_t *out)
{
    for (int l = 0; l < SBX_ISO_LAYER_COUNT; l++) {
        out[l].name = s_names[l];
        out[l].is_bool = l != SBX_ISO_LANDLOCK;
        out[l].value = l == SBX_ISO_LANDLOCK ? self->landlock_abi : s_on (self, l);
    }
    return SBX_ISO_LAYER_COUNT;
}

bool
sbx_iso_cgroup_memory (const sbx_iso_t *self)
{
    return self && self->cg;
}

bool
sbx_iso_needs_sweep (const sbx_iso_t *self)
{
    return self && self->subreaper && !self->cg;
}

/*  ---- per task ----------------------------------------------------------- */

int
sbx_iso_task_prepare (const sbx_iso_t *self, size_t slot, const sbx_iso_task_spec_t *spec,
                      sbx_iso_task_t *t, sbx_child_iso_t *child, char *err, size_t errlen)
{
    memset (child, 0, sizeof *child);
    child->landlock_fd = -1;
    t->iso = self;
    t->slot = slot;
    t->landlock_fd = -1;
    t->cgroup = false;
    t->oom_before = t->oom_after = 0;
    if (slot >= self->config.slots) {
        errfmt (err, errlen, "slot %zu of %zu", slot, self->config.slots);
        return -1;
    }
    uid_t uid = self->config.uid_base + (uid_t) slot;
    gid_t gid = self->config.uid_base + (gid_t) slot;
    if (self->ns) {
        sbx_ns_task_spec_t ns = { .workspace = spec->workspace,
                                  .workspace_fd = spec->workspace_fd,
                                  .network = spec->network,
                                  .landlock_abi = self->landlock_abi };
        if (sbx_ns_task_prepare (self->ns, slot, &ns, &t->ns, err, errlen) < 0)
            return -1;
        child->ns = &t->ns;
        snprintf (t->home, sizeof t->home, "%s", t->ns.workspace_inside);
        uid = t->ns.host_uid;
        gid = t->ns.host_gid;
    }
    else
        snprintf (t->home, sizeof t->home, "%s", spec->workspace);
    /*  Inputs were written by the worker: the task's uid gets the tree.   */
    if (self->chown && sbx_ns_chown_tree (spec->workspace_fd, uid, gid) < 0) {
        errfmt (err, errlen, "workspace: chown to uid %u: %s", (unsigned) uid, strerror (errno));
        return -1;
    }
    if (self->landlock_abi > 0) {
        sbx_landlock_spec_t ls = { .workspace = NULL, .workspace_fd = spec->workspace_fd,
                                   .network = spec->network, .abi = self->landlock_abi };
        if (sbx_landlock_prepare (&ls, &t->landlock_fd, err, errlen) < 0)
            return -1;
        child->landlock_fd = t->landlock_fd;
    }
    if (self->cg) {
        sbx_cgroup_task_t *g = &self->groups[slot];
        /*  With a parked spawner, its thread and the short-lived first
            stage count too.                                                */
        uint64_t pids = spec->processes ? spec->processes + (self->parked ? 2 : 0) : 0;
        uint64_t *last = self->limits[slot];
        if (last[0] != spec->memory_bytes || last[1] != pids || !last[0]) {
            last[0] = last[1] = 0;      /* unknown until written */
            if (sbx_cgroup_task_limit (self->cg, g, spec->memory_bytes, pids, err, errlen) < 0) {
                sbx_iso_task_spawned (t);
                return -1;
            }
            last[0] = spec->memory_bytes;
            last[1] = pids;
        }
        child->cgroup = self->parked ? NULL : g;
        t->cgroup = true;
        t->oom_before = t->oom_after = self->oom_seen[slot];
    }
    child->caps = &self->plans[slot];
    child->seccomp = self->seccomp ? sbx_seccomp_prog (self->seccomp, spec->network) : NULL;
    return 0;
}

void
sbx_iso_task_spawned (sbx_iso_task_t *t)
{
    if (t->landlock_fd >= 0) {
        close (t->landlock_fd);
        t->landlock_fd = -1;
    }
}

void
sbx_iso_task_kill (sbx_iso_task_t *t)
{
    if (!t->iso || !t->cgroup)
        return;
    sbx_cgroup_task_t *g = &t->iso->groups[t->slot];
    /*  With a PID namespace nothing of the task is left once its PID 1 has
        been reaped (the kernel killed the rest first), and nothing can
        leave a PID namespace: no need to list the group.                  */
    if (!s_on (t->iso, SBX_ISO_PIDNS) && sbx_cgroup_task_kill (g, 2000) < 0)
        log_event (CLOG_ERROR, "cgroup_kill_failed", "slot=%zu dir=%s errno=%d", t->slot,
                   g->dir[0], errno);
    uint64_t count;
    if (sbx_cgroup_task_oom_kills (g, &count) == 0) {
        t->oom_after = count;
        t->iso->oom_seen[t->slot] = count;
    }
    t->cgroup = false;
}

uint64_t
sbx_iso_task_oom_kills (const sbx_iso_task_t *t)
{
    return t->oom_after > t->oom_before ? t->oom_after - t->oom_before : 0;
}

void
sbx_iso_task_release (sbx_iso_task_t *t)
{
    sbx_iso_task_spawned (t);
    sbx_iso_task_kill (t);
    t->iso = NULL;
}
