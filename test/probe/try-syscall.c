/*  try-syscall.c - attempt forbidden operations, report what the kernel said.

    In the spirit of bubblewrap's tests/try-syscall.c: plain C, libc only.
    Each operation is tried with harmless arguments (bad magic numbers,
    missing paths, the process's own keyring...) so that running the probe
    unconfined, even as root, changes nothing on the host, and it prints
    exactly one line:

        NAME ok                 the call succeeded
        NAME errno=EPERM        it failed with that errno
        NAME killed=SIGSYS      the operation's process died of a signal
        NAME skip errno=ENXIO   could not even set up the attempt
        capeff=0000000000000000 (information operations print KEY=VALUE)

    Usage: try-syscall [-d SCRATCH_DIR] OP...    ("all" = every plain OP)
    Operations that change the process (unshare, personality, chroot...)
    run in a forked child, so one operation never affects the next. "ppid"
    below is the probe's parent at start. x32 and i386 make a foreign-
    architecture system call in the probe itself: under the sandbox's
    filter this kills the probe (SIGSYS), so they run after every other
    operation, and only the first of them.

    Build: cc -O2 -o build/test/try-syscall test/probe/try-syscall.c
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif
#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

extern char **environ;

static pid_t s_ppid;                    /* parent at start */
static const char *s_scratch = "/tmp";  /* where mount/umount make a directory */

/*  ---- output -------------------------------------------------------------- */

static void say (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/*  One write per line: lines from sub-processes never interleave.         */
static void
say (const char *fmt, ...)
{
    char line[1024];
    va_list args;
    va_start (args, fmt);
    int n = vsnprintf (line, sizeof line - 1, fmt, args);
    va_end (args);
    if (n < 0)
        return;
    if ((size_t) n > sizeof line - 2)
        n = (int) sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write (1, line, (size_t) n);
    (void) w;
}

static const struct {
    int err;
    const char *name;
} s_errnos[] = {
    { EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { ESRCH, "ESRCH" }, { EINTR, "EINTR" },
    { EIO, "EIO" }, { ENXIO, "ENXIO" }, { E2BIG, "E2BIG" }, { ENOEXEC, "ENOEXEC" },
    { EBADF, "EBADF" }, { ECHILD, "ECHILD" }, { EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" },
    { EACCES, "EACCES" }, { EFAULT, "EFAULT" }, { EBUSY, "EBUSY" }, { EEXIST, "EEXIST" },
    { EXDEV, "EXDEV" }, { ENODEV, "ENODEV" }, { ENOTDIR, "ENOTDIR" }, { EISDIR, "EISDIR" },
    { EINVAL, "EINVAL" }, { EMFILE, "EMFILE" }, { ENOTTY, "ENOTTY" }, { EROFS, "EROFS" },
    { ENOSYS, "ENOSYS" }, { ENOKEY, "ENOKEY" }, { ENOTSOCK, "ENOTSOCK" },
    { EPROTOTYPE, "EPROTOTYPE" }, { EPROTONOSUPPORT, "EPROTONOSUPPORT" },
    { ESOCKTNOSUPPORT, "ESOCKTNOSUPPORT" }, { EOPNOTSUPP, "EOPNOTSUPP" },
    { EAFNOSUPPORT, "EAFNOSUPPORT" }, { EADDRINUSE, "EADDRINUSE" },
    { EADDRNOTAVAIL, "EADDRNOTAVAIL" }, { ENETUNREACH, "ENETUNREACH" },
    { ECONNREFUSED, "ECONNREFUSED" }, { ETIMEDOUT, "ETIMEDOUT" }, { ESTALE, "ESTALE" },
    { ENOPKG, "ENOPKG" }, { EKEYREVOKED, "EKEYREVOKED" },
};

static const char *
errname (int err, char *buf, size_t size)
{
    for (size_t i = 0; i < sizeof s_errnos / sizeof s_errnos[0]; i++)
        if (s_errnos[i].err == err)
            return s_errnos[i].name;
    snprintf (buf, size, "%d", err);
    return buf;
}

static const char *
signame (int sig, char *buf, size_t size)
{
    switch (sig) {
    case SIGSYS: return "SIGSYS";
    case SIGSEGV: return "SIGSEGV";
    case SIGKILL: return "SIGKILL";
    case SIGABRT: return "SIGABRT";
    case SIGILL: return "SIGILL";
    case SIGBUS: return "SIGBUS";
    case SIGTRAP: return "SIGTRAP";
    default:
        snprintf (buf, size, "%d", sig);
        return buf;
    }
}

/*  Report the result of an operation: rc < 0 means errno (err) holds why.  */
static void
result (const char *op, long rc, int err)
{
    char buf[16];
    if (rc >= 0)
        say ("%s ok", op);
    else
        say ("%s errno=%s", op, errname (err, buf, sizeof buf));
}

/*  Same, for a call whose errno is still current. A separate function
    because the order in which arguments are evaluated is unspecified:
    "result (op, call (), errno)" may read errno before the call.           */
static void
check (const char *op, long rc)
{
    result (op, rc, errno);
}

static void
skip (const char *op, int err)
{
    char buf[16];
    say ("%s skip errno=%s", op, errname (err, buf, sizeof buf));
}

/*  A scratch directory for mount/umount/pivot_root; NULL (and op skipped)
    when it cannot be made.                                                 */
static char *
scratch_dir (const char *op)
{
    static char path[4096];
    snprintf (path, sizeof path, "%s/try-syscall-XXXXXX", s_scratch);
    if (!mkdtemp (path)) {
        skip (op, errno);
        return NULL;
    }
    return path;
}

/*  ---- operations: each prints its line ---------------------------------- */

static void
op_ptrace (const char *op)
{
    /*  SEIZE attaches without stopping the tracee; our exit detaches.      */
    long rc = ptrace (PTRACE_SEIZE, s_ppid, NULL, NULL);
    check (op, rc);
}

static void
op_process_vm_readv (const char *op)
{
    char byte;
    struct iovec local = { &byte, 1 };
    struct iovec remote = { (void *) 1, 1 };    /* never mapped: EFAULT when allowed */
    long rc = process_vm_readv (s_ppid, &local, 1, &remote, 1, 0);
    if (rc < 0 && errno == EFAULT)
        say ("%s ok", op);              /* the permission check passed */
    else
        check (op, rc);
}

static void
op_mount (const char *op)
{
    char *dir = scratch_dir (op);
    if (!dir)
        return;
    long rc = mount ("try-syscall", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k");
    int err = errno;
    if (rc == 0)
        umount2 (dir, MNT_DETACH);
    rmdir (dir);
    result (op, rc, err);
}

static void
op_umount (const char *op)
{
    char *dir = scratch_dir (op);
    if (!dir)
        return;
    long rc = umount2 (dir, 0);         /* not a mount point: EINVAL when allowed */
    int err = errno;
    rmdir (dir);
    result (op, rc, err);
}

static void
op_pivot_root (const char *op)
{
    char *dir = scratch_dir (op);
    if (!dir)
        return;
    /*  put_old does not exist: ENOENT once past the permission check.     */
    long rc = syscall (SYS_pivot_root, dir, "/nonexistent-try-syscall");
    int err = errno;
    rmdir (dir);
    result (op, rc, err);
}

static void
op_chroot (const char *op)
{
    check (op, chroot ("/"));
}

static void
op_unshare (const char *op, int flags)
{
    check (op, unshare (flags));
}

static void
op_setns (const char *op)
{
    int fd = open ("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    check (op, setns (fd, CLONE_NEWNET));
}

static void
op_clone (const char *op, unsigned long flags)
{
    long pid = syscall (SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);
    if (pid == 0)
        syscall (SYS_exit_group, 0);
    int err = errno;
    if (pid > 0)
        waitpid ((pid_t) pid, NULL, 0);
    result (op, pid, err);
}

static void
op_clone3 (const char *op)
{
    uint64_t args[11] = { 0 };          /* struct clone_args, version 2 */
    args[4] = SIGCHLD;                  /* exit_signal */
    long pid = syscall (SYS_clone3, args, sizeof args);
    if (pid == 0)
        syscall (SYS_exit_group, 0);
    int err = errno;
    if (pid > 0)
        waitpid ((pid_t) pid, NULL, 0);
    result (op, pid, err);
}

static void
op_fork (const char *op)
{
    pid_t pid = fork ();
    if (pid == 0)
        _exit (0);
    int err = errno;
    if (pid > 0)
        waitpid (pid, NULL, 0);
    result (op, pid, err);
}

static void *
thread_main (void *arg)
{
    return arg;
}

static void
op_thread (const char *op)
{
    /*  glibc tries clone3 first and falls back to clone on ENOSYS.         */
    pthread_t t;
    int rc = pthread_create (&t, NULL, thread_main, NULL);
    if (rc == 0)
        pthread_join (t, NULL);
    result (op, rc == 0 ? 0 : -1, rc);
}

static void
op_keyctl (const char *op)
{
    /*  KEYCTL_GET_KEYRING_ID (0) of KEY_SPEC_PROCESS_KEYRING (-2), create. */
    check (op, syscall (SYS_keyctl, 0, -2, 1));
}

static void
op_add_key (const char *op)
{
    check (op, syscall (SYS_add_key, "user", "try-syscall", "x", 1, -2));
}

static void
op_request_key (const char *op)
{
    long rc = syscall (SYS_request_key, "user", "try-syscall-none", NULL, 0);
    if (rc < 0 && errno == ENOKEY)
        say ("%s ok", op);              /* reached the keyring search */
    else
        check (op, rc);
}

static void
op_bpf (const char *op)
{
    char attr[128];                     /* BPF_MAP_CREATE, all zero: EINVAL */
    memset (attr, 0, sizeof attr);
    check (op, syscall (SYS_bpf, 0, attr, sizeof attr));
}

static void
op_perf_event_open (const char *op)
{
    struct perf_event_attr attr;
    memset (&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.disabled = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    long fd = syscall (SYS_perf_event_open, &attr, 0, -1, -1, 0);
    check (op, fd);
}

static void
op_userfaultfd (const char *op)
{
    check (op, syscall (SYS_userfaultfd, O_CLOEXEC));
}

static void
op_io_uring_setup (const char *op)
{
    char params[120];                   /* struct io_uring_params */
    memset (params, 0, sizeof params);
    check (op, syscall (SYS_io_uring_setup, 1, params));
}

static void
op_kexec_load (const char *op)
{
    /*  Unknown flag 0x100: EINVAL after the permission check.              */
    check (op, syscall (SYS_kexec_load, 0, 0, NULL, 0x100UL));
}

static void
op_init_module (const char *op)
{
    /*  An empty image: ENOEXEC (or EFAULT) after the permission check.     */
    check (op, syscall (SYS_init_module, NULL, 0, ""));
}

static void
op_finit_module (const char *op)
{
    check (op, syscall (SYS_finit_module, -1, "", 0));
}

static void
op_delete_module (const char *op)
{
    check (op, syscall (SYS_delete_module, "try_syscall_none", O_NONBLOCK));
}

static void
op_personality (const char *op, unsigned long persona)
{
    check (op, personality (persona));
}

static void
op_acct (const char *op)
{
    check (op, acct ("/nonexistent-try-syscall"));
}

static void
op_swapon (const char *op)
{
    check (op, syscall (SYS_swapon, "/nonexistent-try-syscall", 0));
}

static void
op_reboot (const char *op)
{
    /*  Wrong magic: EINVAL after the CAP_SYS_BOOT check.                  */
    check (op, syscall (SYS_reboot, 0, 0, 0, NULL));
}

static void
op_syslog (const char *op)
{
    /*  SYSLOG_ACTION_SIZE_BUFFER: reads the log's size.                   */
    check (op, syscall (SYS_syslog, 10, NULL, 0));
}

static void
op_iopl (const char *op)
{
#if defined(__x86_64__) || defined(__i386__)
    check (op, syscall (SYS_iopl, 0));     /* level 0: never a raise */
#else
    skip (op, ENOSYS);
#endif
}

static void
op_ioperm (const char *op)
{
#if defined(__x86_64__) || defined(__i386__)
    check (op, syscall (SYS_ioperm, 0x80, 1, 0));      /* turn off */
#else
    skip (op, ENOSYS);
#endif
}

static void
op_open_by_handle_at (const char *op)
{
    struct {
        unsigned int handle_bytes;
        int handle_type;
        unsigned char f_handle[8];
    } handle = { 8, 1, { 0 } };
    int mount_fd = open ("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    long fd = syscall (SYS_open_by_handle_at, mount_fd, &handle, O_RDONLY);
    if (fd < 0 && (errno == ESTALE || errno == EINVAL))
        say ("%s ok", op);              /* past the CAP_DAC_READ_SEARCH check */
    else
        check (op, fd);
}

static void
op_name_to_handle_at (const char *op)
{
    struct {
        unsigned int handle_bytes;
        int handle_type;
        unsigned char f_handle[128];
    } handle = { 128, 0, { 0 } };
    int mount_id;
    check (op, syscall (SYS_name_to_handle_at, AT_FDCWD, "/", &handle, &mount_id, 0));
}

static void
op_fsopen (const char *op)
{
    check (op, syscall (SYS_fsopen, "tmpfs", 1 /* FSOPEN_CLOEXEC */));
}

static void
op_open_tree (const char *op)
{
    /*  No OPEN_TREE_CLONE: just a path fd, nothing mounted.                */
    check (op, syscall (SYS_open_tree, AT_FDCWD, "/", O_CLOEXEC));
}

static void
op_pidfd_getfd (const char *op)
{
    long pidfd = syscall (SYS_pidfd_open, s_ppid, 0);
    if (pidfd < 0) {
        skip (op, errno);
        return;
    }
    check (op, syscall (SYS_pidfd_getfd, pidfd, 0, 0));
}

/*  A terminal to try TIOCSTI on: a fresh pty of our own (injecting into it
    harms nobody), else fd 0 when it is a terminal, else /dev/tty.          */
static int
some_tty (int *err)
{
    int fd = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0 && grantpt (fd) == 0 && unlockpt (fd) == 0) {
        const char *name = ptsname (fd);
        int slave = name ? open (name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
        if (slave >= 0)
            return slave;
    }
    *err = errno;
    if (isatty (0))
        return 0;
    fd = open ("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        *err = errno;
    return fd;
}

static void
op_tty_ioctl (const char *op, unsigned long cmd)
{
    int err = 0;
    int fd = some_tty (&err);
    if (fd < 0) {
        skip (op, err);
        return;
    }
    char c = ' ';
    int subcode = 7;                    /* TIOCLINUX: TIOCL_GETSHIFTSTATE-ish, read only */
    void *arg = (cmd & 0xffffffffUL) == TIOCLINUX ? (void *) &subcode : (void *) &c;
    /*  Raw syscall so a command with bits above 32 reaches the kernel.    */
    check (op, syscall (SYS_ioctl, fd, cmd, arg));
}

static void
op_socket (const char *op, int domain, int type, int proto)
{
    check (op, socket (domain, type | SOCK_CLOEXEC, proto));
}

static void
op_socketpair (const char *op, int domain)
{
    int sv[2];
    check (op, socketpair (domain, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
}

/*  Open and read one byte.                                                 */
static void
op_read (const char *op, const char *path)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        check (op, -1);
        return;
    }
    char c;
    long n = read (fd, &c, 1);
    check (op, n);
    close (fd);
}

static void
op_write (const char *op, const char *path)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        check (op, -1);
        return;
    }
    static const char text[] = "written by try-syscall\n";
    long n = write (fd, text, sizeof text - 1);
    check (op, n);
    close (fd);
}

static void
op_mkdir (const char *op, const char *path)
{
    check (op, mkdir (path, 0755));
}

static void
op_exec (const char *op, const char *path)
{
    char *argv[] = { (char *) path, NULL };
    pid_t pid;
    int rc = posix_spawn (&pid, path, NULL, NULL, argv, environ);
    if (rc != 0) {
        result (op, -1, rc);
        return;
    }
    int status = 0;
    waitpid (pid, &status, 0);
    if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
        say ("%s ok", op);
    else
        say ("%s status=%d", op, status);
}

static void
op_environ (const char *op)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/environ", (int) s_ppid);
    op_read (op, path);
}

static void
op_kill (const char *op, pid_t pid)
{
    check (op, kill (pid, 0));
}

static void
op_tcp (const char *op, const char *portstr, bool do_bind)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        check (op, -1);
        return;
    }
    struct sockaddr_in sa;
    memset (&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons ((uint16_t) atoi (portstr));
    sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    long rc = do_bind ? bind (fd, (struct sockaddr *) &sa, sizeof sa)
                      : connect (fd, (struct sockaddr *) &sa, sizeof sa);
    check (op, rc);
    close (fd);
}

static void
op_abstract (const char *op, const char *name)
{
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        check (op, -1);
        return;
    }
    struct sockaddr_un sa;
    memset (&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t len = strlen (name);
    if (len > sizeof sa.sun_path - 1)
        len = sizeof sa.sun_path - 1;
    memcpy (sa.sun_path + 1, name, len);      /* sun_path[0] = '\0': abstract */
    socklen_t salen = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + 1 + len);
    check (op, connect (fd, (struct sockaddr *) &sa, salen));
    close (fd);
}

/*  KEY=VALUE from /proc/self/status ("CapEff" -> "capeff=...").            */
static void
op_status (const char *op, const char *field)
{
    FILE *f = fopen ("/proc/self/status", "re");
    if (!f) {
        skip (op, errno);
        return;
    }
    char line[256];
    size_t len = strlen (field);
    bool found = false;
    while (fgets (line, sizeof line, f))
        if (strncmp (line, field, len) == 0 && line[len] == ':') {
            char *v = line + len + 1;
            v += strspn (v, " \t");
            v[strcspn (v, "\n")] = '\0';
            say ("%s=%s", op, v);
            found = true;
            break;
        }
    fclose (f);
    if (!found)
        skip (op, ENOENT);
}

static void
op_ids (const char *op)
{
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    getresuid (&ru, &eu, &su);
    getresgid (&rg, &eg, &sg);
    say ("%s=%u,%u,%u/%u,%u,%u/%d", op, (unsigned) ru, (unsigned) eu, (unsigned) su,
         (unsigned) rg, (unsigned) eg, (unsigned) sg, getgroups (0, NULL));
}

static void
op_prctl_get (const char *op, int option)
{
    long v = prctl (option, 0, 0, 0, 0);
    if (v < 0)
        check (op, v);
    else
        say ("%s=%ld", op, v);
}

static void
op_pdeathsig (const char *op)
{
    int sig = 0;
    if (prctl (PR_GET_PDEATHSIG, &sig, 0, 0, 0) < 0)
        check (op, -1);
    else
        say ("%s=%d", op, sig);
}

/*  Descriptors other than 0-2 (and the one reading the directory).        */
static void
op_fds (const char *op)
{
    DIR *d = opendir ("/proc/self/fd");
    if (!d) {
        skip (op, errno);
        return;
    }
    char list[512] = "";
    size_t used = 0;
    struct dirent *e;
    while ((e = readdir (d))) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi (e->d_name);
        if (fd <= 2 || fd == dirfd (d))
            continue;
        int n = snprintf (list + used, sizeof list - used, "%s%d", used ? "," : "", fd);
        if (n > 0 && (size_t) n < sizeof list - used)
            used += (size_t) n;
    }
    closedir (d);
    say ("%s=%s", op, list);
}

static void
op_x32 (const char *op)
{
    long rc = syscall (__X32_SYSCALL_BIT | SYS_getpid);
    check (op, rc);
}

static void
op_i386 (const char *op)
{
#if defined(__x86_64__)
    long rc;
    /*  32-bit system call entry from 64-bit code: getpid is 20 on i386.   */
    __asm__ volatile ("int $0x80" : "=a" (rc) : "a" (20L) : "memory");
    result (op, rc < 0 ? -1 : rc, rc < 0 ? (int) -rc : 0);
#else
    skip (op, ENOSYS);
#endif
}

/*  ---- dispatch ------------------------------------------------------------ */

typedef enum { RUN_FORK, RUN_HERE } s_where_t;

typedef struct {
    const char *name;                   /* operation name */
    s_where_t where;                    /* forked child or the probe itself */
    bool in_all;                        /* part of "all" */
} s_op_t;

static const s_op_t s_ops[] = {
    /*  Information first: fds before anything else opens one.             */
    { "fds", RUN_HERE, true },
    { "capeff", RUN_HERE, true },
    { "capprm", RUN_HERE, true },
    { "capinh", RUN_HERE, true },
    { "capbnd", RUN_HERE, true },
    { "capamb", RUN_HERE, true },
    { "ids", RUN_HERE, true },
    { "nnp", RUN_HERE, true },
    { "seccomp", RUN_HERE, true },
    { "securebits", RUN_HERE, true },
    { "pdeathsig", RUN_HERE, true },
    { "ptrace", RUN_FORK, true },
    { "process_vm_readv", RUN_FORK, true },
    { "pidfd_getfd", RUN_FORK, true },
    { "mount", RUN_FORK, true },
    { "umount", RUN_FORK, true },
    { "pivot_root", RUN_FORK, true },
    { "chroot", RUN_FORK, true },
    { "fsopen", RUN_FORK, true },
    { "open_tree", RUN_FORK, true },
    { "unshare-user", RUN_FORK, true },
    { "unshare-ns", RUN_FORK, true },
    { "unshare-net", RUN_FORK, true },
    { "setns", RUN_FORK, true },
    { "clone-newuser", RUN_FORK, true },
    { "clone-newpid", RUN_FORK, true },
    { "clone3", RUN_FORK, true },
    { "fork", RUN_FORK, true },
    { "thread", RUN_FORK, true },
    { "keyctl", RUN_FORK, true },
    { "add_key", RUN_FORK, true },
    { "request_key", RUN_FORK, true },
    { "bpf", RUN_FORK, true },
    { "perf_event_open", RUN_FORK, true },
    { "userfaultfd", RUN_FORK, true },
    { "io_uring_setup", RUN_FORK, true },
    { "kexec_load", RUN_FORK, true },
    { "init_module", RUN_FORK, true },
    { "finit_module", RUN_FORK, true },
    { "delete_module", RUN_FORK, true },
    { "personality", RUN_FORK, true },
    { "personality-linux", RUN_FORK, true },
    { "acct", RUN_FORK, true },
    { "swapon", RUN_FORK, true },
    { "reboot", RUN_FORK, true },
    { "syslog", RUN_FORK, true },
    { "iopl", RUN_FORK, true },
    { "ioperm", RUN_FORK, true },
    { "name_to_handle_at", RUN_FORK, true },
    { "open_by_handle_at", RUN_FORK, true },
    { "TIOCSTI", RUN_FORK, true },
    { "TIOCSTI-hi", RUN_FORK, true },
    { "TIOCLINUX", RUN_FORK, true },
    { "socket-unix", RUN_FORK, true },
    { "socket-inet", RUN_FORK, true },
    { "socket-inet6", RUN_FORK, true },
    { "socket-vsock", RUN_FORK, true },
    { "socket-netlink", RUN_FORK, true },
    { "socket-packet", RUN_FORK, true },
    { "socketpair-unix", RUN_FORK, true },
    { "socketpair-inet", RUN_FORK, true },
    { "passwd", RUN_FORK, true },
    { "shadow", RUN_FORK, true },
    { "environ", RUN_FORK, true },
    { "kill", RUN_HERE, true },
    /*  With an argument: NAME=ARG.                                         */
    { "read", RUN_FORK, false },
    { "write", RUN_FORK, false },
    { "mkdir", RUN_FORK, false },
    { "exec", RUN_FORK, false },
    { "connect", RUN_FORK, false },
    { "bind", RUN_FORK, false },
    { "abstract", RUN_FORK, false },
    /*  Fatal under the filter: last, in the probe itself.                 */
    { "x32", RUN_HERE, false },
    { "i386", RUN_HERE, false },
};
#define N_OPS (sizeof s_ops / sizeof s_ops[0])

/*  Run operation `op` (as written on the command line: NAME or NAME=ARG).  */
static void
perform (const char *op, const char *name, const char *arg)
{
#define IS(s) (strcmp (name, (s)) == 0)
    if (IS ("fds")) op_fds (op);
    else if (IS ("capeff")) op_status (op, "CapEff");
    else if (IS ("capprm")) op_status (op, "CapPrm");
    else if (IS ("capinh")) op_status (op, "CapInh");
    else if (IS ("capbnd")) op_status (op, "CapBnd");
    else if (IS ("capamb")) op_status (op, "CapAmb");
    else if (IS ("ids")) op_ids (op);
    else if (IS ("nnp")) op_prctl_get (op, PR_GET_NO_NEW_PRIVS);
    else if (IS ("seccomp")) op_prctl_get (op, PR_GET_SECCOMP);
    else if (IS ("securebits")) op_prctl_get (op, PR_GET_SECUREBITS);
    else if (IS ("pdeathsig")) op_pdeathsig (op);
    else if (IS ("ptrace")) op_ptrace (op);
    else if (IS ("process_vm_readv")) op_process_vm_readv (op);
    else if (IS ("pidfd_getfd")) op_pidfd_getfd (op);
    else if (IS ("mount")) op_mount (op);
    else if (IS ("umount")) op_umount (op);
    else if (IS ("pivot_root")) op_pivot_root (op);
    else if (IS ("chroot")) op_chroot (op);
    else if (IS ("fsopen")) op_fsopen (op);
    else if (IS ("open_tree")) op_open_tree (op);
    else if (IS ("unshare-user")) op_unshare (op, CLONE_NEWUSER);
    else if (IS ("unshare-ns")) op_unshare (op, CLONE_NEWNS);
    else if (IS ("unshare-net")) op_unshare (op, CLONE_NEWNET);
    else if (IS ("setns")) op_setns (op);
    else if (IS ("clone-newuser")) op_clone (op, CLONE_NEWUSER);
    else if (IS ("clone-newpid")) op_clone (op, CLONE_NEWPID);
    else if (IS ("clone3")) op_clone3 (op);
    else if (IS ("fork")) op_fork (op);
    else if (IS ("thread")) op_thread (op);
    else if (IS ("keyctl")) op_keyctl (op);
    else if (IS ("add_key")) op_add_key (op);
    else if (IS ("request_key")) op_request_key (op);
    else if (IS ("bpf")) op_bpf (op);
    else if (IS ("perf_event_open")) op_perf_event_open (op);
    else if (IS ("userfaultfd")) op_userfaultfd (op);
    else if (IS ("io_uring_setup")) op_io_uring_setup (op);
    else if (IS ("kexec_load")) op_kexec_load (op);
    else if (IS ("init_module")) op_init_module (op);
    else if (IS ("finit_module")) op_finit_module (op);
    else if (IS ("delete_module")) op_delete_module (op);
    else if (IS ("personality")) op_personality (op, PER_LINUX32);
    else if (IS ("personality-linux")) op_personality (op, PER_LINUX);
    else if (IS ("acct")) op_acct (op);
    else if (IS ("swapon")) op_swapon (op);
    else if (IS ("reboot")) op_reboot (op);
    else if (IS ("syslog")) op_syslog (op);
    else if (IS ("iopl")) op_iopl (op);
    else if (IS ("ioperm")) op_ioperm (op);
    else if (IS ("name_to_handle_at")) op_name_to_handle_at (op);
    else if (IS ("open_by_handle_at")) op_open_by_handle_at (op);
    else if (IS ("TIOCSTI")) op_tty_ioctl (op, TIOCSTI);
    else if (IS ("TIOCSTI-hi")) op_tty_ioctl (op, (1UL << 32) | TIOCSTI);
    else if (IS ("TIOCLINUX")) op_tty_ioctl (op, TIOCLINUX);
    else if (IS ("socket-unix")) op_socket (op, AF_UNIX, SOCK_STREAM, 0);
    else if (IS ("socket-inet")) op_socket (op, AF_INET, SOCK_STREAM, 0);
    else if (IS ("socket-inet6")) op_socket (op, AF_INET6, SOCK_STREAM, 0);
    else if (IS ("socket-vsock")) op_socket (op, AF_VSOCK, SOCK_STREAM, 0);
    else if (IS ("socket-netlink")) op_socket (op, AF_NETLINK, SOCK_RAW, 0);
    else if (IS ("socket-packet")) op_socket (op, AF_PACKET, SOCK_DGRAM, 0);
    else if (IS ("socketpair-unix")) op_socketpair (op, AF_UNIX);
    else if (IS ("socketpair-inet")) op_socketpair (op, AF_INET);
    else if (IS ("passwd")) op_read (op, "/etc/passwd");
    else if (IS ("shadow")) op_read (op, "/etc/shadow");
    else if (IS ("environ")) op_environ (op);
    else if (IS ("kill")) op_kill (op, arg ? (pid_t) atoi (arg) : s_ppid);
    else if (IS ("read") && arg) op_read (op, arg);
    else if (IS ("write") && arg) op_write (op, arg);
    else if (IS ("mkdir") && arg) op_mkdir (op, arg);
    else if (IS ("exec") && arg) op_exec (op, arg);
    else if (IS ("connect") && arg) op_tcp (op, arg, false);
    else if (IS ("bind") && arg) op_tcp (op, arg, true);
    else if (IS ("abstract") && arg) op_abstract (op, arg);
    else if (IS ("x32")) op_x32 (op);
    else if (IS ("i386")) op_i386 (op);
    else say ("%s unknown", op);
#undef IS
}

static const s_op_t *
find_op (const char *name)
{
    for (size_t i = 0; i < N_OPS; i++)
        if (strcmp (s_ops[i].name, name) == 0)
            return &s_ops[i];
    return NULL;
}

static void
run (const char *op)
{
    char name[64];
    const char *eq = strchr (op, '=');
    size_t len = eq ? (size_t) (eq - op) : strlen (op);
    if (len >= sizeof name)
        len = sizeof name - 1;
    memcpy (name, op, len);
    name[len] = '\0';
    const char *arg = eq ? eq + 1 : NULL;

    const s_op_t *def = find_op (name);
    if (!def) {
        say ("%s unknown", op);
        return;
    }
    if (def->where == RUN_HERE) {
        perform (op, name, arg);
        return;
    }
    pid_t pid = fork ();
    if (pid < 0) {
        skip (op, errno);
        return;
    }
    if (pid == 0) {
        perform (op, name, arg);
        _exit (0);
    }
    int status = 0;
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    char buf[16];
    if (WIFSIGNALED (status))
        say ("%s killed=%s", op, signame (WTERMSIG (status), buf, sizeof buf));
    else if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        say ("%s exit=%d", op, WEXITSTATUS (status));
}

int
main (int argc, char **argv)
{
    s_ppid = getppid ();
    int first = 1;
    if (argc > 2 && strcmp (argv[1], "-d") == 0) {
        s_scratch = argv[2];
        first = 3;
    }
    if (first >= argc) {
        fprintf (stderr, "usage: %s [-d SCRATCH_DIR] OP... (all, or:", argv[0]);
        for (size_t i = 0; i < N_OPS; i++)
            fprintf (stderr, " %s%s", s_ops[i].name,
                     s_ops[i].in_all || s_ops[i].where == RUN_HERE ? "" : "=ARG");
        fprintf (stderr, ")\n");
        return 2;
    }
    /*  Everything but the fatal ones, in command-line order ("all" expands
        in table order); then the first fatal one.                          */
    const char *fatal = NULL;
    for (int i = first; i < argc; i++) {
        if (strcmp (argv[i], "all") == 0) {
            for (size_t k = 0; k < N_OPS; k++)
                if (s_ops[k].in_all)
                    run (s_ops[k].name);
        }
        else if (strcmp (argv[i], "x32") == 0 || strcmp (argv[i], "i386") == 0) {
            if (!fatal)
                fatal = argv[i];
        }
        else
            run (argv[i]);
    }
    if (fatal)
        run (fatal);
    return 0;
}
