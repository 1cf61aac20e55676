/*  limits.c - the machine's own limits, the yardstick for every other row.

    limits fork|posix_spawn|vfork PAR SECONDS
        start /bin/true and reap it, over and over, in PAR processes at once:
        fork+execve+waitpid, posix_spawn+waitpid, or a bare
        clone (CLONE_VM|CLONE_VFORK)+execve+waitpid (what the sandbox's
        child setup is built on, with no step of its own).
    limits cmd PAR SECONDS -- PROGRAM ARG...
        the same with any command (stdio on /dev/null, environment
        inherited), e.g. bwrap or `cleudo run`; a non-zero exit counts as
        an error.
    limits fsync DIR PAR SECONDS
        append 4 KiB to a file in DIR and fdatasync it: what a store that
        syncs every commit can do at most on that file system.

    One JSON line per run (bench_util.h).
*/
#define _GNU_SOURCE
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char *s_true_argv[] = { "/bin/true", NULL };
static char *s_true_envp[] = { "PATH=/usr/bin:/bin", NULL };

static int
s_reap (pid_t pid)
{
    int status;
    while (waitpid (pid, &status, 0) < 0)
        if (errno != EINTR) {
            bu_fail ("waitpid: %s", strerror (errno));
            return -1;
        }
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        bu_fail ("child ended with status 0x%x", status);
        return -1;
    }
    return 0;
}

static int
s_fork (void *arg)
{
    (void) arg;
    pid_t pid = fork ();
    if (pid < 0) {
        bu_fail ("fork: %s", strerror (errno));
        return -1;
    }
    if (pid == 0) {
        execve (s_true_argv[0], s_true_argv, s_true_envp);
        _exit (127);
    }
    return s_reap (pid);
}

static int
s_posix_spawn (void *arg)
{
    (void) arg;
    pid_t pid;
    int rc = posix_spawn (&pid, s_true_argv[0], NULL, NULL, s_true_argv, s_true_envp);
    if (rc) {
        bu_fail ("posix_spawn: %s", strerror (rc));
        return -1;
    }
    return s_reap (pid);
}

static char s_stack[64 * 1024] __attribute__ ((aligned (64)));

static int
s_vfork_child (void *arg)
{
    (void) arg;
    syscall (SYS_execve, s_true_argv[0], s_true_argv, s_true_envp);
    syscall (SYS_exit, 127);
    return 127;
}

static int
s_vfork (void *arg)
{
    (void) arg;
    pid_t pid = clone (s_vfork_child, s_stack + sizeof s_stack, CLONE_VM | CLONE_VFORK | SIGCHLD,
                       NULL);
    if (pid < 0) {
        bu_fail ("clone: %s", strerror (errno));
        return -1;
    }
    return s_reap (pid);
}

/*  ---- any command --------------------------------------------------------- */

static char **s_cmd;                    /* argv of the command */
static posix_spawn_file_actions_t s_fa; /* stdio on /dev/null */

static int
s_cmd_setup (void *arg)
{
    (void) arg;
    if (posix_spawn_file_actions_init (&s_fa)
        || posix_spawn_file_actions_addopen (&s_fa, 0, "/dev/null", O_RDONLY, 0)
        || posix_spawn_file_actions_addopen (&s_fa, 1, "/dev/null", O_WRONLY, 0)
        || posix_spawn_file_actions_addopen (&s_fa, 2, "/dev/null", O_WRONLY, 0)) {
        bu_fail ("posix_spawn_file_actions");
        return -1;
    }
    return 0;
}

static int
s_cmd_one (void *arg)
{
    (void) arg;
    pid_t pid;
    int rc = posix_spawnp (&pid, s_cmd[0], &s_fa, NULL, s_cmd, environ);
    if (rc) {
        bu_fail ("cannot start %s: %s", s_cmd[0], strerror (rc));
        return -1;
    }
    return s_reap (pid);
}

/*  ---- fdatasync ----------------------------------------------------------- */

#define FSYNC_BLOCK 4096
#define FSYNC_WRAP (16 * 1024 * 1024)

static const char *s_dir;
static int s_fd = -1;
static off_t s_off;

static int
s_fsync_setup (void *arg)
{
    (void) arg;
    char path[4096];
    snprintf (path, sizeof path, "%s/.bench-fsync-%d", s_dir, (int) getpid ());
    s_fd = open (path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (s_fd < 0) {
        bu_fail ("open %s: %s", path, strerror (errno));
        return -1;
    }
    unlink (path);                      /* gone when the process ends */
    return 0;
}

static int
s_fsync_one (void *arg)
{
    (void) arg;
    static char block[FSYNC_BLOCK];
    if (pwrite (s_fd, block, sizeof block, s_off) != (ssize_t) sizeof block
        || fdatasync (s_fd)) {
        bu_fail ("write+fdatasync: %s", strerror (errno));
        return -1;
    }
    s_off = (s_off + FSYNC_BLOCK) % FSYNC_WRAP;
    return 0;
}

static void
s_usage (void)
{
    fprintf (stderr, "usage: limits fork|posix_spawn|vfork PAR SECONDS\n"
                     "       limits cmd PAR SECONDS -- PROGRAM ARG...\n"
                     "       limits fsync DIR PAR SECONDS\n");
    exit (2);
}

int
main (int argc, char **argv)
{
    if (argc < 4)
        s_usage ();
    const char *mode = argv[1];
    bu_job_t job = { .warmup = 10 };
    int a = 2;
    if (strcmp (mode, "fork") == 0)
        job.one = s_fork;
    else if (strcmp (mode, "posix_spawn") == 0)
        job.one = s_posix_spawn;
    else if (strcmp (mode, "vfork") == 0)
        job.one = s_vfork;
    else if (strcmp (mode, "cmd") == 0) {
        if (argc < 6 || strcmp (argv[4], "--") != 0)
            s_usage ();
        s_cmd = argv + 5;
        job.setup = s_cmd_setup;
        job.one = s_cmd_one;
        job.warmup = 3;
    }
    else if (strcmp (mode, "fsync") == 0) {
        if (argc < 5)
            s_usage ();
        s_dir = argv[2];
        a = 3;
        job.setup = s_fsync_setup;
        job.one = s_fsync_one;
        job.warmup = 5;
    }
    else
        s_usage ();
    int par = (int) bu_arg_num ("PAR", argv[a]);
    double seconds = bu_arg_num ("SECONDS", argv[a + 1]);
    bu_result_t res;
    int rc = bu_measure (&job, par, seconds, &res);
    bu_print_result (&res, par, NULL);
    bu_samples_free (&res.lat);
    return rc ? 1 : 0;
}
