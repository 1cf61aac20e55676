/*  sbx_seccomp.h - the task's seccomp-bpf filter, compiled once, installed
    by the task child as the very last step before execve.

    The filter is a deny-list (default: allow), built with libseccomp in the
    worker at start-up for the native architecture only, in two variants:

      network off   socket/socketpair only with AF_UNIX
      network on    socket/socketpair with AF_UNIX, AF_INET or AF_INET6

    Both deny, with EPERM: ptrace, process_vm_readv/writev, process_madvise,
    pidfd_getfd, kcmp; mount, umount2, pivot_root, chroot, move_mount,
    open_tree, open_tree_attr, fsopen, fsmount, fsconfig, fspick,
    mount_setattr; unshare, setns, clone with any CLONE_NEW* flag; keyctl,
    add_key, request_key; bpf, perf_event_open, userfaultfd, io_uring_*;
    kexec_*, init_module, finit_module, delete_module; personality other
    than PER_LINUX (0; the 0xffffffff query is refused too); acct, swapon,
    swapoff, reboot, syslog, quotactl, quotactl_fd, lookup_dcookie, vhangup,
    uselib, name_to_handle_at, open_by_handle_at, iopl, ioperm, modify_ldt,
    settimeofday, clock_settime; the TIOCSTI and TIOCLINUX ioctls (command
    compared on its low 32 bits, as the kernel reads it). clone3 fails with
    ENOSYS: its flags live in memory that BPF cannot read, and ENOSYS makes
    glibc fall back to clone, whose flags we can check.
    A system call of another architecture (i386 through int 0x80, x32
    numbers with __X32_SYSCALL_BIT) kills the whole process (SIGSYS).

    Parent:  sbx_seccomp_t *sc = sbx_seccomp_new (err, sizeof err);
             ... keep it for the worker's lifetime ...
    Child:   prctl (PR_SET_NO_NEW_PRIVS) done earlier (sbx_caps.h), then,
             last before execve:
             sbx_seccomp_child_install (sbx_seccomp_prog (sc, network));
*/
#ifndef SBX_SECCOMP_H_INCLUDED
#define SBX_SECCOMP_H_INCLUDED

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct sbx_seccomp_s sbx_seccomp_t;

/*  Can this kernel install a filter that kills the process? Returns 0, or
    -1 with errno (ENOSYS, EINVAL: no seccomp filter support; EOPNOTSUPP:
    no SECCOMP_RET_KILL_PROCESS, kernel older than 4.14).                   */
int sbx_seccomp_probe (void);

/*  Compile both variants. Returns NULL with a message in err on failure.   */
sbx_seccomp_t *sbx_seccomp_new (char *err, size_t errlen);

/*  Free the programs; safe on NULL and twice (nulls *self_p).              */
void sbx_seccomp_destroy (sbx_seccomp_t **self_p);

/*  The program of one variant, valid until sbx_seccomp_destroy.           */
const struct sock_fprog *sbx_seccomp_prog (const sbx_seccomp_t *self, bool network);

/*  Child step, raw system calls only (safe between clone(CLONE_VM) and
    execve): install prog in the calling thread. NO_NEW_PRIVS must be set
    (else EACCES without CAP_SYS_ADMIN). Returns 0 or -errno.               */
int sbx_seccomp_child_install (const struct sock_fprog *prog);

#endif
