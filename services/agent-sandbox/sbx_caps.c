/*  sbx_caps.c - drop privileges in the task child (see sbx_caps.h).

    Everything that needs libc (reading /proc, formatting errors) happens in
    sbx_caps_plan_init, in the parent. The child functions make raw system
    calls only and touch nothing but their own stack and the plan.
*/
#define _GNU_SOURCE
#include "errfmt.h"
#include "sbx_caps.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SBX_CHILD_CODE __attribute__ ((no_sanitize ("address", "undefined"), noinline))

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef SECBIT_NO_CAP_AMBIENT_RAISE
#define SECBIT_NO_CAP_AMBIENT_RAISE (1 << 6)
#define SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED (1 << 7)
#endif

/*  Bits added to the securebits: uid 0 gets no capabilities from execve,
    nothing can be raised into the ambient set, keep-caps stays off; and
    each is locked so the task cannot undo it.                              */
#define S_SECUREBITS (SECBIT_NOROOT | SECBIT_NOROOT_LOCKED                   \
                      | SECBIT_KEEP_CAPS_LOCKED                              \
                      | SECBIT_NO_CAP_AMBIENT_RAISE                          \
                      | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)

/*  cap_last_cap from /proc, else probe the bounding set: PR_CAPBSET_READ
    fails with EINVAL past the last capability the kernel knows.           */
static int
s_last_cap (void)
{
    int fd = open ("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[16];
        ssize_t n = read (fd, buf, sizeof buf - 1);
        close (fd);
        if (n > 0) {
            buf[n] = '\0';
            char *end;
            long v = strtol (buf, &end, 10);
            if (end != buf && v >= 0 && v < 64)
                return (int) v;
        }
    }
    int cap = 0;
    while (cap < 63 && prctl (PR_CAPBSET_READ, cap + 1, 0, 0, 0) >= 0)
        cap++;
    return cap;
}

static bool
s_has_cap (const struct __user_cap_data_struct data[2], int cap)
{
    return (data[cap / 32].effective >> (cap % 32)) & 1;
}

int
sbx_caps_plan_init (sbx_caps_plan_t *plan, bool switch_ids, uid_t uid, gid_t gid,
                    char *err, size_t errlen)
{
    memset (plan, 0, sizeof *plan);
    plan->last_cap = s_last_cap ();

    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset (data, 0, sizeof data);
    if (syscall (SYS_capget, &hdr, data) < 0) {
        errfmt (err, errlen, "caps: capget: %s", strerror (errno));
        return -1;
    }
    plan->have_setpcap = s_has_cap (data, CAP_SETPCAP);

    if (switch_ids) {
        if (uid == 0 || gid == 0 || uid == (uid_t) -1 || gid == (gid_t) -1) {
            errfmt (err, errlen, "caps: task uid %u / gid %u: must be neither 0 nor -1",
                   (unsigned) uid, (unsigned) gid);
            return -1;
        }
        if (!s_has_cap (data, CAP_SETUID) || !s_has_cap (data, CAP_SETGID)) {
            errfmt (err, errlen, "caps: switching to uid %u needs CAP_SETUID and CAP_SETGID,"
                   " which this process does not hold", (unsigned) uid);
            return -1;
        }
        plan->switch_ids = true;
        plan->uid = uid;
        plan->gid = gid;
    }
    return 0;
}

int
sbx_caps_clear_bounding_set (char *err, size_t errlen)
{
    int last = s_last_cap ();
    for (int cap = 0; cap <= last; cap++) {
        int present = prctl (PR_CAPBSET_READ, cap, 0, 0, 0);
        if (present < 0)
            break;                      /* EINVAL: past the last capability */
        if (present && prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
            errfmt (err, errlen, "caps: dropping capability %d from the bounding set: %s%s",
                   cap, strerror (errno),
                   errno == EPERM ? " (needs CAP_SETPCAP)" : "");
            return -1;
        }
    }
    return 0;
}

/*  First isolation step of the child: from here on execve can never grant
    privileges (setuid bits, file capabilities), and it is what lets an
    unprivileged process install Landlock and seccomp.                      */
SBX_CHILD_CODE int
sbx_caps_child_no_new_privs (void)
{
    return syscall (SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
}

SBX_CHILD_CODE int
sbx_caps_child_drop (const sbx_caps_plan_t *plan)
{
    if (syscall (SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    /*  Before the securebits step, which locks keep-caps.                  */
    if (syscall (SYS_prctl, PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        return -errno;

    if (plan->have_setpcap) {
        long bits = syscall (SYS_prctl, PR_GET_SECUREBITS, 0, 0, 0, 0);
        if (bits < 0)
            return -errno;
        if ((bits & S_SECUREBITS) != S_SECUREBITS
            && syscall (SYS_prctl, PR_SET_SECUREBITS, (unsigned long) bits | S_SECUREBITS,
                        0, 0, 0) < 0)
            return -errno;
        /*  Each drop makes new credentials (~2 µs); reading is ~0.3 µs.
            So drop only what is there: after sbx_caps_clear_bounding_set
            at start-up this loop only reads.                               */
        for (int cap = 0; cap <= plan->last_cap; cap++) {
            long present = syscall (SYS_prctl, PR_CAPBSET_READ, cap, 0, 0, 0);
            if (present < 0) {
                if (errno == EINVAL)    /* past the kernel's last capability */
                    break;
                return -errno;
            }
            if (present && syscall (SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
                return -errno;
        }
    }
    /*  EINVAL: a kernel before 4.3 has no ambient set to clear.            */
    if (syscall (SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0
        && errno != EINVAL)
        return -errno;

    if (plan->switch_ids) {
        /*  Groups, then gid, then uid: each needs a capability that the
            uid change takes away.                                          */
        if (syscall (SYS_setgroups, 0, NULL) < 0)
            return -errno;
        if (syscall (SYS_setresgid, plan->gid, plan->gid, plan->gid) < 0)
            return -errno;
        if (syscall (SYS_setresuid, plan->uid, plan->uid, plan->uid) < 0)
            return -errno;
    }

    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
    if (syscall (SYS_capset, &hdr, data) < 0)
        return -errno;
    /*  Check, cheaply, that nothing is left: a kernel that silently kept a
        capability would otherwise go unnoticed.                            */
    hdr.version = _LINUX_CAPABILITY_VERSION_3;
    hdr.pid = 0;
    if (syscall (SYS_capget, &hdr, data) < 0)
        return -errno;
    for (int i = 0; i < 2; i++)
        if (data[i].effective || data[i].permitted || data[i].inheritable)
            return -EPERM;

    if (plan->pdeath_signal > 0) {
        if (syscall (SYS_prctl, PR_SET_PDEATHSIG, plan->pdeath_signal, 0, 0, 0) < 0)
            return -errno;
        if (plan->parent > 0 && syscall (SYS_getppid) != plan->parent)
            return -ESRCH;
    }
    return 0;
}
