/*  sbx_seccomp.c - the task's seccomp-bpf filter (see sbx_seccomp.h).

    Why compile in the parent: building a filter with libseccomp allocates
    and takes no locks we know of, but the task child shares the worker's
    memory until execve (clone with CLONE_VM) and may do raw system calls
    only. So the BPF is generated once, at start-up, exported to a memfd
    (libseccomp 2.5 has no seccomp_export_bpf_mem; 2.6 does), read back
    into a heap buffer, and the child hands that buffer to seccomp(2).

    Why a deny-list: an allow-list robust enough for sh, bash, python3 and
    coreutils on every glibc and kernel is a moving target (new system
    calls appear each release and libc starts using them); Landlock, the
    uid switch and the capability drop carry the rest. The price: a system
    call newer than this table is allowed. Newer mount-API calls unknown to
    libseccomp 2.5 are added by number (numbers >= 424 are the same on
    every architecture since Linux 5.1).
*/
#define _GNU_SOURCE
#include "sbx_seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/*  Code run between clone and execve: no sanitizer instrumentation (it
    would touch shadow memory shared with the parent) and never inlined
    into an instrumented caller.                                            */
#define SBX_CHILD_CODE __attribute__ ((no_sanitize ("address", "undefined"), noinline))

#ifndef SECCOMP_GET_ACTION_AVAIL
#define SECCOMP_GET_ACTION_AVAIL 2
#endif
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

struct sbx_seccomp_s {
    struct sock_fprog prog[2];          /* [0] network off, [1] network on */
};

/*  Denied outright with EPERM. fallback_nr: used when libseccomp does not
    know the name (-1: skip, the call does not exist here).                 */
typedef struct {
    const char *name;                   /* libseccomp's name of the call */
    int fallback_nr;                    /* unified number, or -1 */
} s_denied_t;

static const s_denied_t s_denied[] = {
    /*  Reaching into another process.                                      */
    { "ptrace", -1 },
    { "process_vm_readv", -1 },
    { "process_vm_writev", -1 },
    { "process_madvise", 440 },
    { "pidfd_getfd", 438 },
    { "kcmp", -1 },
    /*  The file system tree: mounts, root changes.                         */
    { "mount", -1 },
    { "umount2", -1 },
    { "pivot_root", -1 },
    { "chroot", -1 },
    { "move_mount", 429 },
    { "open_tree", 428 },
    { "open_tree_attr", 467 },          /* Linux 6.15 */
    { "fsopen", 430 },
    { "fsconfig", 431 },
    { "fsmount", 432 },
    { "fspick", 433 },
    { "mount_setattr", 442 },
    /*  Namespaces (clone's CLONE_NEW* flags are checked below).           */
    { "unshare", -1 },
    { "setns", -1 },
    /*  Kernel keyrings: not namespaced, a classic source of leaks.        */
    { "keyctl", -1 },
    { "add_key", -1 },
    { "request_key", -1 },
    /*  Large kernel attack surfaces a task does not need.                 */
    { "bpf", -1 },
    { "perf_event_open", -1 },
    { "userfaultfd", -1 },
    { "io_uring_setup", 425 },          /* io_uring also bypasses this filter */
    { "io_uring_enter", 426 },
    { "io_uring_register", 427 },
    /*  The machine itself.                                                 */
    { "kexec_load", -1 },
    { "kexec_file_load", -1 },
    { "init_module", -1 },
    { "finit_module", -1 },
    { "delete_module", -1 },
    { "acct", -1 },
    { "swapon", -1 },
    { "swapoff", -1 },
    { "reboot", -1 },
    { "syslog", -1 },
    { "quotactl", -1 },
    { "quotactl_fd", 443 },
    { "lookup_dcookie", -1 },
    { "vhangup", -1 },
    { "uselib", -1 },
    { "settimeofday", -1 },
    { "clock_settime", -1 },
    /*  File handles bypass path-based checks (the "shocker" escape).      */
    { "name_to_handle_at", -1 },
    { "open_by_handle_at", -1 },
    /*  Port I/O and the LDT (x86 only; resolved to nothing elsewhere).    */
    { "iopl", -1 },
    { "ioperm", -1 },
    { "modify_ldt", -1 },
};

static const uint64_t s_clone_new_flags[] = {
    CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
    CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
    /*  CLONE_NEWTIME (0x80) is not listed: in clone's flags that bit is
        part of the exit signal (CSIGNAL); clone(2) does not accept it.    */
};

static void
s_err (char *err, size_t errlen, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_err (char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list args;
    va_start (args, fmt);
    vsnprintf (err, errlen, fmt, args);
    va_end (args);
}

/*  One argument comparison. (libseccomp's SCMP_A0 () macros leave datum_b
    out, which clang's -Wmissing-field-initializers rejects.)              */
static struct scmp_arg_cmp
s_cmp (unsigned arg, enum scmp_compare op, uint64_t a, uint64_t b)
{
    struct scmp_arg_cmp cmp = { arg, op, a, b };
    return cmp;
}

int
sbx_seccomp_probe (void)
{
    uint32_t action = SECCOMP_RET_KILL_PROCESS;
    if (syscall (SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0)
        return 0;
    return -1;
}

/*  Deny socket(2)/socketpair(2) for every domain but the allowed ones.
    The comparisons are 64-bit: a domain with garbage in the upper half
    (the kernel reads an int) matches no "allowed" value and is denied.    */
static int
s_add_socket_rules (scmp_filter_ctx ctx, int nr, bool network)
{
    const uint32_t eperm = SCMP_ACT_ERRNO (EPERM);
    if (!network)
        return seccomp_rule_add (ctx, eperm, nr, 1, s_cmp (0, SCMP_CMP_NE, AF_UNIX, 0));
    /*  Allowed: AF_UNIX (1), AF_INET (2), AF_INET6 (10). libseccomp wants
        one comparison per argument per rule, hence the enumeration.        */
    int rc = seccomp_rule_add (ctx, eperm, nr, 1, s_cmp (0, SCMP_CMP_EQ, AF_UNSPEC, 0));
    for (uint64_t af = AF_INET + 1; rc == 0 && af < AF_INET6; af++)
        rc = seccomp_rule_add (ctx, eperm, nr, 1, s_cmp (0, SCMP_CMP_EQ, af, 0));
    if (rc == 0)
        rc = seccomp_rule_add (ctx, eperm, nr, 1, s_cmp (0, SCMP_CMP_GT, AF_INET6, 0));
    return rc;
}

static int
s_add_rules (scmp_filter_ctx ctx, bool network, char *err, size_t errlen)
{
    const uint32_t eperm = SCMP_ACT_ERRNO (EPERM);
    int rc;
    for (size_t i = 0; i < sizeof s_denied / sizeof s_denied[0]; i++) {
        int nr = seccomp_syscall_resolve_name (s_denied[i].name);
        if (nr == __NR_SCMP_ERROR)
            nr = s_denied[i].fallback_nr;
        if (nr == __NR_SCMP_ERROR)
            continue;
        /*  A negative pseudo-number (the call does not exist on this
            architecture) is accepted and generates no code.                */
        if ((rc = seccomp_rule_add (ctx, eperm, nr, 0)) < 0) {
            s_err (err, errlen, "seccomp rule for %s: %s", s_denied[i].name, strerror (-rc));
            return -1;
        }
    }
    /*  clone: deny when any namespace flag is set (flags are argument 0
        on every architecture we build for except s390, not supported).    */
    for (size_t i = 0; i < sizeof s_clone_new_flags / sizeof s_clone_new_flags[0]; i++) {
        uint64_t flag = s_clone_new_flags[i];
        if ((rc = seccomp_rule_add (ctx, eperm, SCMP_SYS (clone), 1,
                                    s_cmp (0, SCMP_CMP_MASKED_EQ, flag, flag))) < 0) {
            s_err (err, errlen, "seccomp rule for clone: %s", strerror (-rc));
            return -1;
        }
    }
    /*  clone3: flags are in a struct in memory; ENOSYS makes glibc (2.34+,
        pthread_create, posix_spawn) fall back to clone.                    */
    if ((rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (ENOSYS), SCMP_SYS (clone3), 0)) < 0) {
        s_err (err, errlen, "seccomp rule for clone3: %s", strerror (-rc));
        return -1;
    }
    /*  personality: only PER_LINUX. A rule may compare an argument once,
        so "0 or the 0xffffffff query" would need a second action; the
        query is refused (EPERM, i.e. -1: callers read "unknown").          */
    if ((rc = seccomp_rule_add (ctx, eperm, SCMP_SYS (personality), 1,
                                s_cmp (0, SCMP_CMP_NE, 0, 0))) < 0) {
        s_err (err, errlen, "seccomp rule for personality: %s", strerror (-rc));
        return -1;
    }
    /*  ioctl: the kernel takes the command as unsigned int, so compare the
        low 32 bits only, or 1<<32 | TIOCSTI would slip through.           */
    static const uint64_t bad_ioctls[] = { TIOCSTI, TIOCLINUX };
    for (size_t i = 0; i < 2; i++)
        if ((rc = seccomp_rule_add (ctx, eperm, SCMP_SYS (ioctl), 1,
                                    s_cmp (1, SCMP_CMP_MASKED_EQ, 0xffffffffu,
                                            bad_ioctls[i]))) < 0) {
            s_err (err, errlen, "seccomp rule for ioctl: %s", strerror (-rc));
            return -1;
        }
    if ((rc = s_add_socket_rules (ctx, SCMP_SYS (socket), network)) < 0
        || (rc = s_add_socket_rules (ctx, SCMP_SYS (socketpair), network)) < 0) {
        s_err (err, errlen, "seccomp rule for socket: %s", strerror (-rc));
        return -1;
    }
    return 0;
}

/*  Export ctx's BPF into prog (heap). libseccomp 2.5 only writes to a
    descriptor: use a memfd, then read it back.                            */
static int
s_export (scmp_filter_ctx ctx, struct sock_fprog *prog, char *err, size_t errlen)
{
    int fd = memfd_create ("sbx-seccomp", MFD_CLOEXEC);
    if (fd < 0) {
        s_err (err, errlen, "seccomp export: memfd_create: %s", strerror (errno));
        return -1;
    }
    int rc = seccomp_export_bpf (ctx, fd);
    if (rc < 0) {
        s_err (err, errlen, "seccomp_export_bpf: %s", strerror (-rc));
        close (fd);
        return -1;
    }
    struct stat st;
    if (fstat (fd, &st) < 0) {
        s_err (err, errlen, "seccomp export: fstat: %s", strerror (errno));
        close (fd);
        return -1;
    }
    size_t size = (size_t) st.st_size;
    if (size == 0 || size % sizeof (struct sock_filter) != 0
        || size / sizeof (struct sock_filter) > BPF_MAXINSNS) {
        s_err (err, errlen, "seccomp export: bad program size %zu", size);
        close (fd);
        return -1;
    }
    struct sock_filter *insns = malloc (size);
    if (!insns) {
        s_err (err, errlen, "seccomp export: out of memory");
        close (fd);
        return -1;
    }
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread (fd, (char *) insns + done, size - done, (off_t) done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            s_err (err, errlen, "seccomp export: read back: %s",
                   n < 0 ? strerror (errno) : "short file");
            free (insns);
            close (fd);
            return -1;
        }
        done += (size_t) n;
    }
    close (fd);
    prog->len = (unsigned short) (size / sizeof (struct sock_filter));
    prog->filter = insns;
    return 0;
}

static int
s_build (bool network, struct sock_fprog *prog, char *err, size_t errlen)
{
    scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ALLOW);
    if (!ctx) {
        s_err (err, errlen, "seccomp_init failed");
        return -1;
    }
    /*  Another architecture's system call (i386 via int 0x80; x32 numbers,
        which libseccomp sends to the bad-arch action in an x86_64 filter)
        kills the whole process, not just the thread. Kernels before 4.14
        lack KILL_PROCESS: then kill the thread.                            */
    if (seccomp_attr_set (ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0
        && seccomp_attr_set (ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL) < 0) {
        s_err (err, errlen, "seccomp: cannot set the bad-architecture action");
        seccomp_release (ctx);
        return -1;
    }
    /*  A binary tree over syscall numbers instead of a linear scan: every
        system call of the task runs this program. Optional (libseccomp
        >= 2.5); a linear filter is still correct.                          */
    (void) seccomp_attr_set (ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);

    int rc = s_add_rules (ctx, network, err, errlen);
    if (rc == 0)
        rc = s_export (ctx, prog, err, errlen);
    seccomp_release (ctx);
    return rc;
}

sbx_seccomp_t *
sbx_seccomp_new (char *err, size_t errlen)
{
    sbx_seccomp_t *self = calloc (1, sizeof *self);
    if (!self) {
        s_err (err, errlen, "seccomp: out of memory");
        return NULL;
    }
    if (s_build (false, &self->prog[0], err, errlen) < 0
        || s_build (true, &self->prog[1], err, errlen) < 0) {
        sbx_seccomp_destroy (&self);
        return NULL;
    }
    return self;
}

void
sbx_seccomp_destroy (sbx_seccomp_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sbx_seccomp_t *self = *self_p;
    free (self->prog[0].filter);
    free (self->prog[1].filter);
    free (self);
    *self_p = NULL;
}

const struct sock_fprog *
sbx_seccomp_prog (const sbx_seccomp_t *self, bool network)
{
    return self ? &self->prog[network ? 1 : 0] : NULL;
}

/*  Child step. This must be the last step before execve: once installed,
    every later system call of the set-up is filtered too, so putting it
    last means the filter never has to allow anything the set-up needs
    (mount, setns, landlock, capset...) and the task cannot find a window
    where it runs unfiltered.                                              */
SBX_CHILD_CODE int
sbx_seccomp_child_install (const struct sock_fprog *prog)
{
    if (!prog || !prog->filter || prog->len == 0)
        return -EINVAL;
    if (syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) == 0)
        return 0;
    if (errno != ENOSYS)
        return -errno;
    /*  Kernels before 3.17 have only the prctl interface.                  */
    if (syscall (SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) == 0)
        return 0;
    return -errno;
}
