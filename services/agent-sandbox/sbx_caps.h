/*  sbx_caps.h - no new privileges, no capabilities, an unprivileged uid.

    Parent, at start-up (optional, saves ~80 µs per task, see below):
        sbx_caps_clear_bounding_set (err, sizeof err);
    Parent (once per worker, or per task when the uid differs per slot):
        sbx_caps_plan_t plan;
        sbx_caps_plan_init (&plan, is_root, task_uid, task_gid, err, sizeof err);
        plan.pdeath_signal = SIGKILL; plan.parent = getpid ();   (optional)
    Child, raw system calls only, in this order:
        sbx_caps_child_no_new_privs ()        first of all isolation steps
        sbx_caps_child_drop (&plan)           before Landlock and seccomp

    sbx_caps_child_drop does, in order (the order matters: each step needs
    a capability that a later one removes):
      1. PR_SET_NO_NEW_PRIVS again (idempotent; the drop is then safe alone)
      2. securebits |= NOROOT | NOROOT_LOCKED | NO_CAP_AMBIENT_RAISE(_LOCKED)
         (needs CAP_SETPCAP; skipped without it): uid 0 gains nothing at exec
      3. PR_CAPBSET_DROP for each capability 0..last_cap still in the
         bounding set (needs CAP_SETPCAP; skipped without it, and then
         no_new_privs alone keeps exec from adding any)
      4. PR_CAP_AMBIENT_CLEAR_ALL, PR_SET_KEEPCAPS 0
      5. with switch_ids: setgroups (0), setresgid (gid x3), setresuid (uid x3)
         (raw system calls: glibc's wrappers signal every thread of the
         process to keep ids in sync, which must never happen in a child
         that shares the worker's memory)
      6. capset: effective, permitted, inheritable all empty
      7. capget: check that all three are empty (else -EPERM)
      8. with pdeath_signal: re-arm PR_SET_PDEATHSIG, which the kernel
         clears when the euid changes, and check that the parent is still
         plan->parent (-ESRCH if the worker died in between)
*/
#ifndef SBX_CAPS_H_INCLUDED
#define SBX_CAPS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    int last_cap;                       /* highest capability the kernel knows */
    bool have_setpcap;                  /* CAP_SETPCAP held: bounding set, securebits */
    bool switch_ids;                    /* become uid/gid below (step 5) */
    uid_t uid;                          /* the task's uid, with switch_ids */
    gid_t gid;                          /* the task's gid, with switch_ids */
    int pdeath_signal;                  /* re-armed after the switch; 0: leave alone */
    pid_t parent;                       /* with pdeath_signal: expected getppid (), 0: unchecked */
} sbx_caps_plan_t;

/*  Fill plan in the parent: reads /proc/sys/kernel/cap_last_cap (falls back
    to probing PR_CAPBSET_READ) and this process's effective capabilities.
    With switch_ids, uid and gid must not be 0 and the worker must hold
    CAP_SETUID and CAP_SETGID (a root worker does; an unprivileged one
    cannot switch and passes false). Returns 0, or -1 with err set.         */
int sbx_caps_plan_init (sbx_caps_plan_t *plan, bool switch_ids, uid_t uid, gid_t gid,
                        char *err, size_t errlen);

/*  Optional, once at worker start-up, before any thread exists: empty the
    bounding set of the calling thread (threads and tasks created later
    inherit it). The worker keeps its own permitted and effective
    capabilities; it only loses the ability to regain capabilities through
    execve, which it never needs. Saves each task ~2 µs per capability
    (~80 µs with 41) in step 3. Needs CAP_SETPCAP when the set is not
    empty already. Returns 0, or -1 with err set.                          */
int sbx_caps_clear_bounding_set (char *err, size_t errlen);

/*  Child step: prctl (PR_SET_NO_NEW_PRIVS, 1). Returns 0 or -errno.        */
int sbx_caps_child_no_new_privs (void);

/*  Child step (see above). Returns 0 or -errno of the first failing call.  */
int sbx_caps_child_drop (const sbx_caps_plan_t *plan);

#endif
