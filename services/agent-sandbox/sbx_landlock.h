/*  sbx_landlock.h - the task's Landlock domain: read system directories,
    write the workspace, nothing else.

    At start:   int abi = sbx_landlock_abi ();   (-1 + errno: unavailable)
                sbx_landlock_cache_system (err, sizeof err);   (optional)
    Per task, in the parent, before the clone:
        sbx_landlock_spec_t spec = { .workspace = dir, .network = net, .abi = abi };
        int fd;
        if (sbx_landlock_prepare (&spec, &fd, err, sizeof err) < 0) ...
    In the child, after PR_SET_NO_NEW_PRIVS and the capability drop, before
    seccomp:
        sbx_landlock_child_restrict (fd)
    In the parent, after the clone returned: close (fd).

    The domain (access rights masked to what the running ABI knows):
      /usr /bin /sbin /lib /lib32 /lib64   read, list, execute
      /etc                                 read, list
      /proc                                read, list (other processes'
                                           files are still guarded by the
                                           ptrace checks; Landlock adds its
                                           own: no ptrace-read outside the
                                           domain, so no /proc/<worker>/environ)
      /dev/null /dev/zero /dev/full        read, write
      /dev/random /dev/urandom             read
      workspace, extra_rw[]                everything
      anything else                        nothing (EACCES)
    Missing system entries are skipped; a missing workspace or extra_rw
    directory is an error.
    ABI >= 4, network off: TCP bind and connect are handled and no port is
    allowed (EACCES); network on: TCP is not handled.
    ABI >= 6: abstract UNIX sockets and signals are scoped to the domain
    (connecting to an abstract socket of the worker or signalling it: EPERM).
*/
#ifndef SBX_LANDLOCK_H_INCLUDED
#define SBX_LANDLOCK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *workspace;              /* read-write directory; NULL: use workspace_fd */
    int workspace_fd;                   /* directory fd (O_PATH is fine), when workspace is NULL */
    const char *const *extra_rw;        /* NULL-terminated extra read-write dirs, or NULL */
    bool network;                       /* the task may use TCP */
    int abi;                            /* from sbx_landlock_abi () */
} sbx_landlock_spec_t;

/*  Landlock ABI version of the running kernel (1..), or -1 with errno:
    ENOSYS (not built in), EOPNOTSUPP (built in, disabled at boot).         */
int sbx_landlock_abi (void);

/*  Optional, once at start-up (not thread-safe: before threads, or from the
    one thread that prepares rulesets): open the system entries once and
    keep their O_PATH descriptors (close-on-exec) for the process lifetime;
    later prepares reuse them, about half the per-task cost. Returns 0, or
    -1 with err set.                                                        */
int sbx_landlock_cache_system (char *err, size_t errlen);

/*  Build the ruleset for one task. On success returns 0 and a close-on-exec
    ruleset fd in *fd_out (the caller closes it); on failure -1, *fd_out is
    -1 and err names the path and the reason.                               */
int sbx_landlock_prepare (const sbx_landlock_spec_t *spec, int *fd_out,
                          char *err, size_t errlen);

/*  Child step, raw system calls only: landlock_restrict_self (fd, 0).
    NO_NEW_PRIVS must be set (else EPERM without CAP_SYS_ADMIN).
    Returns 0 or -errno.                                                    */
int sbx_landlock_child_restrict (int ruleset_fd);

#endif
