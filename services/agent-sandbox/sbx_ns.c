/*  sbx_ns.c - the task's namespaces (see sbx_ns.h).

    Three parts: the child steps (raw system calls only: they run between
    clone and execve in processes that share the worker's memory), the
    per-slot namespaces made at start (by a helper that runs the template
    root's steps), and the probe that tries each layer for real with
    throw-away slots and children built from those same steps.
*/
#define _GNU_SOURCE
#include "errfmt.h"
#include "sbx_ns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SBX_CHILD_CODE __attribute__ ((no_sanitize ("address", "undefined"), noinline))

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
/*  <linux/mount.h> clashes with glibc 2.36's <sys/mount.h>: our own copy. */
#define S_ATTR_RDONLY 0x1
#define S_ATTR_NOSUID 0x2
#define S_ATTR_NODEV 0x4
typedef struct {
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t propagation;
    uint64_t userns_fd;
} s_mount_attr_t;

/*  Landlock, as far as the rules for fresh mounts need it.                */
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif
#define S_LL_READ_FILE (1ULL << 2)
#define S_LL_READ_DIR (1ULL << 3)
typedef struct {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__ ((packed)) s_ll_path_beneath_t;

#define S_STACK_SIZE (256u * 1024u)     /* B's stack; child.c uses the same size */
#define S_NAME_MAX 320                  /* root_base + a system path */
#define S_BASE_MAX 200                  /* root_base */
#define S_ENTRIES_MAX 64                /* skeleton: dirs, files, symlinks */
#define S_BINDS_MAX 24                  /* read-only system binds */
#define S_DEVS_MAX 8
#define S_MASKS_MAX 16

enum {                                  /* parts of the child steps, for reports */
    S_STEP_NONE = 0,
    S_STEP_JOIN_CWD, S_STEP_JOIN_USER, S_STEP_JOIN_NET, S_STEP_CLONE,
    S_STEP_IDS, S_STEP_CGROUPNS, S_STEP_HOSTNAME, S_STEP_LOOPBACK,
    S_STEP_PRIVATE, S_STEP_ROOT, S_STEP_SKELETON, S_STEP_WORKSPACE_DIR,
    S_STEP_ROOT_RO, S_STEP_BIND, S_STEP_BIND_RO, S_STEP_MASK, S_STEP_DEV,
    S_STEP_SHM, S_STEP_TMP, S_STEP_WORKSPACE, S_STEP_PROC, S_STEP_PIVOT,
    S_STEP_DETACH, S_STEP_CHDIR, S_STEP_PDEATH, S_STEP_PID1, S_STEP_JOIN_MNT,
    S_STEP_COVER,
    S_STEP_COUNT
};

static const char *const s_step_names[S_STEP_COUNT] = {
    [S_STEP_NONE] = "ns", [S_STEP_JOIN_CWD] = "ns_workdir",
    [S_STEP_JOIN_USER] = "setns_user", [S_STEP_JOIN_NET] = "setns_net",
    [S_STEP_CLONE] = "clone_task", [S_STEP_IDS] = "ns_ids",
    [S_STEP_CGROUPNS] = "cgroupns", [S_STEP_HOSTNAME] = "hostname",
    [S_STEP_LOOPBACK] = "loopback", [S_STEP_PRIVATE] = "mount_private",
    [S_STEP_ROOT] = "root_tmpfs", [S_STEP_SKELETON] = "root_skeleton",
    [S_STEP_WORKSPACE_DIR] = "workspace_mountpoint", [S_STEP_ROOT_RO] = "root_readonly",
    [S_STEP_BIND] = "bind_system", [S_STEP_BIND_RO] = "bind_readonly",
    [S_STEP_MASK] = "mask", [S_STEP_DEV] = "dev", [S_STEP_SHM] = "dev_shm",
    [S_STEP_TMP] = "tmp", [S_STEP_WORKSPACE] = "bind_workspace", [S_STEP_PROC] = "proc",
    [S_STEP_PIVOT] = "pivot_root", [S_STEP_DETACH] = "detach_old_root",
    [S_STEP_CHDIR] = "chdir_workspace", [S_STEP_PDEATH] = "ns_parent_death",
    [S_STEP_PID1] = "pid1", [S_STEP_JOIN_MNT] = "setns_mnt",
    [S_STEP_COVER] = "cover_work_dir",
};

static const char *const s_layer_names[SBX_NS_LAYER_COUNT] = {
    [SBX_NS_USER] = "userns", [SBX_NS_PID] = "pidns", [SBX_NS_MOUNT] = "mountns",
    [SBX_NS_NET] = "netns", [SBX_NS_IPC] = "ipcns", [SBX_NS_UTS] = "utsns",
    [SBX_NS_CGROUP] = "cgroupns", [SBX_NS_PROC] = "procfs", [SBX_NS_PIVOT] = "pivot_root",
};

/*  The system directories of the minimal root, read-only.                 */
static const char *const s_system[] = {
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", NULL
};
static const char *const s_devices[] = {
    "null", "zero", "full", "random", "urandom", "tty", NULL
};
static const char *const s_default_masks[] = {
    "/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", NULL
};
/*  Where nothing of the task may land: the root's own entries.            */
static const char *const s_reserved[] = {
    "/dev", "/tmp", "/proc", "/.empty", "/.sbx", "/.void", NULL
};

typedef enum { E_DIR, E_FILE, E_SYMLINK } s_entry_kind_t;

typedef struct {
    s_entry_kind_t kind;                /* what to create */
    mode_t mode;                        /* E_DIR, E_FILE */
    char path[S_NAME_MAX];              /* absolute, under root_base */
    char target[S_NAME_MAX];            /* E_SYMLINK */
} s_entry_t;

typedef struct {
    char src[S_NAME_MAX];               /* host path */
    char dst[S_NAME_MAX];               /* under root_base */
    unsigned long locked;               /* MS_* of the source mount, for the fallback remount */
} s_bind_t;

typedef struct {
    int userns_fd;                      /* -1: none */
    int netns_fd;                       /* -1: none */
    int mntns_fd;                       /* the template minimal root, -1: none */
    uid_t host_uid;                     /* ns inner uid maps to this */
    gid_t host_gid;
} s_slot_t;

struct sbx_ns_s {
    sbx_ns_caps_t caps;                 /* what the probe found */
    unsigned layers;                    /* in use: available, wanted, consistent */
    uid_t inner_uid;                    /* ids inside */
    gid_t inner_gid;
    uid_t uid_base;                     /* per-slot host ids */
    gid_t gid_base;
    bool netns_per_task;                /* CLONE_NEWNET per task instead of the slot's */
    int self_pidfd;                     /* the worker, for B's parent-death check */
    uint8_t *stack_map;                 /* B's stack mapping (guard page first) */
    size_t stack_map_size;
    uint8_t *stack_top;
    size_t slot_count;
    s_slot_t *slots;
    /*  The minimal root, planned once.                                     */
    char hostname[65];                  /* UTS name */
    char base[S_BASE_MAX];              /* root_base */
    char workspace_at[SBX_NS_PATH_MAX]; /* fixed workspace path inside, "" real path */
    char work_real[SBX_NS_PATH_MAX];    /* real path of work_dir, "" none */
    char proc_base[S_NAME_MAX];         /* base/proc: the hidden host /proc */
    char sbx_base[S_NAME_MAX];          /* base/.sbx: work_dir, covered per task */
    char root_opts[48];                 /* tmpfs options */
    char tmp_opts[48];
    char shm_opts[48];
    char empty[S_NAME_MAX];             /* the mask source file (base/.empty) */
    s_entry_t entry[S_ENTRIES_MAX];
    size_t entry_count;
    s_bind_t bind[S_BINDS_MAX];         /* read-only directories */
    size_t bind_count;
    s_bind_t dev[S_DEVS_MAX];           /* device nodes */
    size_t dev_count;
    char mask[S_MASKS_MAX][S_NAME_MAX]; /* files covered by the empty one */
    size_t mask_count;
    char reserved[S_BINDS_MAX + 8][S_NAME_MAX];  /* inside paths no workspace may use */
    size_t reserved_count;
};

/*  ======================================================================
    Child side. Raw system calls only; no libc but syscall () and clone (),
    nothing written but the own stack (and, in the probe, its trial record).
    ====================================================================== */

SBX_CHILD_CODE static int
s_c_err (void)
{
    return -errno;
}

/*  Bring "lo" up in the current network namespace.                        */
SBX_CHILD_CODE static int
s_c_lo_up (void)
{
    long fd = syscall (SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return s_c_err ();
    struct ifreq ifr;
    uint8_t *p = (uint8_t *) &ifr;
    for (size_t i = 0; i < sizeof ifr; i++)
        p[i] = 0;
    ifr.ifr_name[0] = 'l';
    ifr.ifr_name[1] = 'o';
    int rc = 0;
    if (syscall (SYS_ioctl, fd, SIOCGIFFLAGS, &ifr) < 0)
        rc = s_c_err ();
    else {
        ifr.ifr_flags |= IFF_UP;
        if (syscall (SYS_ioctl, fd, SIOCSIFFLAGS, &ifr) < 0)
            rc = s_c_err ();
    }
    syscall (SYS_close, fd);
    return rc;
}

SBX_CHILD_CODE static int
s_c_setattr (const char *path, uint64_t set, bool recursive, unsigned long fallback)
{
    s_mount_attr_t attr = { set, 0, 0, 0 };
    if (syscall (SYS_mount_setattr, AT_FDCWD, path, recursive ? AT_RECURSIVE : 0,
                 &attr, sizeof attr) == 0)
        return 0;
    if (errno != ENOSYS && errno != EPERM)
        return s_c_err ();
    /*  Kernel before 5.12, or a seccomp profile without mount_setattr: a
        remount that repeats the source mount's locked flags (a user
        namespace may add restrictions, never drop them). Top mount only.  */
    unsigned long flags = MS_REMOUNT | MS_BIND | fallback;
    if (set & S_ATTR_RDONLY)
        flags |= MS_RDONLY;
    if (set & S_ATTR_NOSUID)
        flags |= MS_NOSUID;
    if (set & S_ATTR_NODEV)
        flags |= MS_NODEV;
    return syscall (SYS_mount, NULL, path, NULL, flags, NULL) < 0 ? s_c_err () : 0;
}

SBX_CHILD_CODE static int
s_c_tmpfs (const char *path, const char *opts)
{
    return syscall (SYS_mount, "tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0
           ? s_c_err () : 0;
}

#define S_FAIL(part) do { *step = (part); return rc; } while (0)

/*  The template of a slot's minimal root, built ONCE per slot by the
    helper at start, in the mount namespace that tasks then copy: tmpfs over
    base, skeleton, read-only, system binds, masks, devices, the two hidden
    binds (below), pivot_root, old root detached. See sbx_ns.h.
      base/proc  the host's /proc, only because the kernel lets a user
                 namespace mount a fresh procfs only where a fully visible
                 one already exists ("mount_too_revealing"); each task
                 mounts its own over it.
      base/.sbx  work_dir: each task binds its own workspace from here,
                 then covers /.sbx with the empty /.void.                  */
SBX_CHILD_CODE static int
s_c_template (const sbx_ns_t *ns, unsigned layers, int *step)
{
    int rc;
    /*  Nothing we mount may propagate back to the worker's namespace.     */
    if (syscall (SYS_mount, NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        rc = s_c_err ();
        S_FAIL (S_STEP_PRIVATE);
    }
    if ((rc = s_c_tmpfs (ns->base, ns->root_opts)) < 0)
        S_FAIL (S_STEP_ROOT);
    for (size_t i = 0; i < ns->entry_count; i++) {
        const s_entry_t *e = &ns->entry[i];
        long r;
        if (e->kind == E_DIR)
            r = syscall (SYS_mkdirat, AT_FDCWD, e->path, e->mode);
        else if (e->kind == E_SYMLINK)
            r = syscall (SYS_symlinkat, e->target, AT_FDCWD, e->path);
        else
            r = syscall (SYS_mknodat, AT_FDCWD, e->path, S_IFREG | e->mode, 0);
        if (r < 0) {
            rc = s_c_err ();
            S_FAIL (S_STEP_SKELETON);
        }
    }
    /*  Read-only from here: binds made from it (the masks) inherit it.     */
    if (syscall (SYS_mount, NULL, ns->base, NULL,
                 MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0) {
        rc = s_c_err ();
        S_FAIL (S_STEP_ROOT_RO);
    }
    for (size_t i = 0; i < ns->bind_count; i++) {
        const s_bind_t *b = &ns->bind[i];
        if (syscall (SYS_mount, b->src, b->dst, NULL, MS_BIND | MS_REC, NULL) < 0) {
            rc = s_c_err ();
            S_FAIL (S_STEP_BIND);
        }
        if ((rc = s_c_setattr (b->dst, S_ATTR_RDONLY | S_ATTR_NOSUID | S_ATTR_NODEV, true,
                               b->locked)) < 0)
            S_FAIL (S_STEP_BIND_RO);
    }
    for (size_t i = 0; i < ns->mask_count; i++)
        if (syscall (SYS_mount, ns->empty, ns->mask[i], NULL, MS_BIND, NULL) < 0) {
            rc = s_c_err ();
            S_FAIL (S_STEP_MASK);
        }
    for (size_t i = 0; i < ns->dev_count; i++)
        if (syscall (SYS_mount, ns->dev[i].src, ns->dev[i].dst, NULL, MS_BIND, NULL) < 0) {
            rc = s_c_err ();
            S_FAIL (S_STEP_DEV);
        }
    if ((layers & SBX_NS_BIT (SBX_NS_PROC))
        && syscall (SYS_mount, "/proc", ns->proc_base, NULL, MS_BIND | MS_REC, NULL) < 0) {
        rc = s_c_err ();
        S_FAIL (S_STEP_PROC);
    }
    /*  From the cwd, where the helper went before it switched ids: the
        slot's uid may not search work_dir's parents (a 0700 /tmp/x of the
        root worker), and the tmpfs over base may hide them.               */
    if (ns->work_real[0]
        && syscall (SYS_mount, ".", ns->sbx_base, NULL, MS_BIND, NULL) < 0) {
        rc = s_c_err ();
        S_FAIL (S_STEP_WORKSPACE);
    }
    /*  pivot_root (".", "."): the old root ends up stacked on the new one,
        and the umount detaches it (pivot_root(2), "NOTES").                */
    if (syscall (SYS_chdir, ns->base) < 0 || syscall (SYS_pivot_root, ".", ".") < 0) {
        rc = s_c_err ();
        S_FAIL (S_STEP_PIVOT);
    }
    if (syscall (SYS_umount2, ".", MNT_DETACH) < 0) {
        rc = s_c_err ();
        S_FAIL (S_STEP_DETACH);
    }
    if (syscall (SYS_chdir, "/") < 0) {
        rc = s_c_err ();
        S_FAIL (S_STEP_CHDIR);
    }
    return 0;
}

/*  Per task, in B's own copy of the template: the private mounts.         */
SBX_CHILD_CODE static int
s_c_task_mounts (const sbx_ns_task_t *t, int *step)
{
    const sbx_ns_t *ns = t->ns;
    int rc;
    if ((rc = s_c_tmpfs ("/dev/shm", ns->shm_opts)) < 0)
        S_FAIL (S_STEP_SHM);
    if ((rc = s_c_tmpfs ("/tmp", ns->tmp_opts)) < 0)
        S_FAIL (S_STEP_TMP);
    if (t->workspace_src[0]) {
        /*  At its real path: a small tmpfs over work_dir holds the one
            mount point, so that no other task's name shows.                */
        if (t->work_tmpfs[0]) {
            if ((rc = s_c_tmpfs (t->work_tmpfs, "mode=0755,size=4k,nr_inodes=8")) < 0)
                S_FAIL (S_STEP_WORKSPACE_DIR);
            if (syscall (SYS_mkdirat, AT_FDCWD, t->workspace_inside, 0755) < 0
                || syscall (SYS_mount, NULL, t->work_tmpfs, NULL,
                            MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0) {
                rc = s_c_err ();
                S_FAIL (S_STEP_WORKSPACE_DIR);
            }
        }
        if (syscall (SYS_mount, t->workspace_src, t->workspace_inside, NULL, MS_BIND, NULL) < 0) {
            rc = s_c_err ();
            S_FAIL (S_STEP_WORKSPACE);
        }
        if ((rc = s_c_setattr (t->workspace_inside, S_ATTR_NOSUID | S_ATTR_NODEV, false,
                               t->workspace_flags)) < 0)
            S_FAIL (S_STEP_WORKSPACE);
    }
    /*  work_dir (every task's workspace) out of sight: covered by the
        empty, read-only /.void. The task can neither reach what is under a
        mount nor unmount it (no capabilities; seccomp denies umount2).     */
    if (ns->work_real[0] && syscall (SYS_mount, "/.void", "/.sbx", NULL, MS_BIND, NULL) < 0) {
        rc = s_c_err ();
        S_FAIL (S_STEP_COVER);
    }
    if ((t->layers & SBX_NS_BIT (SBX_NS_PROC))
        && syscall (SYS_mount, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                    NULL) < 0) {
        rc = s_c_err ();
        S_FAIL (S_STEP_PROC);
    }
    if (syscall (SYS_chdir, t->workspace_inside[0] ? t->workspace_inside : "/") < 0) {
        rc = s_c_err ();
        S_FAIL (S_STEP_CHDIR);
    }
    return 0;
}

SBX_CHILD_CODE static int
s_c_ids (uid_t uid, gid_t gid, bool setgroups)
{
    if ((setgroups && syscall (SYS_setgroups, 0, NULL) < 0)
        || syscall (SYS_setresgid, gid, gid, gid) < 0
        || syscall (SYS_setresuid, uid, uid, uid) < 0)
        return s_c_err ();
    return 0;
}

SBX_CHILD_CODE int
sbx_ns_child_join (const sbx_ns_task_t *t, int *step)
{
    *step = S_STEP_NONE;
    /*  Without the template root the task starts where A is: there.       */
    if (t->mntns_fd < 0 && t->workspace_fd >= 0 && syscall (SYS_fchdir, t->workspace_fd) < 0) {
        *step = S_STEP_JOIN_CWD;
        return s_c_err ();
    }
    /*  The user namespace first: joining the others needs its capabilities. */
    if (t->userns_fd >= 0 && syscall (SYS_setns, t->userns_fd, CLONE_NEWUSER) < 0) {
        *step = S_STEP_JOIN_USER;
        return s_c_err ();
    }
    if (t->netns_fd >= 0 && syscall (SYS_setns, t->netns_fd, CLONE_NEWNET) < 0) {
        *step = S_STEP_JOIN_NET;
        return s_c_err ();
    }
    /*  Root and cwd become the template's /; B copies it (CLONE_NEWNS).    */
    if (t->mntns_fd >= 0 && syscall (SYS_setns, t->mntns_fd, CLONE_NEWNS) < 0) {
        *step = S_STEP_JOIN_MNT;
        return s_c_err ();
    }
    return 0;
}

SBX_CHILD_CODE long
sbx_ns_child_clone (const sbx_ns_task_t *t, int (*fn) (void *), void *arg)
{
    return sbx_ns_child_clone_on (t, t->ns->stack_top, fn, arg);
}

SBX_CHILD_CODE long
sbx_ns_child_clone_on (const sbx_ns_task_t *t, uint8_t *stack_top, int (*fn) (void *),
                       void *arg)
{
    /*  glibc's clone () is an assembly stub (no TLS, no locks, not
        intercepted by ASan): the child runs fn on the given stack.         */
    int pid = clone (fn, stack_top,
                     (int) (t->clone_flags | CLONE_VM | CLONE_VFORK | CLONE_PARENT | SIGCHLD),
                     arg);
    return pid < 0 ? s_c_err () : pid;
}

SBX_CHILD_CODE int
sbx_ns_child_setup (const sbx_ns_task_t *t, int *step)
{
    const sbx_ns_t *ns = t->ns;
    int rc;
    *step = S_STEP_NONE;
    /*  First: in a per-slot mapping uid 0 of the worker is unmapped in the
        namespace, and a tmpfs mounted there refuses to create files for an
        unmapped fsuid (EOVERFLOW). Capabilities in the namespace survive
        the switch (its uid 0 is unmapped, so no "root drops to non-root"
        rule applies); the capability step drops them later.                */
    if (t->switch_ids && (rc = s_c_ids (t->uid, t->gid, t->setgroups)) < 0)
        S_FAIL (S_STEP_IDS);
    /*  After the cgroup join (the caller's), so the namespace's root is the
        task's own group.                                                   */
    if ((t->layers & SBX_NS_BIT (SBX_NS_CGROUP))
        && syscall (SYS_unshare, CLONE_NEWCGROUP) < 0) {
        rc = s_c_err ();
        S_FAIL (S_STEP_CGROUPNS);
    }
    if ((t->clone_flags & CLONE_NEWUTS) && ns->hostname[0]) {
        size_t len = 0;
        while (ns->hostname[len])
            len++;
        if (syscall (SYS_sethostname, ns->hostname, len) < 0) {
            rc = s_c_err ();
            S_FAIL (S_STEP_HOSTNAME);
        }
    }
    if (t->lo_up && (rc = s_c_lo_up ()) < 0)
        S_FAIL (S_STEP_LOOPBACK);
    if ((t->layers & SBX_NS_BIT (SBX_NS_MOUNT)) && (rc = s_c_task_mounts (t, step)) < 0)
        return rc;
    /*  B's parent is the worker (CLONE_PARENT), which getppid () cannot
        show from a new PID namespace (it says 0): check through a pidfd.   */
    if (syscall (SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
        rc = s_c_err ();
        S_FAIL (S_STEP_PDEATH);
    }
    if (ns->self_pidfd >= 0) {
        struct pollfd p = { ns->self_pidfd, POLLIN, 0 };
        if (syscall (SYS_poll, &p, 1, 0) > 0) {
            rc = -ESRCH;
            S_FAIL (S_STEP_PDEATH);
        }
    }
    return 0;
}

SBX_CHILD_CODE static int
s_c_rule (int ruleset_fd, const char *path, uint64_t access)
{
    long fd = syscall (SYS_openat, AT_FDCWD, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return s_c_err ();
    s_ll_path_beneath_t rule = { access, (int32_t) fd };
    long r = syscall (SYS_landlock_add_rule, ruleset_fd, 1 /* PATH_BENEATH */, &rule, 0);
    int rc = r < 0 ? s_c_err () : 0;
    syscall (SYS_close, fd);
    return rc;
}

SBX_CHILD_CODE int
sbx_ns_child_landlock_rules (const sbx_ns_task_t *t, int ruleset_fd)
{
    if (!t->ll_rw || ruleset_fd < 0 || !(t->layers & SBX_NS_BIT (SBX_NS_MOUNT)))
        return 0;
    int rc;
    if ((rc = s_c_rule (ruleset_fd, "/", t->ll_dir)) < 0
        || (rc = s_c_rule (ruleset_fd, "/tmp", t->ll_rw)) < 0
        || (rc = s_c_rule (ruleset_fd, "/dev/shm", t->ll_rw)) < 0)
        return rc;
    if ((t->layers & SBX_NS_BIT (SBX_NS_PROC))
        && (rc = s_c_rule (ruleset_fd, "/proc", t->ll_ro)) < 0)
        return rc;
    return 0;
}

/*  ======================================================================
    Parent side.
    ====================================================================== */

const char *
sbx_ns_layer_name (int layer)
{
    return layer >= 0 && layer < SBX_NS_LAYER_COUNT ? s_layer_names[layer] : "unknown";
}

const char *
sbx_ns_step_name (int step)
{
    return step >= 0 && step < S_STEP_COUNT && s_step_names[step] ? s_step_names[step]
                                                                  : "unknown";
}

void
sbx_ns_caps_line (const sbx_ns_caps_t *caps, int layer, char *buf, size_t size)
{
    if (layer < 0 || layer >= SBX_NS_LAYER_COUNT) {
        snprintf (buf, size, "unknown layer %d", layer);
        return;
    }
    if (caps->available[layer])
        snprintf (buf, size, "%s: available (%s)", s_layer_names[layer], caps->detail[layer]);
    else
        snprintf (buf, size, "%s: unavailable (%s: %s)", s_layer_names[layer],
                  caps->err[layer] ? errname (caps->err[layer]) : "-", caps->detail[layer]);
}

unsigned
sbx_ns_layers (const sbx_ns_t *self)
{
    return self ? self->layers : 0;
}

/*  ---- the plan of the minimal root ------------------------------------ */

static int
s_add_entry (sbx_ns_t *ns, s_entry_kind_t kind, mode_t mode, const char *inside,
             const char *target)
{
    if (ns->entry_count >= S_ENTRIES_MAX)
        return -1;
    for (size_t i = 0; i < ns->entry_count; i++)
        if (strcmp (ns->entry[i].path + strlen (ns->base), inside) == 0)
            return 0;                   /* already planned (a shared parent) */
    s_entry_t *e = &ns->entry[ns->entry_count];
    e->kind = kind;
    e->mode = mode;
    int n = snprintf (e->path, sizeof e->path, "%s%s", ns->base, inside);
    if (n < 0 || (size_t) n >= sizeof e->path)
        return -1;
    snprintf (e->target, sizeof e->target, "%s", target ? target : "");
    ns->entry_count++;
    return 0;
}

/*  Directories for inside and each of its parents (inside is absolute).   */
static int
s_add_dirs (sbx_ns_t *ns, const char *inside)
{
    char buf[S_NAME_MAX];
    if (snprintf (buf, sizeof buf, "%s", inside) >= (int) sizeof buf)
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (s_add_entry (ns, E_DIR, 0755, buf, NULL) < 0)
            return -1;
        *p = '/';
    }
    return s_add_entry (ns, E_DIR, 0755, buf, NULL);
}

/*  Flags that a remount of a bind of path must repeat (fallback only).    */
static unsigned long
s_locked_flags (const struct statvfs *sv)
{
    unsigned long f = 0;
    if (sv->f_flag & ST_NOEXEC)
        f |= MS_NOEXEC;
    if (sv->f_flag & ST_NOATIME)
        f |= MS_NOATIME;
    if (sv->f_flag & ST_NODIRATIME)
        f |= MS_NODIRATIME;
    if (sv->f_flag & ST_RELATIME)
        f |= MS_RELATIME;
    return f;
}

static int
s_add_bind (sbx_ns_t *ns, s_bind_t *list, size_t *count, size_t max, const char *src)
{
    if (*count >= max)
        return -1;
    s_bind_t *b = &list[*count];
    snprintf (b->src, sizeof b->src, "%s", src);
    int n = snprintf (b->dst, sizeof b->dst, "%s%s", ns->base, src);
    if (n < 0 || (size_t) n >= sizeof b->dst)
        return -1;
    struct statvfs sv;
    b->locked = statvfs (src, &sv) == 0 ? s_locked_flags (&sv) : 0;
    (*count)++;
    return 0;
}

static void
s_reserve (sbx_ns_t *ns, const char *inside)
{
    if (ns->reserved_count < sizeof ns->reserved / sizeof ns->reserved[0])
        snprintf (ns->reserved[ns->reserved_count++], S_NAME_MAX, "%s", inside);
}

/*  A read-only system entry: a symlink stays a symlink (merged /usr),
    a directory is bound. Missing entries are skipped.                      */
static int
s_plan_system (sbx_ns_t *ns, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat (path, &st) < 0)
        return 0;
    s_reserve (ns, path);
    if (S_ISLNK (st.st_mode)) {
        char target[S_NAME_MAX];
        ssize_t n = readlink (path, target, sizeof target - 1);
        if (n <= 0) {
            errfmt (err, errlen, "ns: readlink %s: %s", path, strerror (errno));
            return -1;
        }
        target[n] = '\0';
        const char *slash = strrchr (path, '/');
        if (slash != path) {
            char parent[S_NAME_MAX];
            snprintf (parent, sizeof parent, "%.*s", (int) (slash - path), path);
            if (s_add_dirs (ns, parent) < 0)
                goto too_many;
        }
        if (s_add_entry (ns, E_SYMLINK, 0, path, target) < 0)
            goto too_many;
        return 0;
    }
    if (!S_ISDIR (st.st_mode))
        return 0;
    if (s_add_dirs (ns, path) < 0 || s_add_bind (ns, ns->bind, &ns->bind_count, S_BINDS_MAX,
                                                 path) < 0)
        goto too_many;
    return 0;
too_many:
    errfmt (err, errlen, "ns: too many or too long system paths at %s", path);
    return -1;
}

/*  inside must be free for a workspace: not in or above a reserved path. */
static bool
s_inside_ok (const sbx_ns_t *ns, const char *inside)
{
    if (inside[0] != '/' || !inside[1] || strstr (inside, "//") || strstr (inside, "/./")
        || strstr (inside, "/../") || inside[strlen (inside) - 1] == '/')
        return false;
    size_t ilen = strlen (inside);
    for (size_t i = 0; i < ns->reserved_count; i++) {
        const char *r = ns->reserved[i];
        size_t rlen = strlen (r);
        if (strncmp (inside, r, rlen) == 0 && (inside[rlen] == '/' || !inside[rlen]))
            return false;               /* in it */
        if (strncmp (r, inside, ilen) == 0 && r[ilen] == '/')
            return false;               /* above it */
    }
    return true;
}

static int
s_plan (sbx_ns_t *ns, const sbx_ns_config_t *config, char *err, size_t errlen)
{
    const char *base = config->root_base ? config->root_base : "/tmp";
    struct stat st;
    if (base[0] != '/' || strlen (base) < 2 || strlen (base) >= S_BASE_MAX
        || base[strlen (base) - 1] == '/' || stat (base, &st) < 0 || !S_ISDIR (st.st_mode)) {
        errfmt (err, errlen, "ns: root_base \"%s\": must be an existing directory, given as"
               " an absolute path other than / (at most %d bytes, no trailing /)", base,
               S_BASE_MAX - 1);
        return -1;
    }
    snprintf (ns->base, sizeof ns->base, "%s", base);
    for (size_t i = 0; s_system[i]; i++) {
        size_t len = strlen (s_system[i]);
        if (strncmp (base, s_system[i], len) == 0 && (base[len] == '/' || !base[len])) {
            errfmt (err, errlen, "ns: root_base \"%s\" is inside %s, which the new root"
                   " binds", base, s_system[i]);
            return -1;
        }
    }
    const char *host = config->hostname ? config->hostname : "sandbox";
    if (strlen (host) >= sizeof ns->hostname) {
        errfmt (err, errlen, "ns: hostname \"%s\" longer than 64 bytes", host);
        return -1;
    }
    snprintf (ns->hostname, sizeof ns->hostname, "%s", host);
    uint64_t tmp = config->tmp_bytes ? config->tmp_bytes : 256ull << 20;
    uint64_t shm = config->shm_bytes ? config->shm_bytes : 64ull << 20;
    snprintf (ns->root_opts, sizeof ns->root_opts, "mode=0755,size=1m,nr_inodes=4096");
    snprintf (ns->tmp_opts, sizeof ns->tmp_opts, "mode=1777,size=%llu",
              (unsigned long long) tmp);
    snprintf (ns->shm_opts, sizeof ns->shm_opts, "mode=1777,size=%llu",
              (unsigned long long) shm);
    errno = 0;
    if (config->workspace_at) {
        const char *w = config->workspace_at;
        if (w[0] != '/' || strlen (w) < 2 || strlen (w) >= sizeof ns->workspace_at
            || strstr (w, "//") || strstr (w, "/./") || strstr (w, "/../")
            || w[strlen (w) - 1] == '/') {
            errfmt (err, errlen, "ns: workspace_at \"%s\": must be a normalized absolute"
                   " path other than /", w);
            return -1;
        }
        snprintf (ns->workspace_at, sizeof ns->workspace_at, "%s", w);
    }

    /*  The skeleton, in creation order.                                    */
    if (s_add_entry (ns, E_DIR, 0755, "/dev", NULL) < 0
        || s_add_entry (ns, E_DIR, 0755, "/dev/shm", NULL) < 0
        || s_add_entry (ns, E_DIR, 0755, "/tmp", NULL) < 0
        || s_add_entry (ns, E_DIR, 0555, "/proc", NULL) < 0
        || s_add_entry (ns, E_FILE, 0, "/.empty", NULL) < 0
        || s_add_entry (ns, E_DIR, 0, "/.void", NULL) < 0
        || s_add_entry (ns, E_DIR, 0, "/.sbx", NULL) < 0)
        goto too_many;
    for (size_t i = 0; s_reserved[i]; i++)
        s_reserve (ns, s_reserved[i]);
    for (size_t i = 0; s_system[i]; i++)
        if (s_plan_system (ns, s_system[i], err, errlen) < 0)
            return -1;
    for (size_t i = 0; config->extra_ro && config->extra_ro[i]; i++) {
        const char *p = config->extra_ro[i];
        if (p[0] != '/' || strlen (p) < 2 || strstr (p, "//") || strstr (p, "/.")) {
            errfmt (err, errlen, "ns: extra_ro \"%s\": must be a normalized absolute path", p);
            return -1;
        }
        if (s_plan_system (ns, p, err, errlen) < 0)
            return -1;
    }
    for (size_t i = 0; s_devices[i]; i++) {
        char src[64], inside[64];
        snprintf (src, sizeof src, "/dev/%s", s_devices[i]);
        snprintf (inside, sizeof inside, "/dev/%s", s_devices[i]);
        if (stat (src, &st) < 0 || !S_ISCHR (st.st_mode))
            continue;
        if (s_add_entry (ns, E_FILE, 0, inside, NULL) < 0
            || s_add_bind (ns, ns->dev, &ns->dev_count, S_DEVS_MAX, src) < 0)
            goto too_many;
    }
    static const char *const links[][2] = {
        { "/dev/fd", "/proc/self/fd" }, { "/dev/stdin", "/proc/self/fd/0" },
        { "/dev/stdout", "/proc/self/fd/1" }, { "/dev/stderr", "/proc/self/fd/2" },
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        if (s_add_entry (ns, E_SYMLINK, 0, links[i][0], links[i][1]) < 0)
            goto too_many;
    const char *const *masks = config->mask_paths ? config->mask_paths : s_default_masks;
    for (size_t i = 0; masks[i]; i++) {
        /*  Only regular files inside a bound directory can be covered.    */
        if (lstat (masks[i], &st) < 0 || !S_ISREG (st.st_mode) || masks[i][0] != '/')
            continue;
        bool bound = false;
        for (size_t b = 0; b < ns->bind_count && !bound; b++) {
            size_t len = strlen (ns->bind[b].src);
            bound = strncmp (masks[i], ns->bind[b].src, len) == 0 && masks[i][len] == '/';
        }
        if (!bound)
            continue;
        if (ns->mask_count >= S_MASKS_MAX)
            goto too_many;
        snprintf (ns->mask[ns->mask_count++], S_NAME_MAX, "%s%s", ns->base, masks[i]);
    }
    snprintf (ns->proc_base, sizeof ns->proc_base, "%s/proc", ns->base);
    snprintf (ns->sbx_base, sizeof ns->sbx_base, "%s/.sbx", ns->base);
    snprintf (ns->empty, sizeof ns->empty, "%s/.empty", ns->base);
    /*  Workspaces: work_dir is bound (hidden) into the template; mount
        points for them are made now: workspace_at, or work_dir's own path. */
    if (config->work_dir) {
        char real[PATH_MAX];
        if (!realpath (config->work_dir, real) || stat (real, &st) < 0 || !S_ISDIR (st.st_mode)) {
            errfmt (err, errlen, "ns: work_dir \"%s\": %s", config->work_dir,
                   errno ? strerror (errno) : "not a directory");
            return -1;
        }
        const char *mp = ns->workspace_at[0] ? ns->workspace_at : real;
        if (strlen (ns->base) + strlen (mp) + 2 >= S_NAME_MAX) {
            errfmt (err, errlen, "ns: workspaces would be at %s: longer than %zu bytes", mp,
                   S_NAME_MAX - strlen (ns->base) - 2);
            return -1;
        }
        memcpy (ns->work_real, real, strlen (real) + 1);
        mp = ns->workspace_at[0] ? ns->workspace_at : ns->work_real;
        if (!s_inside_ok (ns, mp)) {
            errfmt (err, errlen, "ns: workspaces would be at %s, which collides with the"
                   " minimal root (/usr, /etc, /dev, /tmp, /proc, ...): set workspace_at or"
                   " move the work directory", mp);
            return -1;
        }
        if (s_add_dirs (ns, mp) < 0)
            goto too_many;
    }
    return 0;
too_many:
    errfmt (err, errlen, "ns: the minimal root's plan is too large");
    return -1;
}

/*  ---- per-slot namespaces ---------------------------------------------- */

typedef struct {
    int32_t rc;                         /* 0 or -errno */
    int32_t step;                       /* S_STEP_* of a failure */
} s_report_t;

typedef struct {
    const sbx_ns_t *ns;                 /* plan of the minimal root */
    unsigned layers;                    /* what the slot gets (SBX_NS_BIT) */
    int status_fd;                      /* write end: s_report_t, twice */
    int status_rd;                      /* the parent's ends, closed here */
    int go_fd;                          /* read end: a byte = maps written, EOF = exit */
    int go_wr;
    bool net;                           /* bring loopback up */
    bool mount;                         /* build the template root */
    bool ids;                           /* switch to the inner ids first */
    uid_t uid;
    gid_t gid;
    bool setgroups;
} s_helper_t;

/*  The helper makes a slot's namespaces and holds them until the worker
    has written the id maps and opened them: loopback up, (maps written)
    the template root. It shares the worker's memory (CLONE_VM, no
    CLONE_VFORK: the worker must run to write the maps), so it sticks to
    raw system calls on its own stack with every signal blocked.           */
SBX_CHILD_CODE static int
s_helper_main (void *arg)
{
    const s_helper_t *h = arg;
    syscall (SYS_close, h->status_rd);
    syscall (SYS_close, h->go_wr);
    s_report_t rep = { 0, S_STEP_NONE };
    /*  Still the worker's ids: the way to work_dir is open (s_c_template
        binds it from here).                                                */
    if (h->mount && h->ns->work_real[0] && syscall (SYS_chdir, h->ns->work_real) < 0) {
        rep.rc = s_c_err ();
        rep.step = S_STEP_WORKSPACE;
    }
    else if (h->net && (rep.rc = s_c_lo_up ()) < 0)
        rep.step = S_STEP_LOOPBACK;
    syscall (SYS_write, h->status_fd, &rep, sizeof rep);
    char c;
    long n;
    while ((n = syscall (SYS_read, h->go_fd, &c, 1)) < 0 && errno == EINTR)
        ;
    if (n == 1 && rep.rc == 0) {
        int step = S_STEP_NONE;
        if (h->ids && (rep.rc = s_c_ids (h->uid, h->gid, h->setgroups)) < 0)
            rep.step = S_STEP_IDS;
        else if (h->mount && (rep.rc = s_c_template (h->ns, h->layers, &step)) < 0)
            rep.step = step;
        syscall (SYS_write, h->status_fd, &rep, sizeof rep);
        while (syscall (SYS_read, h->go_fd, &c, 1) != 0 && errno == EINTR)
            ;
    }
    return 0;
}

static int
s_write_file (const char *path, const char *text)
{
    int fd = open (path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write (fd, text, strlen (text));
    int saved = errno;
    close (fd);
    if (n != (ssize_t) strlen (text)) {
        errno = n < 0 ? saved : EIO;
        return -1;
    }
    return 0;
}

static int
s_read_report (int fd, s_report_t *rep)
{
    ssize_t n;
    while ((n = read (fd, rep, sizeof *rep)) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t) sizeof *rep) {
        rep->rc = -EPIPE;
        rep->step = S_STEP_NONE;
    }
    return rep->rc;
}

static void s_close_slot (s_slot_t *slot);

/*  Make the namespaces of one slot for layers: user (with the id maps),
    net (loopback up), mount (the template root). 0, or -errno with why
    and *step set.                                                          */
static int
s_make_slot (sbx_ns_t *ns, size_t index, unsigned layers, char *why, size_t whylen, int *step)
{
    s_slot_t *slot = &ns->slots[index];
    s_close_slot (slot);
    *step = S_STEP_NONE;
    unsigned long flags = 0;
    if (layers & SBX_NS_BIT (SBX_NS_USER))
        flags |= CLONE_NEWUSER;
    if ((layers & SBX_NS_BIT (SBX_NS_NET)) && !ns->netns_per_task)
        flags |= CLONE_NEWNET;
    if (layers & SBX_NS_BIT (SBX_NS_MOUNT))
        flags |= CLONE_NEWNS;
    bool user = flags & CLONE_NEWUSER;
    bool privileged = ns->caps.per_slot_ids;
    slot->host_uid = privileged ? ns->uid_base + (uid_t) index : ns->caps.own_uid;
    slot->host_gid = privileged ? ns->gid_base + (gid_t) index : ns->caps.own_gid;
    if (!flags)
        return 0;
    int status[2], go[2];
    if (pipe2 (status, O_CLOEXEC) < 0) {
        errfmt (why, whylen, "pipe");
        return -errno;
    }
    if (pipe2 (go, O_CLOEXEC) < 0) {
        int e = errno;
        close (status[0]);
        close (status[1]);
        errfmt (why, whylen, "pipe");
        return -e;
    }
    s_helper_t h = {
        .ns = ns, .layers = layers, .status_fd = status[1], .status_rd = status[0],
        .go_fd = go[0], .go_wr = go[1], .net = (flags & CLONE_NEWNET) != 0,
        .mount = (flags & CLONE_NEWNS) != 0, .ids = user, .uid = ns->inner_uid,
        .gid = ns->inner_gid, .setgroups = privileged,
    };
    sigset_t all, saved;
    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, &saved);
    pid_t pid = clone (s_helper_main, ns->stack_top, (int) (flags | CLONE_VM | SIGCHLD), &h);
    int e = errno;
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    close (status[1]);
    close (go[0]);
    int rc = 0;
    s_report_t rep;
    char path[64], map[64];
    if (pid < 0) {
        rc = -e;
        *step = S_STEP_CLONE;
        errfmt (why, whylen, "clone(%s%s%s)", user ? "CLONE_NEWUSER|" : "",
               flags & CLONE_NEWNET ? "CLONE_NEWNET|" : "",
               flags & CLONE_NEWNS ? "CLONE_NEWNS" : "");
        goto done;
    }
    if (s_read_report (status[0], &rep) < 0) {
        rc = rep.rc;
        *step = rep.step;
        errfmt (why, whylen, "%s", rep.step == S_STEP_WORKSPACE
               ? "entering the work directory" : "bringing loopback up in the new network"
               " namespace");
        goto done;
    }
    if (user) {
        /*  An unprivileged writer may map only its own ids, and gid_map
            only after setgroups is denied in the namespace for good.      */
        snprintf (path, sizeof path, "/proc/%d/setgroups", (int) pid);
        if (!privileged && s_write_file (path, "deny") < 0) {
            rc = -errno;
            errfmt (why, whylen, "writing \"deny\" to %s", path);
            goto done;
        }
        snprintf (path, sizeof path, "/proc/%d/uid_map", (int) pid);
        snprintf (map, sizeof map, "%u %u 1\n", (unsigned) ns->inner_uid,
                  (unsigned) slot->host_uid);
        if (s_write_file (path, map) < 0) {
            rc = -errno;
            errfmt (why, whylen, "writing \"%u %u 1\" to uid_map", (unsigned) ns->inner_uid,
                   (unsigned) slot->host_uid);
            goto done;
        }
        snprintf (path, sizeof path, "/proc/%d/gid_map", (int) pid);
        snprintf (map, sizeof map, "%u %u 1\n", (unsigned) ns->inner_gid,
                  (unsigned) slot->host_gid);
        if (s_write_file (path, map) < 0) {
            rc = -errno;
            errfmt (why, whylen, "writing \"%u %u 1\" to gid_map", (unsigned) ns->inner_gid,
                   (unsigned) slot->host_gid);
            goto done;
        }
    }
    if (write (go[1], "g", 1) != 1 || s_read_report (status[0], &rep) < 0) {
        rc = rep.rc < 0 ? rep.rc : -EPIPE;
        *step = rep.step;
        errfmt (why, whylen, "building the slot's minimal root");
        goto done;
    }
    static const struct {
        unsigned long flag;
        const char *name;
    } kinds[] = { { CLONE_NEWUSER, "user" }, { CLONE_NEWNET, "net" }, { CLONE_NEWNS, "mnt" } };
    for (size_t k = 0; k < 3; k++) {
        if (!(flags & kinds[k].flag))
            continue;
        snprintf (path, sizeof path, "/proc/%d/ns/%s", (int) pid, kinds[k].name);
        int fd = open (path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = -errno;
            errfmt (why, whylen, "open %s", path);
            goto done;
        }
        /*  /proc/PID names the helper only if this /proc belongs to our PID
            namespace (a worker run as PID 1 of an "unshare --pid" without
            its own /proc would get another process's): a namespace that is
            our own is not the helper's, and joining it would isolate
            nothing.                                                        */
        char own[64];
        struct stat st_new, st_own;
        snprintf (own, sizeof own, "/proc/self/ns/%s", kinds[k].name);
        if (fstat (fd, &st_new) < 0 || stat (own, &st_own) < 0
            || (st_new.st_dev == st_own.st_dev && st_new.st_ino == st_own.st_ino)) {
            close (fd);
            rc = -EXDEV;
            errfmt (why, whylen, "%s is not the new namespace (is /proc of another PID"
                   " namespace?)", path);
            goto done;
        }
        if (k == 0)
            slot->userns_fd = fd;
        else if (k == 1)
            slot->netns_fd = fd;
        else
            slot->mntns_fd = fd;
    }
done:
    close (go[1]);                      /* the helper exits */
    close (status[0]);
    if (pid > 0)
        while (waitpid (pid, NULL, __WALL) < 0 && errno == EINTR)
            ;
    if (rc < 0)
        s_close_slot (slot);
    return rc;
}

static void
s_close_slot (s_slot_t *slot)
{
    if (slot->userns_fd >= 0)
        close (slot->userns_fd);
    if (slot->netns_fd >= 0)
        close (slot->netns_fd);
    if (slot->mntns_fd >= 0)
        close (slot->mntns_fd);
    slot->userns_fd = slot->netns_fd = slot->mntns_fd = -1;
}

/*  Object with the plan, the stack and empty slots; no namespaces yet.    */
static sbx_ns_t *
s_alloc (const sbx_ns_config_t *config, size_t slots, char *err, size_t errlen)
{
    static const sbx_ns_config_t defaults;
    if (!config)
        config = &defaults;
    if (slots == 0 || slots > 4096) {
        errfmt (err, errlen, "ns: %zu slots: must be 1..4096", slots);
        return NULL;
    }
    sbx_ns_t *ns = calloc (1, sizeof *ns);
    if (!ns) {
        errfmt (err, errlen, "ns: out of memory");
        return NULL;
    }
    ns->self_pidfd = -1;
    ns->inner_uid = config->inner_uid ? config->inner_uid : 1000;
    ns->inner_gid = config->inner_gid ? config->inner_gid : 1000;
    ns->uid_base = config->uid_base ? config->uid_base : 200000;
    ns->gid_base = config->gid_base ? config->gid_base : 200000;
    ns->netns_per_task = config->netns_per_task;
    ns->caps.own_uid = geteuid ();
    ns->caps.own_gid = getegid ();
    ns->slots = calloc (slots, sizeof *ns->slots);
    if (!ns->slots) {
        errfmt (err, errlen, "ns: out of memory");
        goto failed;
    }
    ns->slot_count = slots;
    for (size_t i = 0; i < slots; i++) {
        ns->slots[i].userns_fd = ns->slots[i].netns_fd = ns->slots[i].mntns_fd = -1;
        ns->slots[i].host_uid = ns->caps.own_uid;
        ns->slots[i].host_gid = ns->caps.own_gid;
    }
    if (s_plan (ns, config, err, errlen) < 0)
        goto failed;
    size_t page = (size_t) sysconf (_SC_PAGESIZE);
    ns->stack_map_size = S_STACK_SIZE + page;
    ns->stack_map = mmap (NULL, ns->stack_map_size, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (ns->stack_map == MAP_FAILED) {
        ns->stack_map = NULL;
        errfmt (err, errlen, "ns: stack: %s", strerror (errno));
        goto failed;
    }
    mprotect (ns->stack_map, page, PROT_NONE);
    ns->stack_top = ns->stack_map + ns->stack_map_size;
    ns->self_pidfd = (int) syscall (SYS_pidfd_open, getpid (), 0);
    return ns;
failed:
    sbx_ns_destroy (&ns);
    return NULL;
}

void
sbx_ns_destroy (sbx_ns_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sbx_ns_t *ns = *self_p;
    for (size_t i = 0; ns->slots && i < ns->slot_count; i++)
        s_close_slot (&ns->slots[i]);
    free (ns->slots);
    if (ns->stack_map)
        munmap (ns->stack_map, ns->stack_map_size);
    if (ns->self_pidfd >= 0)
        close (ns->self_pidfd);
    free (ns);
    *self_p = NULL;
}

/*  ---- per task -------------------------------------------------------- */

static uint64_t
s_landlock_fs (int abi)
{
    uint64_t fs = (1ULL << 13) - 1;     /* ABI 1: EXECUTE .. MAKE_SYM */
    if (abi >= 2)
        fs |= 1ULL << 13;               /* REFER */
    if (abi >= 3)
        fs |= 1ULL << 14;               /* TRUNCATE */
    if (abi >= 5)
        fs |= 1ULL << 15;               /* IOCTL_DEV */
    return fs;
}

static int
s_prepare (const sbx_ns_t *ns, size_t slot, const sbx_ns_task_spec_t *spec, unsigned layers,
           sbx_ns_task_t *t, char *err, size_t errlen)
{
    memset (t, 0, sizeof *t);
    t->ns = ns;
    t->userns_fd = t->netns_fd = t->mntns_fd = t->workspace_fd = -1;
    if (slot >= ns->slot_count) {
        errfmt (err, errlen, "ns: slot %zu: only %zu slots", slot, ns->slot_count);
        errno = EINVAL;
        return -1;
    }
    const s_slot_t *s = &ns->slots[slot];
    t->layers = layers;
    t->host_uid = ns->caps.per_slot_ids ? ns->uid_base + (uid_t) slot : ns->caps.own_uid;
    t->host_gid = ns->caps.per_slot_ids ? ns->gid_base + (gid_t) slot : ns->caps.own_gid;
    if (layers & SBX_NS_BIT (SBX_NS_USER)) {
        t->userns_fd = s->userns_fd;
        t->switch_ids = true;
        t->setgroups = ns->caps.per_slot_ids;   /* "deny" otherwise */
        t->uid = ns->inner_uid;
        t->gid = ns->inner_gid;
        t->host_uid = s->host_uid;
        t->host_gid = s->host_gid;
    }
    if ((layers & SBX_NS_BIT (SBX_NS_NET)) && !spec->network) {
        if (ns->netns_per_task) {
            t->clone_flags |= CLONE_NEWNET;
            t->lo_up = true;
        }
        else
            t->netns_fd = s->netns_fd;
    }
    if (layers & SBX_NS_BIT (SBX_NS_PID))
        t->clone_flags |= CLONE_NEWPID;
    if (layers & SBX_NS_BIT (SBX_NS_MOUNT)) {
        t->clone_flags |= CLONE_NEWNS;  /* B's own copy of the template */
        t->mntns_fd = s->mntns_fd;
    }
    if (layers & SBX_NS_BIT (SBX_NS_IPC))
        t->clone_flags |= CLONE_NEWIPC;
    if (layers & SBX_NS_BIT (SBX_NS_UTS))
        t->clone_flags |= CLONE_NEWUTS;

    if (spec->workspace_fd >= 0) {
        char link[64], real[SBX_NS_PATH_MAX];
        snprintf (link, sizeof link, "/proc/self/fd/%d", spec->workspace_fd);
        ssize_t n = readlink (link, real, sizeof real - 1);
        if (n > 0 && real[0] == '/')
            real[n] = '\0';
        else if (spec->workspace && spec->workspace[0] == '/'
                 && strlen (spec->workspace) < sizeof real)
            snprintf (real, sizeof real, "%s", spec->workspace);
        else {
            errfmt (err, errlen, "ns: cannot tell the workspace's path (fd %d): %s",
                   spec->workspace_fd, n < 0 ? strerror (errno) : "path too long");
            errno = n < 0 ? errno : ENAMETOOLONG;
            return -1;
        }
        t->workspace_fd = spec->workspace_fd;
        if (layers & SBX_NS_BIT (SBX_NS_MOUNT)) {
            /*  Only work_dir is in the template (at /.sbx): the workspace
                must be one of its entries.                                 */
            size_t wlen = strlen (ns->work_real);
            const char *name = real + wlen + 1;
            if (!ns->work_real[0] || strncmp (real, ns->work_real, wlen) != 0
                || real[wlen] != '/' || !*name || strchr (name, '/')
                || !strcmp (name, ".") || !strcmp (name, "..")) {
                errfmt (err, errlen, "ns: workspace %s is not directly inside the work_dir"
                       " given to sbx_ns_new (%s)", real,
                       ns->work_real[0] ? ns->work_real : "none");
                errno = EINVAL;
                return -1;
            }
            snprintf (t->workspace_src, sizeof t->workspace_src, "/.sbx/%s", name);
            if (ns->workspace_at[0])
                snprintf (t->workspace_inside, sizeof t->workspace_inside, "%s",
                          ns->workspace_at);
            else {
                snprintf (t->workspace_inside, sizeof t->workspace_inside, "%s", real);
                snprintf (t->work_tmpfs, sizeof t->work_tmpfs, "%s", ns->work_real);
            }
            struct statvfs sv;
            t->workspace_flags = fstatvfs (spec->workspace_fd, &sv) == 0
                                 ? s_locked_flags (&sv) : 0;
        }
        else
            snprintf (t->workspace_inside, sizeof t->workspace_inside, "%s", real);
    }
    if (spec->landlock_abi >= 1 && (layers & SBX_NS_BIT (SBX_NS_MOUNT))) {
        t->ll_rw = s_landlock_fs (spec->landlock_abi);
        t->ll_ro = S_LL_READ_FILE | S_LL_READ_DIR;
        t->ll_dir = S_LL_READ_DIR;
    }
    return 0;
}

int
sbx_ns_task_prepare (const sbx_ns_t *self, size_t slot, const sbx_ns_task_spec_t *spec,
                     sbx_ns_task_t *t, char *err, size_t errlen)
{
    return s_prepare (self, slot, spec, self->layers, t, err, errlen);
}

static int
s_chown_at (int dirfd, uid_t uid, gid_t gid, dev_t dev, int depth)
{
    if (fchown (dirfd, uid, gid) < 0)
        return -1;
    if (depth > 64) {
        errno = ELOOP;
        return -1;
    }
    int copy = fcntl (dirfd, F_DUPFD_CLOEXEC, 0);
    DIR *dir = copy >= 0 ? fdopendir (copy) : NULL;
    if (!dir) {
        if (copy >= 0)
            close (copy);
        return -1;
    }
    rewinddir (dir);
    int rc = 0;
    struct dirent *d;
    while (rc == 0 && (d = readdir (dir))) {
        if (!strcmp (d->d_name, ".") || !strcmp (d->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat (dirfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
            continue;
        if (S_ISDIR (st.st_mode)) {
            int sub = openat (dirfd, d->d_name,
                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                rc = -1;
                break;
            }
            rc = s_chown_at (sub, uid, gid, dev, depth + 1);
            close (sub);
        }
        else if (fchownat (dirfd, d->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
            rc = -1;
    }
    int saved = errno;
    closedir (dir);
    errno = saved;
    return rc;
}

int
sbx_ns_chown_tree (int dirfd, uid_t uid, gid_t gid)
{
    struct stat st;
    if (fstat (dirfd, &st) < 0)
        return -1;
    if (!S_ISDIR (st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return s_chown_at (dirfd, uid, gid, st.st_dev, 0);
}

/*  ---- probe ------------------------------------------------------------ */

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

/*  One throw-away spawn, the real steps without the execve.               */
typedef struct {
    const sbx_ns_task_t *t;             /* what to try */
    int err;                            /* first failure, 0 ok */
    int step;                           /* its part */
    bool want_pid1;                     /* B must be PID 1 */
    long b;                             /* B's pid */
} s_trial_t;

SBX_CHILD_CODE static int
s_trial_b (void *arg)
{
    s_trial_t *tr = arg;
    int step = S_STEP_NONE;
    int rc = sbx_ns_child_setup (tr->t, &step);
    if (rc == 0 && tr->want_pid1 && syscall (SYS_getpid) != 1) {
        rc = -EPROTO;
        step = S_STEP_PID1;
    }
    tr->err = rc;
    tr->step = step;
    syscall (SYS_exit, 0);
    return 0;
}

SBX_CHILD_CODE static int
s_trial_a (void *arg)
{
    s_trial_t *tr = arg;
    int step = S_STEP_NONE;
    int rc = sbx_ns_child_join (tr->t, &step);
    if (rc < 0) {
        tr->err = rc;
        tr->step = step;
        return 0;
    }
    long pid = sbx_ns_child_clone (tr->t, s_trial_b, tr);
    if (pid < 0) {
        tr->err = (int) pid;
        tr->step = S_STEP_CLONE;
    }
    else
        tr->b = pid;
    return 0;
}

/*  Make slot 0 for layers and run one trial spawn; 0 or -errno, *step the
    failed part, why what failed while making the slot.                   */
static int
s_trial (sbx_ns_t *ns, unsigned layers, uint8_t *a_stack_top, int *step, char *why,
         size_t whylen)
{
    why[0] = '\0';
    int rc = s_make_slot (ns, 0, layers, why, whylen, step);
    if (rc < 0)
        return rc;
    sbx_ns_task_t *t = calloc (1, sizeof *t);
    if (!t)
        return -ENOMEM;
    sbx_ns_task_spec_t spec = { .workspace_fd = -1 };
    char err[256];
    s_prepare (ns, 0, &spec, layers, t, err, sizeof err);
    s_trial_t tr = { t, -EPROTO, S_STEP_NONE, (layers & SBX_NS_BIT (SBX_NS_PID)) != 0, 0 };
    sigset_t all, saved;
    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, &saved);
    pid_t a = clone (s_trial_a, a_stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, &tr);
    int e = errno;
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    if (a < 0) {
        tr.err = -e;
        tr.step = S_STEP_NONE;
    }
    else
        while (waitpid (a, NULL, __WALL) < 0 && errno == EINTR)
            ;
    if (tr.b > 0)
        while (waitpid ((pid_t) tr.b, NULL, __WALL) < 0 && errno == EINTR)
            ;
    free (t);
    *step = tr.step;
    return tr.err;
}

static void
s_set (sbx_ns_caps_t *caps, int layer, bool ok, int err, const char *fmt, ...)
    __attribute__ ((format (printf, 5, 6)));

static void
s_set (sbx_ns_caps_t *caps, int layer, bool ok, int err, const char *fmt, ...)
{
    caps->available[layer] = ok;
    caps->err[layer] = ok ? 0 : err;
    va_list args;
    va_start (args, fmt);
    vsnprintf (caps->detail[layer], sizeof caps->detail[layer], fmt, args);
    va_end (args);
}

/*  Which layer a failed part belongs to.                                  */
static int
s_step_layer (int step, unsigned tried)
{
    switch (step) {
    case S_STEP_JOIN_USER: case S_STEP_IDS: return SBX_NS_USER;
    case S_STEP_JOIN_NET: case S_STEP_LOOPBACK: return SBX_NS_NET;
    case S_STEP_JOIN_MNT: return SBX_NS_MOUNT;
    case S_STEP_CGROUPNS: return SBX_NS_CGROUP;
    case S_STEP_HOSTNAME: return SBX_NS_UTS;
    case S_STEP_PROC: return SBX_NS_PROC;
    case S_STEP_PID1: return SBX_NS_PID;
    case S_STEP_PIVOT: case S_STEP_DETACH: return SBX_NS_PIVOT;
    case S_STEP_CLONE: case S_STEP_NONE: case S_STEP_PDEATH: case S_STEP_JOIN_CWD:
        for (int l = SBX_NS_PID; l < SBX_NS_LAYER_COUNT; l++)
            if (l != SBX_NS_NET && (tried & SBX_NS_BIT (l)))
                return l;
        return SBX_NS_USER;
    default: return SBX_NS_MOUNT;
    }
}

/*  "why (step)", "step" or "why".                                          */
static void
s_fail_detail (sbx_ns_caps_t *caps, int layer, int rc, int step, const char *why)
{
    if (why[0])
        s_set (caps, layer, false, -rc, "%s (%s)", why, sbx_ns_step_name (step));
    else
        s_set (caps, layer, false, -rc, "%s", sbx_ns_step_name (step));
}

void
sbx_ns_probe (const sbx_ns_config_t *config, sbx_ns_caps_t *out)
{
    memset (out, 0, sizeof *out);
    out->own_uid = geteuid ();
    out->own_gid = getegid ();
    out->privileged = s_has_cap (CAP_SYS_ADMIN);
    out->per_slot_ids = s_has_cap (CAP_SETUID) && s_has_cap (CAP_SETGID);
    char err[256] = "";
    sbx_ns_t *ns = s_alloc (config, 1, err, sizeof err);
    uint8_t *a_stack = NULL;
    size_t a_size = S_STACK_SIZE;
    if (ns)
        a_stack = mmap (NULL, a_size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (!ns || a_stack == MAP_FAILED) {
        for (int l = 0; l < SBX_NS_LAYER_COUNT; l++)
            s_set (out, l, false, ns ? ENOMEM : EINVAL, "%s", ns ? "probe: no memory" : err);
        sbx_ns_destroy (&ns);
        return;
    }
    ns->caps = *out;
    uint8_t *a_top = a_stack + a_size;
    char why[160];
    int step;

    /*  user: a namespace with the mapping this worker can write.           */
    int rc = s_trial (ns, SBX_NS_BIT (SBX_NS_USER), a_top, &step, why, sizeof why);
    bool user = rc == 0;
    if (user && out->per_slot_ids)
        s_set (out, SBX_NS_USER, true, 0, "ns uid %u -> host uid %u+slot, gid %u -> %u+slot",
               (unsigned) ns->inner_uid, (unsigned) ns->uid_base, (unsigned) ns->inner_gid,
               (unsigned) ns->gid_base);
    else if (user)
        s_set (out, SBX_NS_USER, true, 0, "ns uid %u -> own uid %u, gid %u -> own gid %u:"
               " unprivileged, one host uid for every slot, setgroups denied",
               (unsigned) ns->inner_uid, (unsigned) out->own_uid, (unsigned) ns->inner_gid,
               (unsigned) out->own_gid);
    else
        s_fail_detail (out, SBX_NS_USER, rc, step, why);
    if (!user && !out->privileged) {
        for (int l = 1; l < SBX_NS_LAYER_COUNT; l++)
            s_set (out, l, false, out->err[SBX_NS_USER],
                   "needs a user namespace: the worker has no CAP_SYS_ADMIN");
        goto done;
    }
    unsigned base = user ? SBX_NS_BIT (SBX_NS_USER) : 0;
    static const struct {
        int layer;                      /* reported */
        unsigned needs;                 /* tried together with it */
        const char *what;               /* when available */
    } trials[] = {
        { SBX_NS_NET, 0, "one per slot, made at start, loopback only" },
        { SBX_NS_PID, 0, "the task is PID 1 of its own namespace" },
        { SBX_NS_IPC, 0, "private System V IPC and POSIX queues" },
        { SBX_NS_UTS, 0, "hostname set" },
        { SBX_NS_CGROUP, 0, "the task's cgroup is its root" },
        { SBX_NS_MOUNT, SBX_NS_BIT (SBX_NS_PIVOT), "minimal read-only root, one template"
                                                   " per slot" },
        { SBX_NS_PROC, SBX_NS_BIT (SBX_NS_PID) | SBX_NS_BIT (SBX_NS_MOUNT)
                       | SBX_NS_BIT (SBX_NS_PIVOT), "fresh /proc of the task's PID namespace" },
    };
    for (size_t i = 0; i < sizeof trials / sizeof trials[0]; i++) {
        int layer = trials[i].layer;
        unsigned need = trials[i].needs & ~SBX_NS_BIT (SBX_NS_PIVOT);
        bool deps = true;
        for (int l = 0; l < SBX_NS_LAYER_COUNT && deps; l++)
            if ((need & SBX_NS_BIT (l)) && !out->available[l]) {
                s_set (out, layer, false, out->err[l] ? out->err[l] : EOPNOTSUPP,
                       "needs %s", s_layer_names[l]);
                deps = false;
            }
        if (!deps)
            continue;
        rc = s_trial (ns, base | SBX_NS_BIT (layer) | trials[i].needs, a_top, &step, why,
                      sizeof why);
        if (rc == 0) {
            s_set (out, layer, true, 0, "%s", trials[i].what);
            if (layer == SBX_NS_MOUNT)
                s_set (out, SBX_NS_PIVOT, true, 0, "into a tmpfs over %s, old root detached",
                       ns->base);
            continue;
        }
        s_fail_detail (out, layer, rc, step, why);
        if (layer == SBX_NS_MOUNT) {
            if (step == S_STEP_PIVOT || step == S_STEP_DETACH)
                s_fail_detail (out, SBX_NS_PIVOT, rc, step, why);
            else
                s_set (out, SBX_NS_PIVOT, false, -rc, "needs mountns");
        }
    }
    /*  All of them together, as tasks will get them: a layer that breaks
        the combination is reported unavailable.                            */
    for (int round = 0; round < SBX_NS_LAYER_COUNT; round++) {
        unsigned all = 0;
        for (int l = 0; l < SBX_NS_LAYER_COUNT; l++)
            if (out->available[l])
                all |= SBX_NS_BIT (l);
        rc = s_trial (ns, all, a_top, &step, why, sizeof why);
        if (rc == 0)
            break;
        int l = s_step_layer (step, all);
        s_set (out, l, false, -rc, "fails combined with the other layers at %s%s%s",
               sbx_ns_step_name (step), why[0] ? ": " : "", why);
        if (l == SBX_NS_USER)
            break;
    }
done:
    munmap (a_stack, a_size);
    sbx_ns_destroy (&ns);
}

/*  ---- the worker's namespaces ----------------------------------------- */

sbx_ns_t *
sbx_ns_new (const sbx_ns_config_t *config, const sbx_ns_caps_t *caps, size_t slots,
            char *err, size_t errlen)
{
    static const sbx_ns_config_t defaults;
    if (!config)
        config = &defaults;
    sbx_ns_caps_t probed;
    if (!caps) {
        sbx_ns_probe (config, &probed);
        caps = &probed;
    }
    sbx_ns_t *ns = s_alloc (config, slots, err, errlen);
    if (!ns)
        return NULL;
    ns->caps = *caps;
    unsigned layers = 0;
    for (int l = 0; l < SBX_NS_LAYER_COUNT; l++)
        if (caps->available[l] && !(config->skip & SBX_NS_BIT (l)))
            layers |= SBX_NS_BIT (l);
    /*  Dependencies: without a user namespace only a privileged worker
        makes the others; /proc needs pid + mount; mount needs pivot_root.  */
    if (!(layers & SBX_NS_BIT (SBX_NS_USER)) && !caps->privileged)
        layers = 0;
    if (!(layers & SBX_NS_BIT (SBX_NS_PIVOT)))
        layers &= ~SBX_NS_BIT (SBX_NS_MOUNT);
    if (!(layers & SBX_NS_BIT (SBX_NS_MOUNT)))
        layers &= ~SBX_NS_BIT (SBX_NS_PIVOT);
    if ((layers & (SBX_NS_BIT (SBX_NS_PID) | SBX_NS_BIT (SBX_NS_MOUNT)))
        != (SBX_NS_BIT (SBX_NS_PID) | SBX_NS_BIT (SBX_NS_MOUNT)))
        layers &= ~SBX_NS_BIT (SBX_NS_PROC);
    ns->layers = layers;
    for (size_t i = 0; i < slots; i++) {
        char why[160];
        int step;
        int rc = s_make_slot (ns, i, layers, why, sizeof why, &step);
        if (rc < 0) {
            errfmt (err, errlen, "ns: slot %zu: %s at %s: %s", i, why, sbx_ns_step_name (step),
                   strerror (-rc));
            sbx_ns_destroy (&ns);
            return NULL;
        }
    }
    return ns;
}
