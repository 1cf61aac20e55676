/*  run.c - one task: prepare, spawn, feed and drain, deadline, result.    */
#define _GNU_SOURCE
#include "run.h"
#include "child.h"
#include "isolation.h"
#include "log.h"
#include "outcap.h"
#include "utf8.h"
#include "workspace.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOTES_MAX 8192                  /* result "error" text, bytes */
#define STDIN_CHUNK (64u * 1024u)       /* per write; a pipe holds 64 KiB */
#define COLLECT_ENTRY_COST 16           /* msgpack overhead per collected file */

typedef enum {
    RUN_SPAWNING,                       /* a spawner thread is starting it */
    RUN_RUNNING,                        /* main process alive */
    RUN_DRAINING,                       /* reaped; reading pipes to EOF */
    RUN_DONE                            /* result ready */
} run_state_t;

struct sbx_run_t {
    const sbx_run_conf_t *conf;         /* worker settings */
    const proto_task_t *task;           /* what to run (owned by owner) */
    proto_msg_t *owner;                 /* decoded frame holding task */
    char id[PROTO_ID_MAX + 1];          /* task id */
    uint32_t attempt;                   /* task attempt */
    size_t slot;                        /* the worker's slot running it */
    sbx_limits_t limits;                /* effective limits */
    char notes[NOTES_MAX];              /* result error text, "; "-joined */
    run_state_t state;                  /* where in its life the run is */
    sbx_workspace_t *ws;                /* the task's directory */
    char **envp;                        /* child environment (one block) */
    pid_t pid;                          /* main process = process group */
    int pidfd;                          /* readable when pid exits */
    int stdin_fd;                       /* write end of stdin, -1 closed */
    size_t stdin_off;                   /* bytes of stdin written */
    int out_fd;                         /* read end of stdout, -1 at EOF */
    int err_fd;                         /* read end of stderr, -1 at EOF */
    sbx_outcap_t *out;                  /* captured stdout */
    sbx_outcap_t *err;                  /* captured stderr */
    int64_t start_ms;                   /* just before the spawn */
    int64_t deadline_ms;                /* wall-clock limit */
    int64_t grace_ms;                   /* end of draining */
    int64_t end_ms;                     /* when the main process was reaped */
    bool timed_out;                     /* killed at the wall deadline */
    bool output_killed;                 /* killed for output (policy kill) */
    bool cancelled;                     /* killed by sbx_run_cancel */
    bool reaped;                        /* wait4 collected pid */
    int wstatus;                        /* from wait4 */
    struct rusage ru;                   /* from wait4 */
    proto_file_t *files;                /* collected files (data owned) */
    size_t file_count;
    proto_result_t result;              /* filled when done */
    sbx_iso_task_t iso;                 /* the task's isolation layers */
    /*  What the spawn reads, kept here until it has ended (RUN_SPAWNING).  */
    sbx_child_spec_t spec;
    char program[4096];                 /* spec.path */
    const char *code_argv[3];           /* spec.argv for code tasks */
    int spawn_fd;                       /* readable: the spawn is done; -1 */
    int child_fds[3];                   /* the child's ends of the pipes */
};

int64_t
sbx_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_note (sbx_run_t *self, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_note (sbx_run_t *self, const char *fmt, ...)
{
    size_t len = strlen (self->notes);
    if (len + 8 >= sizeof self->notes)
        return;
    if (len) {
        memcpy (self->notes + len, "; ", 3);
        len += 2;
    }
    va_list args;
    va_start (args, fmt);
    int n = vsnprintf (self->notes + len, sizeof self->notes - len, fmt, args);
    va_end (args);
    if (n > 0 && len + (size_t) n >= sizeof self->notes)
        memcpy (self->notes + sizeof self->notes - 4, "...", 4);
    utf8_fix (self->notes + len);
}

static void
s_close (int *fd)
{
    if (*fd >= 0) {
        close (*fd);
        *fd = -1;
    }
}

/*  ---- ending -------------------------------------------------------------- */

static uint64_t
s_cpu_ms (const struct rusage *ru)
{
    return (uint64_t) (ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000
         + (uint64_t) (ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1000;
}

/*  The terminal state: the result, from what is known (a task that never
    got a process has no exit status, times or rusage).                    */
static void
s_build_result (sbx_run_t *self, proto_status_t status)
{
    proto_result_t *r = &self->result;
    memset (r, 0, sizeof *r);
    r->id = self->id;
    r->attempt = self->attempt;
    r->worker = self->conf->worker;
    r->status = status;
    r->stdout_data.data = sbx_outcap_data (self->out);
    r->stdout_data.size = sbx_outcap_size (self->out);
    r->stderr_data.data = sbx_outcap_data (self->err);
    r->stderr_data.size = sbx_outcap_size (self->err);
    r->stdout_truncated = sbx_outcap_truncated (self->out);
    r->stderr_truncated = sbx_outcap_truncated (self->err);
    r->files = self->files;
    r->file_count = self->file_count;
    r->error = self->notes[0] ? self->notes : NULL;
    if (self->reaped) {
        const struct rusage *ru = &self->ru;
        r->wall_ms = (uint64_t) (self->end_ms - self->start_ms);
        r->cpu_ms = s_cpu_ms (ru);
        r->max_rss_kb = ru->ru_maxrss > 0 ? (uint64_t) ru->ru_maxrss : 0;
        if (WIFEXITED (self->wstatus)) {
            r->has_exit_code = true;
            r->exit_code = WEXITSTATUS (self->wstatus);
        }
        else if (WIFSIGNALED (self->wstatus)) {
            r->has_signal = true;
            r->signal = WTERMSIG (self->wstatus);
        }
    }
    self->state = RUN_DONE;
}

/*  A task that never got a process: status and reason, workspace gone.    */
static void
s_end_early (sbx_run_t *self, proto_status_t status, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_end_early (sbx_run_t *self, proto_status_t status, const char *fmt, ...)
{
    char text[1024];
    va_list args;
    va_start (args, fmt);
    vsnprintf (text, sizeof text, fmt, args);
    va_end (args);
    /*  The reason comes first: clamp notes are secondary.                 */
    char saved[NOTES_MAX];
    memcpy (saved, self->notes, sizeof saved);
    self->notes[0] = '\0';
    s_note (self, "%s", text);
    if (saved[0])
        s_note (self, "%s", saved);
    sbx_workspace_destroy (&self->ws);
    s_build_result (self, status);
}

static void
s_collect (sbx_run_t *self)
{
    const proto_task_t *t = self->task;
    if (!t->collect_count || !self->ws)
        return;
    self->files = calloc (t->collect_count, sizeof *self->files);
    if (!self->files) {
        s_note (self, "collect: out of memory");
        return;
    }
    uint64_t budget = self->conf->max_collect;
    for (size_t i = 0; i < t->collect_count; i++) {
        const char *path = t->collect[i];
        uint64_t cost = strlen (path) + COLLECT_ENTRY_COST;
        bool dup = false;
        for (size_t j = 0; j < self->file_count && !dup; j++)
            dup = strcmp (self->files[j].path, path) == 0;
        if (dup)
            continue;
        if (!utf8_valid (path, strlen (path))) {
            s_note (self, "collect %s: refused: name is not valid UTF-8", path);
            continue;
        }
        if (cost > budget) {
            s_note (self, "collect %s: refused: collect budget of %" PRIu64 " bytes exhausted",
                    path, self->conf->max_collect);
            continue;
        }
        uint8_t *data;
        size_t size;
        char why[160];
        if (sbx_workspace_read (self->ws, path, (size_t) (budget - cost), &data, &size,
                                why, sizeof why)) {
            s_note (self, "collect %s: %s", path, why);
            continue;
        }
        budget -= cost + size;
        proto_file_t *f = &self->files[self->file_count++];
        f->path = path;
        f->content.data = data;
        f->content.size = size;
    }
}

/*  The main process has been reaped and the pipes are done.               */
static void
s_finish (sbx_run_t *self)
{
    s_close (&self->out_fd);
    s_close (&self->err_fd);
    s_close (&self->stdin_fd);
    proto_status_t status;
    int ws = self->wstatus;
    if (self->cancelled) {
        status = PROTO_STATUS_CANCELLED;
        s_note (self, "cancelled by a client");
    }
    else if (self->timed_out) {
        status = PROTO_STATUS_TIMED_OUT;
        s_note (self, "wall time limit of %" PRIu64 " ms exceeded", self->limits.wall_ms);
    }
    else if (self->output_killed) {
        status = PROTO_STATUS_OUTPUT_LIMIT;
        s_note (self, "output limit of %" PRIu64 " bytes exceeded on %s (output policy:"
                " kill)", self->limits.output_bytes,
                sbx_outcap_truncated (self->out) ? "stdout" : "stderr");
    }
    else if (sbx_iso_task_oom_kills (&self->iso) > 0
             && !(WIFEXITED (ws) && WEXITSTATUS (ws) == 0)) {
        /*  The cgroup's OOM killer struck (the main process, or one whose
            death made it fail): the memory limit, not the program.        */
        status = PROTO_STATUS_MEMORY_LIMIT;
        s_note (self, "memory limit of %" PRIu64 " bytes exceeded (%" PRIu64
                " process%s killed by the OOM killer)", self->limits.memory_bytes,
                sbx_iso_task_oom_kills (&self->iso),
                sbx_iso_task_oom_kills (&self->iso) == 1 ? "" : "es");
    }
    else if (WIFEXITED (ws)) {
        status = WEXITSTATUS (ws) == 0 ? PROTO_STATUS_SUCCEEDED : PROTO_STATUS_FAILED;
        if (sbx_iso_task_oom_kills (&self->iso) > 0)
            s_note (self, "%" PRIu64 " process%s of the task killed by the OOM killer"
                    " (memory limit of %" PRIu64 " bytes)", sbx_iso_task_oom_kills (&self->iso),
                    sbx_iso_task_oom_kills (&self->iso) == 1 ? "" : "es",
                    self->limits.memory_bytes);
    }
    else {
        status = PROTO_STATUS_KILLED;
        int sig = WIFSIGNALED (ws) ? WTERMSIG (ws) : 0;
        uint64_t cpu = s_cpu_ms (&self->ru);
        /*  SIGXCPU at the soft limit; SIGKILL at the hard one (soft + 1 s)
            when the task ignored SIGXCPU. rusage times are sampled, so they
            can read up to ~15% low: compare against 3/4 of the limit.     */
        if (sig == SIGXCPU || (sig == SIGKILL && cpu * 4 >= self->limits.cpu_ms * 3))
            s_note (self, "cpu limit of %" PRIu64 " ms exceeded", self->limits.cpu_ms);
        else if (sig == SIGXFSZ)
            s_note (self, "file size limit of %" PRIu64 " bytes exceeded", self->limits.file_bytes);
    }
    s_collect (self);
    if (self->ws && sbx_workspace_remove (self->ws)) {
        char q[512];
        const char *path = sbx_workspace_path (self->ws);
        log_event (CLOG_WARN, "workspace_not_removed", "id=%s path=%s errno=%d", self->id,
                   log_quote (q, sizeof q, path, strlen (path)), errno);
    }
    s_build_result (self, status);
}

/*  pidfd readable: kill what is left of the group, then reap. The group is
    killed BEFORE wait4 because the unreaped main process pins its pid and
    process group id: afterwards the number could name someone else.      */
static void
s_reap (sbx_run_t *self, int64_t now)
{
    kill (-self->pid, SIGKILL);
    pid_t r;
    do
        r = wait4 (self->pid, &self->wstatus, WNOHANG, &self->ru);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return;                         /* not yet (spurious wake-up) */
    if (r < 0) {
        /*  Someone else reaped it (should not happen): no status to give. */
        s_note (self, "lost the task's exit status: %s", strerror (errno));
        self->wstatus = 0;
        memset (&self->ru, 0, sizeof self->ru);
    }
    self->reaped = true;
    self->end_ms = now;
    /*  No process of the task outlives it: with a PID namespace the kernel
        killed them all when its PID 1 died; the cgroup finds the rest.    */
    sbx_iso_task_kill (&self->iso);
    s_close (&self->pidfd);
    s_close (&self->stdin_fd);
    self->state = RUN_DRAINING;
    self->grace_ms = now + SBX_DRAIN_GRACE_MS;
    if (self->out_fd < 0 && self->err_fd < 0)
        s_finish (self);
}

static void
s_feed_stdin (sbx_run_t *self)
{
    const proto_bytes_t *in = &self->task->stdin_data;
    while (self->stdin_off < in->size) {
        size_t n = in->size - self->stdin_off;
        if (n > STDIN_CHUNK)
            n = STDIN_CHUNK;
        ssize_t w = write (self->stdin_fd, in->data + self->stdin_off, n);
        if (w > 0) {
            self->stdin_off += (size_t) w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        break;                          /* EPIPE: the task stopped reading */
    }
    s_close (&self->stdin_fd);
}

/*  ---- starting ----------------------------------------------------------- */

/*  Input files and the code file. 0, or -1 when the run has ended.        */
static int
s_write_inputs (sbx_run_t *self)
{
    const proto_task_t *t = self->task;
    char why[160];
    for (size_t i = 0; i < t->file_count; i++) {
        const proto_file_t *f = &t->files[i];
        if (sbx_workspace_write (self->ws, f->path, f->content.data, f->content.size, 0644,
                                 why, sizeof why)) {
            bool task_fault = errno == EEXIST || errno == ELOOP || errno == EXDEV
                           || errno == ENOTDIR || errno == EISDIR || errno == EINVAL
                           || errno == ENAMETOOLONG;
            s_end_early (self, task_fault ? PROTO_STATUS_REJECTED : PROTO_STATUS_INTERNAL_ERROR,
                         "files[%s]: %s", f->path, why);
            return -1;
        }
    }
    if (t->lang != PROTO_LANG_NONE) {
        const char *script = sbx_spec_script_name (t->lang);
        if (sbx_workspace_write (self->ws, script, t->code.data, t->code.size, 0644,
                                 why, sizeof why)) {
            s_end_early (self, errno == EEXIST ? PROTO_STATUS_REJECTED : PROTO_STATUS_INTERNAL_ERROR,
                         "code: cannot write %s: %s", script, why);
            return -1;
        }
    }
    return 0;
}

static size_t
s_rlimits (const sbx_limits_t *l, const sbx_run_conf_t *conf, sbx_rlimit_t *out)
{
    rlim_t cpu_s = (rlim_t) ((l->cpu_ms + 999) / 1000);
    size_t n = 0;
    out[n++] = (sbx_rlimit_t) { RLIMIT_CPU, { cpu_s, cpu_s + 1 } };
    /*  With the cgroup limiting memory, no address-space limit: address
        space is not memory (runtimes reserve far more than they use), and
        only the cgroup's OOM kill says "memory_limit". Without it, RLIMIT_AS
        is all there is, and hitting it shows as the program's own failure
        (MemoryError, "Cannot allocate memory").                            */
    rlim_t as = sbx_iso_cgroup_memory (conf->iso) ? RLIM_INFINITY : l->memory_bytes;
    out[n++] = (sbx_rlimit_t) { RLIMIT_AS, { as, as } };
    out[n++] = (sbx_rlimit_t) { RLIMIT_NPROC, { l->processes, l->processes } };
    out[n++] = (sbx_rlimit_t) { RLIMIT_FSIZE, { l->file_bytes, l->file_bytes } };
    out[n++] = (sbx_rlimit_t) { RLIMIT_NOFILE, { conf->open_files, conf->open_files } };
    out[n++] = (sbx_rlimit_t) { RLIMIT_CORE, { 0, 0 } };
    return n;
}

/*  Everything prepared here, before the clone; then the child.           */
static void s_spawned (sbx_run_t *self, int rc, const sbx_child_failure_t *why);

static void
s_start (sbx_run_t *self)
{
    const proto_task_t *t = self->task;
    self->ws = sbx_workspace_new (self->conf->work_dir, self->id, self->attempt);
    if (!self->ws) {
        s_end_early (self, PROTO_STATUS_INTERNAL_ERROR, "workspace: %s", strerror (errno));
        return;
    }
    if (s_write_inputs (self))
        return;

    const char *argv0;
    char *const *argv;
    if (t->lang != PROTO_LANG_NONE) {
        self->code_argv[0] = argv0 = sbx_spec_interpreter (t->lang);
        self->code_argv[1] = sbx_spec_script_name (t->lang);
        self->code_argv[2] = NULL;
        argv = (char *const *) self->code_argv;
    }
    else {
        argv0 = t->argc ? t->argv[0] : "";
        argv = (char *const *) t->argv;
    }
    if (!argv0 || sbx_spec_find_program (argv0, sbx_workspace_fd (self->ws), self->program,
                                         sizeof self->program)) {
        char text[PROTO_PATH_MAX + 64];
        int n = snprintf (text, sizeof text, "command not found: %s", argv0 ? argv0 : "");
        sbx_outcap_append (self->err, text, n > 0 ? (size_t) n : 0, sbx_now_ms ());
        self->reaped = true;            /* report exit code 127 like a shell */
        self->wstatus = 127 << 8;
        self->start_ms = self->end_ms = sbx_now_ms ();
        s_end_early (self, PROTO_STATUS_FAILED, "%s", text);
        return;
    }
    /*  Every isolation layer prepared now (namespaces, the workspace's
        owner, the Landlock ruleset, the cgroup's limits), none in the child. */
    sbx_child_iso_t child_iso;
    memset (&child_iso, 0, sizeof child_iso);
    child_iso.landlock_fd = -1;
    const char *home = sbx_workspace_path (self->ws);
    if (self->conf->iso) {
        sbx_iso_task_spec_t is = {
            .workspace = sbx_workspace_path (self->ws),
            .workspace_fd = sbx_workspace_fd (self->ws),
            .network = t->limits.network == 1,
            .memory_bytes = self->limits.memory_bytes,
            .processes = self->limits.processes,
        };
        char why[512];
        if (sbx_iso_task_prepare (self->conf->iso, self->slot, &is, &self->iso, &child_iso,
                                  why, sizeof why) < 0) {
            s_end_early (self, PROTO_STATUS_INTERNAL_ERROR, "isolation: %s", why);
            return;
        }
        home = self->iso.home;
    }
    self->envp = sbx_spec_envp (t->env, t->env_count, home);
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
    if (!self->envp || pipe2 (in, O_CLOEXEC) || pipe2 (out, O_CLOEXEC) || pipe2 (err, O_CLOEXEC)) {
        int e = self->envp ? errno : ENOMEM;
        int fds[] = { in[0], in[1], out[0], out[1], err[0], err[1] };
        for (size_t i = 0; i < 6; i++)
            s_close (&fds[i]);
        sbx_iso_task_spawned (&self->iso);
        s_end_early (self, PROTO_STATUS_INTERNAL_ERROR, "pipes: %s", strerror (e));
        return;
    }
    fcntl (in[1], F_SETFL, O_NONBLOCK);
    fcntl (out[0], F_SETFL, O_NONBLOCK);
    fcntl (err[0], F_SETFL, O_NONBLOCK);
    self->stdin_fd = in[1];
    self->out_fd = out[0];
    self->err_fd = err[0];
    self->child_fds[0] = in[0];
    self->child_fds[1] = out[1];
    self->child_fds[2] = err[1];

    self->spec = (sbx_child_spec_t) {
        .path = self->program,
        .argv = argv,
        .envp = self->envp,
        .stdin_fd = in[0],
        .stdout_fd = out[1],
        .stderr_fd = err[1],
        .workdir_fd = sbx_workspace_fd (self->ws),
        .iso = child_iso,
    };
    self->spec.rlimit_count = s_rlimits (&self->limits, self->conf, self->spec.rlimits);

    /*  The slot's spawner thread starts it while the loop goes on
        (sbx_run_ready on spawn_fd ends it); without one, here and now.    */
    self->start_ms = sbx_now_ms ();
    self->spawn_fd = sbx_iso_spawn_begin (self->conf->iso, self->slot, &self->spec);
    if (self->spawn_fd >= 0) {
        self->state = RUN_SPAWNING;
        return;
    }
    sbx_child_failure_t why;
    int rc = sbx_child_start (&self->spec, &self->pid, &self->pidfd, &why);
    s_spawned (self, rc, &why);
}

/*  The spawn has ended: close what only the child needed, and either run
    (the deadline starts) or end with the reason.                          */
static void
s_spawned (sbx_run_t *self, int rc, const sbx_child_failure_t *why)
{
    const proto_task_t *t = self->task;
    int step = why->step, errnum = why->err;
    self->spawn_fd = -1;
    self->state = RUN_RUNNING;
    sbx_iso_task_spawned (&self->iso);
    for (size_t i = 0; i < 3; i++)
        s_close (&self->child_fds[i]);
    if (rc) {
        self->pid = 0;
        s_close (&self->stdin_fd);
        s_close (&self->out_fd);
        s_close (&self->err_fd);
        const char *argv0 = self->spec.argv[0] ? self->spec.argv[0] : "";
        if (step == SBX_STEP_EXEC) {
            /*  The program is there but cannot run (not executable, bad
                format, argument list too long): the task's failure, with
                the exit codes a shell would give.                          */
            self->reaped = true;
            self->wstatus = (errnum == ENOENT ? 127 : 126) << 8;
            self->end_ms = sbx_now_ms ();
            s_end_early (self, PROTO_STATUS_FAILED, "cannot execute %s: %s", argv0,
                         strerror (errnum));
        }
        else {
            /*  The sandbox could not be made: which step, which errno.    */
            const char *ename = strerrorname_np (errnum);
            bool ns_step = step == SBX_STEP_NS_JOIN || step == SBX_STEP_NS_SETUP;
            s_end_early (self, PROTO_STATUS_INTERNAL_ERROR,
                         "child setup failed at step '%s%s%s': %s (%s)",
                         sbx_child_step_name (step), ns_step && why->sub ? "/" : "",
                         ns_step && why->sub ? sbx_ns_step_name (why->sub) : "",
                         strerror (errnum), ename ? ename : "?");
        }
        return;
    }
    self->deadline_ms = self->start_ms + (int64_t) self->limits.wall_ms;
    if (!t->has_stdin || t->stdin_data.size == 0)
        s_close (&self->stdin_fd);
    if (self->cancelled) {              /* asked while it was being spawned */
        kill (-self->pid, SIGKILL);
        kill (self->pid, SIGKILL);
    }
}

void
sbx_run_settle (sbx_run_t *self)
{
    if (self->state != RUN_SPAWNING)
        return;
    sbx_child_failure_t why;
    int rc = sbx_iso_spawn_end (self->conf->iso, self->slot, &self->pid, &self->pidfd, &why);
    s_spawned (self, rc, &why);
}

sbx_run_t *
sbx_run_new (const sbx_run_conf_t *conf, size_t slot, const proto_task_t *task,
             proto_msg_t *owner)
{
    sbx_run_t *self = calloc (1, sizeof *self);
    if (!self) {
        proto_msg_destroy (&owner);
        return NULL;
    }
    self->conf = conf;
    self->task = task;
    self->owner = owner;
    self->pidfd = self->stdin_fd = self->out_fd = self->err_fd = self->spawn_fd = -1;
    self->child_fds[0] = self->child_fds[1] = self->child_fds[2] = -1;
    self->iso.landlock_fd = -1;
    snprintf (self->id, sizeof self->id, "%s", task->id ? task->id : "");
    self->attempt = task->attempt;
    self->slot = slot;
    sbx_spec_limits (conf, &task->limits, &self->limits, self->notes, sizeof self->notes);
    self->out = sbx_outcap_new ((size_t) self->limits.output_bytes);
    self->err = sbx_outcap_new ((size_t) self->limits.output_bytes);
    if (!self->out || !self->err) {
        sbx_run_destroy (&self);
        return NULL;
    }
    if (conf->stream_output) {
        int64_t now = sbx_now_ms ();
        sbx_outcap_stream (self->out, now);
        sbx_outcap_stream (self->err, now);
    }
    self->state = RUN_RUNNING;
    if (task->limits.network == 1 && !conf->allow_network)
        s_end_early (self, PROTO_STATUS_REJECTED, "limits.network: this worker does not"
                     " allow network access (SANDBOX_ALLOW_NETWORK=false)");
    else
        s_start (self);
    return self;
}

void
sbx_run_destroy (sbx_run_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sbx_run_t *self = *self_p;
    sbx_run_settle (self);
    if (self->pid > 0 && !self->reaped) {
        kill (-self->pid, SIGKILL);
        kill (self->pid, SIGKILL);
        while (waitpid (self->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    sbx_iso_task_release (&self->iso);
    s_close (&self->pidfd);
    s_close (&self->stdin_fd);
    s_close (&self->out_fd);
    s_close (&self->err_fd);
    sbx_workspace_destroy (&self->ws);
    for (size_t i = 0; i < self->file_count; i++)
        free ((void *) self->files[i].content.data);
    free (self->files);
    free (self->envp);
    sbx_outcap_destroy (&self->out);
    sbx_outcap_destroy (&self->err);
    proto_msg_destroy (&self->owner);
    free (self);
    *self_p = NULL;
}

const char *
sbx_run_id (const sbx_run_t *self)
{
    return self->id;
}

uint32_t
sbx_run_attempt (const sbx_run_t *self)
{
    return self->attempt;
}

pid_t
sbx_run_pid (const sbx_run_t *self)
{
    return self->pid;
}

size_t
sbx_run_pollfds (const sbx_run_t *self, sbx_pollfd_t *fds, size_t max)
{
    size_t n = 0;
    if (self->state == RUN_DONE)
        return 0;
    if (self->state == RUN_SPAWNING)
        return max ? (fds[0] = (sbx_pollfd_t) { self->spawn_fd, SBX_POLL_IN }, 1) : 0;
    if (self->pidfd >= 0 && n < max)
        fds[n++] = (sbx_pollfd_t) { self->pidfd, SBX_POLL_IN };
    if (self->stdin_fd >= 0 && n < max)
        fds[n++] = (sbx_pollfd_t) { self->stdin_fd, SBX_POLL_OUT };
    if (self->out_fd >= 0 && n < max)
        fds[n++] = (sbx_pollfd_t) { self->out_fd, SBX_POLL_IN };
    if (self->err_fd >= 0 && n < max)
        fds[n++] = (sbx_pollfd_t) { self->err_fd, SBX_POLL_IN };
    return n;
}

/*  Output policy "kill": the first byte beyond the cap ends the task (the
    bytes kept so far stay in the result).                                 */
static void
s_check_output (sbx_run_t *self)
{
    if (!self->conf->output_kill || self->output_killed || self->state != RUN_RUNNING
        || self->timed_out || self->cancelled || self->pid <= 0)
        return;
    if (!sbx_outcap_truncated (self->out) && !sbx_outcap_truncated (self->err))
        return;
    self->output_killed = true;
    kill (-self->pid, SIGKILL);
    kill (self->pid, SIGKILL);
}

void
sbx_run_ready (sbx_run_t *self, int fd, int64_t now_ms)
{
    if (self->state == RUN_DONE || fd < 0)
        return;
    if (self->state == RUN_SPAWNING) {
        if (fd == self->spawn_fd)
            sbx_run_settle (self);
        return;
    }
    if (fd == self->stdin_fd)
        s_feed_stdin (self);
    else if (fd == self->out_fd) {
        if (sbx_outcap_read (self->out, fd, now_ms))
            s_close (&self->out_fd);
        s_check_output (self);
    }
    else if (fd == self->err_fd) {
        if (sbx_outcap_read (self->err, fd, now_ms))
            s_close (&self->err_fd);
        s_check_output (self);
    }
    else if (fd == self->pidfd) {
        s_reap (self, now_ms);
        return;
    }
    if (self->state == RUN_DRAINING && self->out_fd < 0 && self->err_fd < 0)
        s_finish (self);
}

int64_t
sbx_run_next_timer (const sbx_run_t *self)
{
    if (self->state == RUN_RUNNING && !self->timed_out)
        return self->deadline_ms;
    if (self->state == RUN_DRAINING)
        return self->grace_ms;
    return -1;
}

void
sbx_run_tick (sbx_run_t *self, int64_t now_ms)
{
    if (self->state == RUN_RUNNING && !self->timed_out && now_ms >= self->deadline_ms) {
        /*  The whole group: the main process and whatever it started.     */
        self->timed_out = true;
        kill (-self->pid, SIGKILL);
        kill (self->pid, SIGKILL);
    }
    else if (self->state == RUN_DRAINING && now_ms >= self->grace_ms) {
        /*  Something outside the group still holds the pipes: stop here.  */
        s_finish (self);
    }
}

bool
sbx_run_done (const sbx_run_t *self)
{
    return self->state == RUN_DONE;
}

const proto_result_t *
sbx_run_result (const sbx_run_t *self)
{
    return self->state == RUN_DONE ? &self->result : NULL;
}

void
sbx_run_wait (sbx_run_t *self)
{
    while (!sbx_run_done (self)) {
        sbx_pollfd_t fds[SBX_RUN_POLLFDS_MAX];
        struct pollfd pfd[SBX_RUN_POLLFDS_MAX];
        size_t n = sbx_run_pollfds (self, fds, SBX_RUN_POLLFDS_MAX);
        for (size_t i = 0; i < n; i++) {
            pfd[i].fd = fds[i].fd;
            pfd[i].events = fds[i].events == SBX_POLL_OUT ? POLLOUT : POLLIN;
            pfd[i].revents = 0;
        }
        int timeout = -1;
        int64_t next = sbx_run_next_timer (self);
        if (next >= 0) {
            int64_t wait = next - sbx_now_ms ();
            timeout = wait < 0 ? 0 : wait > 1000 ? 1000 : (int) wait;
        }
        int rc = poll (pfd, n, timeout);
        int64_t now = sbx_now_ms ();
        for (size_t i = 0; rc > 0 && i < n; i++)
            if (pfd[i].revents)
                sbx_run_ready (self, pfd[i].fd, now);
        sbx_run_tick (self, now);
    }
}

/*  ---- cancel (appended: the reliability issue) ---------------------------- */

bool
sbx_run_cancel (sbx_run_t *self)
{
    /*  Only a live process group can be cancelled; a run that is draining
        its pipes has ended already and keeps its own outcome. One being
        spawned is killed as soon as its spawn ends.                        */
    if (self->state == RUN_SPAWNING && !self->cancelled) {
        self->cancelled = true;
        return true;
    }
    if (self->state != RUN_RUNNING || self->cancelled || self->pid <= 0)
        return false;
    self->cancelled = true;
    kill (-self->pid, SIGKILL);
    kill (self->pid, SIGKILL);
    return true;
}

/*  ---- live output (appended: the live output issue) ------------------------- */

int64_t
sbx_run_next_flush (const sbx_run_t *self)
{
    if (self->state != RUN_RUNNING)
        return -1;
    int64_t out = sbx_outcap_next_flush (self->out);
    int64_t err = sbx_outcap_next_flush (self->err);
    if (out < 0)
        return err;
    return err < 0 || out < err ? out : err;
}

static void
s_stream_one (sbx_run_t *self, sbx_outcap_t *cap, proto_stream_t stream, int64_t now,
              sbx_run_output_fn *send, void *arg)
{
    sbx_outcap_chunk_t chunk;
    if (!sbx_outcap_chunk (cap, now, &chunk))
        return;
    proto_output_t o = {
        .id = self->id,
        .attempt = self->attempt,
        .stream = stream,
        .seq = chunk.seq,
        .data = { chunk.data, chunk.size },
    };
    sbx_outcap_chunk_done (cap, &chunk, send (arg, &o) == 0, now);
}

void
sbx_run_stream (sbx_run_t *self, int64_t now_ms, sbx_run_output_fn *send, void *arg)
{
    /*  Not after the main process ended: the result follows at once and
        carries every byte, so a last chunk would only cost a frame.       */
    if (self->state != RUN_RUNNING)
        return;
    s_stream_one (self, self->out, PROTO_STREAM_STDOUT, now_ms, send, arg);
    s_stream_one (self, self->err, PROTO_STREAM_STDERR, now_ms, send, arg);
}
