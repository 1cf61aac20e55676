/*  layers_ns.c - namespace rows through sbx_ns (see layers_ns.h).

    sbx_ns's functions are declared weak: when sbx_ns.o is not linked (the
    module is not written yet) their addresses are NULL and every row says
    so instead of failing the build.
*/
#define _GNU_SOURCE
#include "layers_ns.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if !defined (LAYERS_NS_STUB) && __has_include ("sbx_ns.h")
#include "sbx_ns.h"
#else
#undef LAYERS_NS_STUB
#define LAYERS_NS_STUB 1
#endif

#define CHILD_CODE __attribute__ ((no_sanitize ("address", "undefined"), noinline))

#ifdef LAYERS_NS_STUB

/*  ---- sbx_ns absent, or its API changed under us ------------------------ */

const char *
lns_unavailable (void)
{
#if __has_include ("sbx_ns.h")
    return "sbx_ns API does not match bench/layers_ns.c";
#else
    return "not built yet";
#endif
}

lns_t *
lns_new (const char *want, bool net_per_task, const char *work_dir, char *err, size_t errlen)
{
    (void) want;
    (void) net_per_task;
    (void) work_dir;
    snprintf (err, errlen, "%s", lns_unavailable ());
    return NULL;
}

void
lns_destroy (lns_t **self_p)
{
    (void) self_p;
}

void
lns_probe_lines (const char *work_dir, char *buf, size_t size)
{
    (void) work_dir;
    snprintf (buf, size, "%s", lns_unavailable ());
}

const char *
lns_active (const lns_t *self)
{
    (void) self;
    return "";
}

bool
lns_switches_ids (const lns_t *self)
{
    (void) self;
    return false;
}

int
lns_prepare (lns_t *self, const char *workspace, int workspace_fd, int landlock_abi,
             char *err, size_t errlen)
{
    (void) self;
    (void) workspace;
    (void) workspace_fd;
    (void) landlock_abi;
    snprintf (err, errlen, "%s", lns_unavailable ());
    return -1;
}

const void *
lns_task (const lns_t *self)
{
    (void) self;
    return NULL;
}

pid_t
lns_spawn (lns_t *self, int (*fn) (void *), void *arg, int *errnum)
{
    (void) self;
    (void) fn;
    (void) arg;
    *errnum = ENOSYS;
    return -1;
}

int
lns_child_setup (const lns_t *self, int *step)
{
    (void) self;
    *step = 0;
    return -ENOSYS;
}

int
lns_child_landlock (const lns_t *self, int ruleset_fd)
{
    (void) self;
    (void) ruleset_fd;
    return -ENOSYS;
}

const char *
lns_step_name (int step)
{
    (void) step;
    return "ns";
}

#else

/*  ---- through sbx_ns ----------------------------------------------------- */

#pragma weak sbx_ns_layer_name
#pragma weak sbx_ns_caps_line
#pragma weak sbx_ns_probe
#pragma weak sbx_ns_new
#pragma weak sbx_ns_destroy
#pragma weak sbx_ns_layers
#pragma weak sbx_ns_task_prepare
#pragma weak sbx_ns_chown_tree
#pragma weak sbx_ns_child_join
#pragma weak sbx_ns_child_clone
#pragma weak sbx_ns_child_setup
#pragma weak sbx_ns_child_landlock_rules
#pragma weak sbx_ns_step_name

#define A_STACK_SIZE (64u * 1024u)

struct lns_s {
    sbx_ns_t *ns;                       /* the module's per-worker state, one slot */
    sbx_ns_task_t *task;                /* the current task (~8 KiB) */
    char active[256];                   /* names of the layers in effect */
    uint8_t *a_stack;                   /* child A's stack (top) */
};

const char *
lns_unavailable (void)
{
    if (!sbx_ns_new || !sbx_ns_task_prepare || !sbx_ns_child_clone || !sbx_ns_child_setup)
        return "not built yet";
    return NULL;
}

static const struct {
    const char *name;                   /* in the want list */
    unsigned bits;                      /* SBX_NS_BIT()s it turns on */
} s_names[] = {
    { "user", SBX_NS_BIT (SBX_NS_USER) },
    { "pid", SBX_NS_BIT (SBX_NS_PID) },
    { "mount", SBX_NS_BIT (SBX_NS_MOUNT) | SBX_NS_BIT (SBX_NS_PIVOT) | SBX_NS_BIT (SBX_NS_PROC) },
    { "ipc", SBX_NS_BIT (SBX_NS_IPC) },
    { "uts", SBX_NS_BIT (SBX_NS_UTS) },
    { "cgroupns", SBX_NS_BIT (SBX_NS_CGROUP) },
    { "net", SBX_NS_BIT (SBX_NS_NET) },
};

lns_t *
lns_new (const char *want, bool net_per_task, const char *work_dir, char *err, size_t errlen)
{
    const char *why = lns_unavailable ();
    if (why) {
        snprintf (err, errlen, "%s", why);
        return NULL;
    }
    unsigned on = 0;
    char list[256];
    snprintf (list, sizeof list, "%s", want);
    for (char *save = NULL, *tok = strtok_r (list, ",", &save); tok;
         tok = strtok_r (NULL, ",", &save)) {
        size_t i;
        for (i = 0; i < sizeof s_names / sizeof s_names[0]; i++)
            if (strcmp (tok, s_names[i].name) == 0)
                break;
        if (i == sizeof s_names / sizeof s_names[0]) {
            snprintf (err, errlen, "unknown namespace '%s'", tok);
            return NULL;
        }
        on |= s_names[i].bits;
    }
    lns_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    sbx_ns_config_t config;
    memset (&config, 0, sizeof config);
    config.skip = ((1u << SBX_NS_LAYER_COUNT) - 1) & ~on;
    config.netns_per_task = net_per_task;
    config.work_dir = work_dir;
    sbx_ns_caps_t caps;
    sbx_ns_probe (&config, &caps);
    self->ns = sbx_ns_new (&config, &caps, 1, err, errlen);
    self->task = calloc (1, sizeof *self->task);
    uint8_t *base = mmap (NULL, A_STACK_SIZE, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (!self->ns || !self->task || base == MAP_FAILED) {
        if (self->ns || !err[0])
            snprintf (err, errlen, "sbx_ns_new or memory failed");
        if (base != MAP_FAILED)
            munmap (base, A_STACK_SIZE);
        lns_destroy (&self);
        return NULL;
    }
    self->a_stack = base + A_STACK_SIZE;
    unsigned in_use = sbx_ns_layers (self->ns);
    size_t len = 0;
    for (int l = 0; l < SBX_NS_LAYER_COUNT; l++)
        if (in_use & SBX_NS_BIT (l))
            len += (size_t) snprintf (self->active + len, sizeof self->active - len, "%s%s",
                                      len ? "," : "", sbx_ns_layer_name (l));
    if ((on & ~in_use) && len < sizeof self->active) {
        unsigned missing = on & ~in_use;
        for (int l = 0; l < SBX_NS_LAYER_COUNT && len < sizeof self->active; l++)
            if (missing & SBX_NS_BIT (l))
                len += (size_t) snprintf (self->active + len, sizeof self->active - len,
                                          "%s-%s", len ? "," : "", sbx_ns_layer_name (l));
    }
    return self;
}

void
lns_probe_lines (const char *work_dir, char *buf, size_t size)
{
    buf[0] = '\0';
    if (lns_unavailable () || !sbx_ns_caps_line) {
        snprintf (buf, size, "%s", lns_unavailable () ? lns_unavailable () : "no caps_line");
        return;
    }
    sbx_ns_config_t config;
    memset (&config, 0, sizeof config);
    config.work_dir = work_dir;
    sbx_ns_caps_t caps;
    sbx_ns_probe (&config, &caps);
    size_t len = 0;
    for (int l = 0; l < SBX_NS_LAYER_COUNT && len < size; l++) {
        char line[512];
        sbx_ns_caps_line (&caps, l, line, sizeof line);
        len += (size_t) snprintf (buf + len, size - len, "%s%s", len ? "\n" : "", line);
    }
}

void
lns_destroy (lns_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    lns_t *self = *self_p;
    if (self->ns)
        sbx_ns_destroy (&self->ns);
    if (self->a_stack)
        munmap (self->a_stack - A_STACK_SIZE, A_STACK_SIZE);
    free (self->task);
    free (self);
    *self_p = NULL;
}

const char *
lns_active (const lns_t *self)
{
    return self->active;
}

bool
lns_switches_ids (const lns_t *self)
{
    return self->task->switch_ids || (sbx_ns_layers (self->ns) & SBX_NS_BIT (SBX_NS_USER));
}

int
lns_prepare (lns_t *self, const char *workspace, int workspace_fd, int landlock_abi,
             char *err, size_t errlen)
{
    sbx_ns_task_spec_t spec = {
        .workspace = workspace, .workspace_fd = workspace_fd, .network = false,
        .landlock_abi = landlock_abi,
    };
    if (sbx_ns_task_prepare (self->ns, 0, &spec, self->task, err, errlen))
        return -1;
    /*  As the worker does on a fresh workspace when the task's host uid is
        not ours.                                                          */
    if (workspace_fd >= 0 && self->task->host_uid != geteuid ()
        && sbx_ns_chown_tree (workspace_fd, self->task->host_uid, self->task->host_gid)) {
        snprintf (err, errlen, "sbx_ns_chown_tree: %s", strerror (errno));
        return -1;
    }
    return 0;
}

const void *
lns_task (const lns_t *self)
{
    return self->task;
}

/*  What child A needs; it shares our memory, so it writes B's pid here.    */
typedef struct {
    const sbx_ns_task_t *task;
    int (*fn) (void *);
    void *arg;
    long b_pid;                         /* > 0, or -errno */
} s_a_args_t;

CHILD_CODE static int
s_child_a (void *arg)
{
    s_a_args_t *a = arg;
    int step = 0;
    int rc = sbx_ns_child_join (a->task, &step);
    if (rc < 0) {
        a->b_pid = rc;
        syscall (SYS_exit, 127);
    }
    a->b_pid = sbx_ns_child_clone (a->task, a->fn, a->arg);
    syscall (SYS_exit, 0);
    return 0;
}

pid_t
lns_spawn (lns_t *self, int (*fn) (void *), void *arg, int *errnum)
{
    s_a_args_t a = { self->task, fn, arg, -EINVAL };
    sigset_t all, saved;
    sigfillset (&all);
    sigprocmask (SIG_SETMASK, &all, &saved);
    pid_t pid_a = clone (s_child_a, self->a_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
    int clone_errno = errno;
    sigprocmask (SIG_SETMASK, &saved, NULL);
    if (pid_a < 0) {
        *errnum = clone_errno;
        return -1;
    }
    while (waitpid (pid_a, NULL, __WALL) < 0 && errno == EINTR)
        ;
    if (a.b_pid < 0) {
        *errnum = (int) -a.b_pid;
        return -1;
    }
    return (pid_t) a.b_pid;
}

CHILD_CODE int
lns_child_setup (const lns_t *self, int *step)
{
    return sbx_ns_child_setup (self->task, step);
}

CHILD_CODE int
lns_child_landlock (const lns_t *self, int ruleset_fd)
{
    return sbx_ns_child_landlock_rules (self->task, ruleset_fd);
}

const char *
lns_step_name (int step)
{
    return sbx_ns_step_name ? sbx_ns_step_name (step) : "ns";
}

#endif
