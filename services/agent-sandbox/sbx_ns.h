/*  sbx_ns.h - the task's namespaces: user, PID, mount (a minimal read-only
    root), network, IPC, UTS, cgroup; detected at start, never assumed.

    DESIGN: pre-made per-slot namespaces, joined; a two-stage vfork spawn.

    At start, per slot, a throw-away helper is cloned into a new user
    namespace with a new network and mount namespace owned by it; the
    worker writes the id mapping (below); the helper brings loopback up,
    builds the slot's TEMPLATE minimal root (tmpfs, skeleton, read-only
    system binds, masks, device nodes, pivot_root, old root detached) and
    exits once the worker holds an fd on each namespace. Per task:

      worker --clone (CLONE_VM|CLONE_VFORK|CLONE_PIDFD|SIGCHLD)--> A
      A:  setns (slot userns), setns (slot netns) unless the task may use
          the network, setns (slot's template mount namespace), then
      A --clone (CLONE_VM|CLONE_VFORK|CLONE_PARENT|CLONE_NEWPID|CLONE_NEWNS|
                 CLONE_NEWIPC|CLONE_NEWUTS, own stack)--> B, the task
      B:  PID 1 of a new PID namespace, child of the WORKER (CLONE_PARENT),
          in its own copy of the template: ids, cgroup ns, hostname, then
          only the private mounts (/tmp, /dev/shm, the workspace, /proc);
          then the usual steps and execve. A, released by B's execve,
          exits 0.

    Why (numbers: test/unit/test_ns.c, cost_per_layer):
      * It works in both deployments. A worker without capabilities (the
        container: non-root, cap_drop ALL, no-new-privileges) can create
        namespaces only inside a user namespace it owns, and can join a
        network or mount namespace only if it is owned by the user
        namespace it is in. "clone (CLONE_NEWUSER) per task, the parent
        writes uid_map while the child waits on a pipe" (measured too: as
        fast as this without a network namespace) would therefore need a
        new network namespace per task: +0.6-0.9 ms, scaling badly in
        parallel; the per-slot one is joined for ~free.
      * The minimal root is built once per slot: a task's mount setup is
        5-7 mounts (~0.1 ms) instead of ~25 inode creations, ~15 binds,
        pivot_root and an RCU-bound umount of the old root (~0.5 ms), all
        of which would block the worker (vfork) before every task.
      * setns (CLONE_NEWUSER) is allowed in A: A is single-threaded (its own
        thread group) and does not share the worker's fs_struct (no
        CLONE_FS); it needs CAP_SYS_ADMIN over the slot's namespace, which a
        root worker has and an unprivileged one has as its owner. Joining
        the net and mount namespaces then uses A's capabilities in it.
      * The one extra cost: the second CLONE_VM|CLONE_VFORK clone (A -> B),
        ~0.1 ms, because a new PID namespace applies to children only.
    Per-slot namespaces also keep concurrent tasks apart where ids cannot:
    loopback TCP/UDP and abstract UNIX sockets live in the network
    namespace, and each slot has its own. A slot runs one task at a time,
    and whatever a task starts dies with its PID namespace, so nothing of it
    is left in the slot's namespaces for the next task (its mounts were in
    its own copy, its files in its own tmpfs).

    Ids. ns uid/gid inner_uid (1000) is mapped to:
      * host uid_base + slot (gid_base + slot) when the worker holds
        CAP_SETUID and CAP_SETGID (root): concurrent tasks have different
        host uids and cannot signal, ptrace or write each other's files,
        and RLIMIT_NPROC counts one task's processes;
      * the worker's own uid/gid otherwise (the only mapping an unprivileged
        process may write; /proc/PID/setgroups is then "deny"): all slots
        share one host uid, kept apart by their PID, mount and network
        namespaces, Landlock and seccomp. sbx_ns_caps_t.per_slot_ids says
        which.
    Everything else is unmapped and shows as 65534 inside. With per-slot
    uids the workspace must belong to the task: sbx_ns_chown_tree.
    Without the user layer (skipped, or no user namespaces, and a worker
    with CAP_SYS_ADMIN making the others directly) B keeps the worker's
    ids: then let sbx_caps_child_drop switch to nt->host_uid/host_gid.

    PID 1 is the task itself, not an init. Reasons: a tiny init would have
    to be a real process of its own (a CLONE_VM init would keep running in
    the worker's address space after the spawn; a fork copies the worker,
    ~35 µs per MB; an exec'd init costs an exec and a binary), and "when the
    task ends, everything it started dies" is exactly what the kernel does
    when a PID namespace's init exits. Consequences, for the lead:
      * signals that PID 1 has left at SIG_DFL are ignored when they come
        from inside its namespace (kill 1, kill $$ from a child), and so are
        the kernel's SIGPIPE, SIGXFSZ and SIGXCPU to PID 1 itself: a PID-1
        task gets EPIPE/EFBIG instead of dying, and RLIMIT_CPU ends it with
        the hard limit's SIGKILL (soft + 1 s) rather than SIGXCPU. Faults
        (SIGSEGV, SIGBUS, ...) and SIGKILL from the worker kill it normally.
        Its children are ordinary processes.
      * orphans are reparented to the task; those it does not reap stay
        zombies until it ends (bounded by pids.max / RLIMIT_NPROC).
      * getppid () is 0 inside: child.c's parent_death check must not run in
        B (sbx_ns_child_setup arms PR_SET_PDEATHSIG itself and checks that
        the worker is alive through a pidfd); sbx_caps_plan_t.parent must be
        0 (unchecked) if pdeath_signal is re-armed there.

    The minimal root (mount layer):
      /usr, /etc (and /bin /sbin /lib /lib32 /lib64: symlinks where the host
      has symlinks, read-only binds otherwise), extra_ro
                                                   read-only, nosuid, nodev
      /etc/shadow, /etc/gshadow, /etc/shadow-, /etc/gshadow-, or mask_paths
                                                   an empty, mode-0 file
      /dev: null zero full random urandom tty (bound host nodes), fd, stdin,
      stdout, stderr (symlinks into /proc/self)
      /dev/shm, /tmp                               per task: private tmpfs, 1777
      the workspace (its real path, or workspace_at)  per task: read-write,
                                                   nosuid, nodev; the cwd
      /proc                                        per task: fresh procfs of
                                                   its PID namespace, when
                                                   mountable
      / itself                                     read-only tmpfs
    Nothing else: no /sys, /run, /var, /home, /root, no other workspace.
    Two entries exist for the mechanics only, both unreachable: /.sbx, where
    the template holds work_dir (each task binds its workspace from there,
    then covers /.sbx with the empty mode-0 /.void: a task without
    capabilities can neither look under a mount nor unmount it), and the
    host's /proc under the task's fresh one (the kernel lets a user
    namespace mount procfs only where a fully visible one already exists).

    PARENT, at start:
        sbx_ns_caps_t caps;
        sbx_ns_probe (&config, &caps);            one log line per layer:
        for (l = 0; l < SBX_NS_LAYER_COUNT; l++)  sbx_ns_caps_line (&caps, l, ...)
        sbx_ns_t *ns = sbx_ns_new (&config, &caps, slots, err, sizeof err);
        (config.work_dir = SANDBOX_WORK_DIR, which must exist from now on)
    PARENT, per task (slot = the run's slot, 0..slots-1):
        sbx_ns_task_t *nt = calloc (1, sizeof *nt);  (~3 KiB; keep it alive
                                                      during the spawn)
        sbx_ns_task_prepare (ns, slot, &(sbx_ns_task_spec_t) {
            .workspace = path, .workspace_fd = fd, .network = net,
            .landlock_abi = abi }, nt, err, sizeof err);
        sbx_ns_chown_tree (fd, nt->host_uid, nt->host_gid)  when the host uid
                                                      differs from the worker's
        HOME for the task: nt->workspace_inside
    CHILD A (raw system calls; before stdio and close_fds, which may reuse
    or close the descriptors involved):
        sbx_ns_child_join (nt, &step)         setns user, net, mnt
        pid = sbx_ns_child_clone (nt, rest_of_steps, arg)
        store pid where the worker reads it (A shares its memory); _exit (0)
    CHILD B = rest_of_steps (arg), first thing (after a cgroup join):
        sbx_ns_child_setup (nt, &step)        ids, cgroupns, hostname, mounts
        ... session, stdio, close_fds, rlimits, no_new_privs, caps drop ...
        sbx_ns_child_landlock_rules (nt, ruleset_fd)   before Landlock's
                                                       restrict_self
        ... Landlock restrict, sigmask, seccomp (last), execve
    PARENT, after the clone returned: read the report pipe (a failing B
    writes its report like any child); reap A (exit 0 once B exec'd); the
    task is B, a child of the worker: pidfd_open (B), wait4 (B).

    Spawns are serialized: B runs on one stack owned by ns (like child.c's
    one stack), so only one thread may spawn at a time.
*/
#ifndef SBX_NS_H_INCLUDED
#define SBX_NS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SBX_NS_PATH_MAX 1024            /* longest workspace path handled */

typedef enum {
    SBX_NS_USER = 0,                    /* "userns" */
    SBX_NS_PID,                         /* "pidns" */
    SBX_NS_MOUNT,                       /* "mountns": the minimal read-only root */
    SBX_NS_NET,                         /* "netns": per-slot, loopback only */
    SBX_NS_IPC,                         /* "ipcns" */
    SBX_NS_UTS,                         /* "utsns": hostname */
    SBX_NS_CGROUP,                      /* "cgroupns" */
    SBX_NS_PROC,                        /* "procfs": fresh /proc (needs pid + mount) */
    SBX_NS_PIVOT,                       /* "pivot_root" (the mount layer needs it) */
    SBX_NS_LAYER_COUNT
} sbx_ns_layer_t;

#define SBX_NS_BIT(layer) (1u << (layer))

/*  What this kernel and this worker's privileges allow.                   */
typedef struct {
    bool available[SBX_NS_LAYER_COUNT]; /* the layer works (tried for real) */
    int err[SBX_NS_LAYER_COUNT];        /* errno why not, 0 when available */
    char detail[SBX_NS_LAYER_COUNT][160];  /* what works, or what failed */
    bool privileged;                    /* CAP_SYS_ADMIN: namespaces without a userns */
    bool per_slot_ids;                  /* CAP_SETUID+CAP_SETGID: base+slot mapping */
    uid_t own_uid;                      /* the worker's euid and egid */
    gid_t own_gid;
} sbx_ns_caps_t;

typedef struct {
    unsigned skip;                      /* SBX_NS_BIT()s not to use (config) */
    uid_t inner_uid;                    /* uid inside; 0: 1000 */
    gid_t inner_gid;                    /* gid inside; 0: 1000 */
    uid_t uid_base;                     /* host uid = uid_base + slot; 0: 200000 */
    gid_t gid_base;                     /* host gid = gid_base + slot; 0: 200000 */
    const char *hostname;               /* NULL: "sandbox" */
    const char *root_base;              /* where the helper builds the template root, in
                                           its own mount namespace; NULL: "/tmp" */
    const char *work_dir;               /* parent of the workspaces (SANDBOX_WORK_DIR);
                                           NULL: tasks get no workspace */
    const char *workspace_at;           /* workspace path inside; NULL: its real path */
    const char *const *mask_paths;      /* NULL-terminated; NULL: the shadow files */
    const char *const *extra_ro;        /* more read-only directories (e.g. /opt), or NULL */
    uint64_t tmp_bytes;                 /* size of /tmp; 0: 256 MiB */
    uint64_t shm_bytes;                 /* size of /dev/shm; 0: 64 MiB */
    bool netns_per_task;                /* fresh netns per task (slow; for comparison) */
} sbx_ns_config_t;

typedef struct sbx_ns_s sbx_ns_t;

/*  Per-task input to sbx_ns_task_prepare.                                 */
typedef struct {
    const char *workspace;              /* host path of the workspace; NULL: none */
    int workspace_fd;                   /* its directory fd (>= 0 with workspace) */
    bool network;                       /* task may use the network: worker's netns */
    int landlock_abi;                   /* for sbx_ns_child_landlock_rules; < 1: none */
} sbx_ns_task_spec_t;

/*  Everything the children need, computed by sbx_ns_task_prepare. The
    caller owns the memory and reads host_uid, host_gid, workspace_inside;
    the rest is for the child functions.                                    */
typedef struct {
    const sbx_ns_t *ns;                 /* the worker's namespaces and root plan */
    unsigned layers;                    /* SBX_NS_BIT()s in effect for this task */
    unsigned long clone_flags;          /* CLONE_NEW* for A -> B */
    int userns_fd;                      /* setns in A, -1: none */
    int netns_fd;                       /* setns in A, -1: none */
    int mntns_fd;                       /* setns in A (the slot's template root), -1: none */
    int workspace_fd;                   /* fchdir in A without a template, -1: none */
    bool switch_ids;                    /* B: setres[ug]id (uid, gid) */
    bool setgroups;                     /* B: setgroups (0) first */
    bool lo_up;                         /* B: bring loopback up (fresh netns) */
    uid_t uid;                          /* ids B switches to (as seen by B) */
    gid_t gid;
    uid_t host_uid;                     /* what the task is on the host */
    gid_t host_gid;
    uint64_t ll_rw;                     /* Landlock rights for /tmp, /dev/shm; 0: no rules */
    uint64_t ll_ro;                     /* for /proc */
    uint64_t ll_dir;                    /* for / (listing) */
    unsigned long workspace_flags;      /* MS_* the workspace's mount has (fallback remount) */
    char workspace_inside[SBX_NS_PATH_MAX];    /* path inside ("" none); HOME */
    char workspace_src[SBX_NS_PATH_MAX];       /* "/.sbx/NAME" in the template */
    char work_tmpfs[SBX_NS_PATH_MAX];          /* real-path mode: work_dir inside */
} sbx_ns_task_t;

/*  Name of a layer: the key of hello's isolation map ("userns", ...).      */
const char *sbx_ns_layer_name (int layer);

/*  One log line: "userns: available (ns uid 1000 -> host uid 200000+slot)"
    or "netns: unavailable (EPERM: setns into the slot's netns)".           */
void sbx_ns_caps_line (const sbx_ns_caps_t *caps, int layer, char *buf, size_t size);

/*  Try every layer for real (throw-away slots and children, ~5-10 ms), with
    config (NULL: defaults). Never fails: what does not work is reported
    unavailable with its errno. Call it before creating the worker's
    threads or from the one thread that spawns.                            */
void sbx_ns_probe (const sbx_ns_config_t *config, sbx_ns_caps_t *out);

/*  The worker's namespaces: per slot a user namespace, an empty network
    namespace and the template root's mount namespace (as caps allows and
    config wants), and B's stack. caps NULL: probe first. NULL with err set
    on failure (bad config, a slot's namespaces could not be made). About
    1-3 ms per slot.                                                        */
sbx_ns_t *sbx_ns_new (const sbx_ns_config_t *config, const sbx_ns_caps_t *caps,
                      size_t slots, char *err, size_t errlen);

/*  Close the namespaces and free; safe on NULL and twice (nulls *self_p). */
void sbx_ns_destroy (sbx_ns_t **self_p);

/*  Layers in use (SBX_NS_BIT mask); 0: the module adds nothing.            */
unsigned sbx_ns_layers (const sbx_ns_t *self);

/*  Fill *t for one task in slot. With the mount layer the workspace must
    be an entry of config.work_dir. 0, or -1 with err set (bad slot,
    workspace elsewhere or its path unreadable).                            */
int sbx_ns_task_prepare (const sbx_ns_t *self, size_t slot, const sbx_ns_task_spec_t *spec,
                         sbx_ns_task_t *t, char *err, size_t errlen);

/*  Parent helper: give the workspace tree to the task's host ids, without
    following links or leaving the file system (call it on a fresh
    workspace, before the task exists). 0, or -1 with errno.               */
int sbx_ns_chown_tree (int dirfd, uid_t uid, gid_t gid);

/*  ---- child side: raw system calls only; 0 / pid or -errno ------------- */

/*  Child A: join the slot's user namespace, (unless network) its network
    namespace and its template mount namespace (without one: fchdir into
    the workspace). On failure *step says which.                           */
int sbx_ns_child_join (const sbx_ns_task_t *t, int *step);

/*  Child A: start B = fn (arg) on ns's stack with t->clone_flags |
    CLONE_VM | CLONE_VFORK | CLONE_PARENT. Returns B's pid (in the worker's
    PID namespace) once B has exec'd or exited, or -errno. B is a child of
    the worker, not of A; fn must never return after a successful execve
    and should _exit on failure.                                            */
long sbx_ns_child_clone (const sbx_ns_task_t *t, int (*fn) (void *), void *arg);
/*  The same on the caller's stack for B (stack_top: its highest address), for
    callers that spawn from several threads at once.                        */
long sbx_ns_child_clone_on (const sbx_ns_task_t *t, uint8_t *stack_top,
                            int (*fn) (void *), void *arg);

/*  Child B, first of its steps (after joining its cgroup): switch ids,
    cgroup namespace, hostname, loopback (netns_per_task), the private
    mounts, cwd = workspace, PR_SET_PDEATHSIG (SIGKILL) + worker-alive
    check. On failure *step says which part (sbx_ns_step_name).            */
int sbx_ns_child_setup (const sbx_ns_task_t *t, int *step);

/*  Child B, after sbx_ns_child_setup, before landlock_restrict_self: add
    rules for the fresh mounts the parent could not open (/tmp, /dev/shm:
    read-write; /proc: read; /: list). No-op without a mount namespace or
    ll_rw == 0.                                                             */
int sbx_ns_child_landlock_rules (const sbx_ns_task_t *t, int ruleset_fd);

/*  Name of a failed part of sbx_ns_child_join or sbx_ns_child_setup
    ("setns_user", "bind_workspace", ...).                                   */
const char *sbx_ns_step_name (int step);

#endif
