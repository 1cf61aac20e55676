/*  cli_output.c - exit status, run output, human summaries.                */
#define _GNU_SOURCE             /* sigabbrev_np */
#include "cli_output.h"
#include "utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/*  ---------------------------------------------------------------------
    Formatting helpers                                                     */

/*  Text from the wire (error strings, worker names) reaches a terminal:
    control characters become '?', so nobody can move the cursor or forge
    lines there.                                                            */
void
cli_clean (char *text)
{
    for (unsigned char *p = (unsigned char *) text; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
}

static void
s_append (char *buf, size_t size, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_append (char *buf, size_t size, const char *fmt, ...)
{
    size_t len = strlen (buf);
    if (len + 1 >= size)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (buf + len, size - len, fmt, ap);
    va_end (ap);
}

void
cli_format_ms (char *buf, size_t size, uint64_t ms)
{
    if (ms < 1000)
        snprintf (buf, size, "%" PRIu64 " ms", ms);
    else
    if (ms < 60000)
        snprintf (buf, size, "%" PRIu64 ".%" PRIu64 " s", ms / 1000, ms % 1000 / 100);
    else
    if (ms < 3600000 && ms % 60000 < 1000)
        snprintf (buf, size, "%" PRIu64 " min", ms / 60000);
    else
    if (ms < 3600000)
        snprintf (buf, size, "%" PRIu64 " min %" PRIu64 " s", ms / 60000, ms % 60000 / 1000);
    else
    if (ms % 3600000 < 60000)
        snprintf (buf, size, "%" PRIu64 " h", ms / 3600000);
    else
        snprintf (buf, size, "%" PRIu64 " h %" PRIu64 " min", ms / 3600000,
                  ms % 3600000 / 60000);
}

void
cli_format_bytes (char *buf, size_t size, uint64_t bytes)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
    if (bytes < 1024) {
        snprintf (buf, size, "%" PRIu64 " bytes", bytes);
        return;
    }
    int u = 0;
    uint64_t scale = 1024;
    while (u < 3 && bytes >= scale * 1024) {
        scale *= 1024;
        u++;
    }
    if (bytes % scale == 0)
        snprintf (buf, size, "%" PRIu64 " %s", bytes / scale, units[u]);
    else
        snprintf (buf, size, "%.1f %s", (double) bytes / (double) scale, units[u]);
}

void
cli_format_time (char *buf, size_t size, int64_t unix_ms)
{
    time_t secs = (time_t) (unix_ms / 1000);
    struct tm tm;
    if (unix_ms <= 0 || !gmtime_r (&secs, &tm)) {
        snprintf (buf, size, "-");
        return;
    }
    char day[32];
    strftime (day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (buf, size, "%s.%03dZ", day, (int) (unix_ms % 1000));
}

static bool
s_shell_safe (const char *arg)
{
    if (!*arg)
        return false;
    for (const char *p = arg; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || strchr ("_@%+=:,./-", *p)))
            return false;
    return true;
}

void
cli_format_argv (char *buf, size_t size, const char **argv, size_t argc)
{
    if (!size)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < argc; i++) {
        if (i)
            s_append (buf, size, " ");
        if (s_shell_safe (argv[i]))
            s_append (buf, size, "%s", argv[i]);
        else {
            s_append (buf, size, "'");
            for (const char *p = argv[i]; *p; p++)
                if (*p == '\'')
                    s_append (buf, size, "'\\''");
                else
                    s_append (buf, size, "%c", *p);
            s_append (buf, size, "'");
        }
    }
    cli_clean (buf);
    if (strlen (buf) + 1 >= size && size > 4)
        memcpy (buf + size - 4, "...", 4);
}

static void
s_signal_name (char *buf, size_t size, int64_t sig)
{
    const char *abbrev = sig > 0 && sig < 128 ? sigabbrev_np ((int) sig) : NULL;
    if (abbrev)
        snprintf (buf, size, "SIG%s", abbrev);
    else
        snprintf (buf, size, "unknown signal");
}

/*  ---------------------------------------------------------------------
    Outcome                                                                */

int
cli_outcome (const proto_record_t *record, char *msg, size_t msg_size, cli_say_t *say)
{
    char dummy[8];
    if (!msg || !msg_size) {
        msg = dummy;
        msg_size = sizeof dummy;
    }
    msg[0] = '\0';
    cli_say_t level = CLI_SAY_NOTHING;
    int code;
    const proto_result_t *r = &record->result;
    const char *id = record->id ? record->id : "?";
    const char *error = r->error && *r->error ? r->error : NULL;
    char text[64];

    switch (record->status) {
        case PROTO_STATUS_SUCCEEDED:
        case PROTO_STATUS_FAILED:
            if (r->has_exit_code && r->exit_code >= 0 && r->exit_code <= 255)
                code = (int) r->exit_code;
            else
                code = 1;
            if (record->status == PROTO_STATUS_FAILED && code == 0)
                code = 1;       /* failed must not look like success */
            if (record->status == PROTO_STATUS_SUCCEEDED)
                code = 0;
            if (error) {
                /*  e.g. a limit that the worker clamped                   */
                snprintf (msg, msg_size, "task %s: %s", id, error);
                level = CLI_SAY_NOTE;
            }
            break;
        case PROTO_STATUS_TIMED_OUT:
            code = CLI_EXIT_TASK_TIMEOUT;
            cli_format_ms (text, sizeof text, r->wall_ms ? r->wall_ms : record->task.limits.wall_ms);
            snprintf (msg, msg_size, "task %s timed out after %s", id, text);
            level = CLI_SAY_NOTE;
            break;
        case PROTO_STATUS_KILLED:
            if (r->has_signal && r->signal > 0 && r->signal < 128) {
                code = CLI_EXIT_SIGNAL_BASE + (int) r->signal;
                s_signal_name (text, sizeof text, r->signal);
                snprintf (msg, msg_size, "task %s killed by signal %" PRId64 " (%s)", id,
                          r->signal, text);
            }
            else {
                code = CLI_EXIT_SIGNAL_BASE + SIGKILL;
                snprintf (msg, msg_size, "task %s killed", id);
            }
            if (error)
                s_append (msg, msg_size, ": %s", error);
            level = CLI_SAY_NOTE;
            break;
        case PROTO_STATUS_MEMORY_LIMIT:
            code = CLI_EXIT_MEMORY_LIMIT;
            snprintf (msg, msg_size, "task %s exceeded its memory limit", id);
            if (record->task.limits.memory_bytes) {
                cli_format_bytes (text, sizeof text, record->task.limits.memory_bytes);
                s_append (msg, msg_size, " of %s", text);
            }
            if (error)
                s_append (msg, msg_size, ": %s", error);
            level = CLI_SAY_NOTE;
            break;
        case PROTO_STATUS_OUTPUT_LIMIT:
            code = CLI_EXIT_TASK_ABORTED;
            snprintf (msg, msg_size, "task %s exceeded its output limit and was stopped", id);
            if (error)
                s_append (msg, msg_size, ": %s", error);
            level = CLI_SAY_ERROR;
            break;
        case PROTO_STATUS_CANCELLED:
        case PROTO_STATUS_REJECTED:
        case PROTO_STATUS_LOST:
        case PROTO_STATUS_INTERNAL_ERROR:
            code = CLI_EXIT_TASK_ABORTED;
            if (!error && record->status == PROTO_STATUS_LOST)
                error = "its worker vanished and no attempt was left";
            if (!error && record->status == PROTO_STATUS_REJECTED)
                error = "no reason given";
            snprintf (msg, msg_size, "task %s %s", id, proto_status_name (record->status));
            if (error)
                s_append (msg, msg_size, ": %s", error);
            level = CLI_SAY_ERROR;
            break;
        default:
            code = CLI_EXIT_INTERNAL;
            snprintf (msg, msg_size, "task %s has not finished (status %s)", id,
                      proto_status_name (record->status));
            level = CLI_SAY_ERROR;
            break;
    }
    cli_clean (msg);
    if (say)
        *say = level;
    return code;
}

int
cli_write_all (int fd, const void *data, size_t size)
{
    const uint8_t *p = data;
    while (size > 0) {
        ssize_t n = write (fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        size -= (size_t) n;
    }
    return 0;
}

int
cli_print_task_notes (const proto_record_t *record, FILE *err_out, bool quiet,
                      bool at_line_start)
{
    const proto_result_t *r = &record->result;
    char msg[1024];
    cli_say_t say;
    int code = cli_outcome (record, msg, sizeof msg, &say);
    bool notes = !quiet && (r->stdout_truncated || r->stderr_truncated || say == CLI_SAY_NOTE);
    bool speak = notes || say == CLI_SAY_ERROR;
    /*  Our lines start on a line of their own; the task's bytes stay exact. */
    if (speak && !at_line_start)
        fputc ('\n', err_out);
    if (!quiet && r->stdout_truncated)
        fprintf (err_out, "cleudo: stdout truncated at %zu bytes\n", r->stdout_data.size);
    if (!quiet && r->stderr_truncated)
        fprintf (err_out, "cleudo: stderr truncated at %zu bytes\n", r->stderr_data.size);
    if (say == CLI_SAY_ERROR || (say == CLI_SAY_NOTE && !quiet))
        fprintf (err_out, "cleudo: %s\n", msg);
    fflush (err_out);
    return code;
}

int
cli_print_task_output (const proto_record_t *record, FILE *out, FILE *err_out, bool quiet)
{
    const proto_result_t *r = &record->result;
    if (r->stdout_data.size)
        fwrite (r->stdout_data.data, 1, r->stdout_data.size, out);
    if (fflush (out) || ferror (out)) {
        fprintf (err_out, "cleudo: cannot write the task's stdout: %s\n", strerror (errno));
        return CLI_EXIT_INTERNAL;
    }
    if (r->stderr_data.size)
        fwrite (r->stderr_data.data, 1, r->stderr_data.size, err_out);
    bool at_line_start = !r->stderr_data.size
                         || r->stderr_data.data[r->stderr_data.size - 1] == '\n';
    return cli_print_task_notes (record, err_out, quiet, at_line_start);
}

bool
cli_use_color (int fd)
{
    const char *no_color = getenv ("NO_COLOR");
    const char *term = getenv ("TERM");
    if (no_color)               /* https://no-color.org: set at all, even empty */
        return false;
    if (term && strcmp (term, "dumb") == 0)
        return false;
    return isatty (fd) == 1;
}

const char *
cli_status_color (proto_status_t status)
{
    switch (status) {
        case PROTO_STATUS_SUCCEEDED:        return "\033[32m";      /* green */
        case PROTO_STATUS_RUNNING:
        case PROTO_STATUS_DISPATCHED:       return "\033[36m";      /* cyan */
        case PROTO_STATUS_QUEUED:           return "\033[2m";       /* dim */
        case PROTO_STATUS_TIMED_OUT:
        case PROTO_STATUS_KILLED:
        case PROTO_STATUS_MEMORY_LIMIT:
        case PROTO_STATUS_OUTPUT_LIMIT:
        case PROTO_STATUS_CANCELLED:        return "\033[33m";      /* yellow */
        case PROTO_STATUS_FAILED:
        case PROTO_STATUS_REJECTED:
        case PROTO_STATUS_LOST:
        case PROTO_STATUS_INTERNAL_ERROR:   return "\033[31m";      /* red */
        default:                            return "";
    }
}

/*  ---------------------------------------------------------------------
    Summary                                                                */

static void
s_print_field (FILE *out, const char *label, const char *value)
{
    fprintf (out, "%-10s %s\n", label, value);
}

static void
s_print_stream (FILE *out, const char *name, proto_bytes_t data, bool truncated)
{
    char size[64];
    cli_format_bytes (size, sizeof size, data.size);
    fprintf (out, "--- %s (%s%s) ---\n", name, size, truncated ? ", truncated" : "");
    if (!data.size)
        return;
    if (!utf8_is_text (data.data, data.size)) {
        fprintf (out, "(not text: use --json for the exact bytes, in %s_b64)\n", name);
        return;
    }
    fwrite (data.data, 1, data.size, out);
    if (data.data[data.size - 1] != '\n')
        fputc ('\n', out);
}

static void
s_describe_limits (char *buf, size_t size, const proto_limits_t *l)
{
    char t[64];
    buf[0] = '\0';
    const char *sep = "";
    if (l->wall_ms) {
        cli_format_ms (t, sizeof t, l->wall_ms);
        s_append (buf, size, "%swall %s", sep, t);
        sep = ", ";
    }
    if (l->cpu_ms) {
        cli_format_ms (t, sizeof t, l->cpu_ms);
        s_append (buf, size, "%scpu %s", sep, t);
        sep = ", ";
    }
    if (l->memory_bytes) {
        cli_format_bytes (t, sizeof t, l->memory_bytes);
        s_append (buf, size, "%smemory %s", sep, t);
        sep = ", ";
    }
    if (l->processes) {
        s_append (buf, size, "%sprocesses %" PRIu64, sep, l->processes);
        sep = ", ";
    }
    if (l->output_bytes) {
        cli_format_bytes (t, sizeof t, l->output_bytes);
        s_append (buf, size, "%soutput %s", sep, t);
        sep = ", ";
    }
    if (l->file_bytes) {
        cli_format_bytes (t, sizeof t, l->file_bytes);
        s_append (buf, size, "%sfile size %s", sep, t);
        sep = ", ";
    }
    if (l->network >= 0)
        s_append (buf, size, "%snetwork %s", sep, l->network ? "on" : "off");
}

void
cli_print_summary (FILE *out, const proto_record_t *record)
{
    const proto_result_t *r = &record->result;
    const proto_task_t *t = &record->task;
    bool done = proto_status_is_terminal (record->status);
    char line[2048], a[64], b[64], c[64];

    snprintf (line, sizeof line, "%s", record->id ? record->id : "?");
    cli_clean (line);
    s_print_field (out, "id:", line);

    snprintf (line, sizeof line, "%s", proto_status_name (record->status));
    if (done && r->has_exit_code)
        s_append (line, sizeof line, ", exit code %" PRId64, r->exit_code);
    if (done && r->has_signal) {
        s_signal_name (a, sizeof a, r->signal);
        s_append (line, sizeof line, ", signal %" PRId64 " (%s)", r->signal, a);
    }
    s_print_field (out, "status:", line);

    if (t->lang != PROTO_LANG_NONE) {
        cli_format_bytes (a, sizeof a, t->code.size);
        snprintf (line, sizeof line, "%s code, %s", proto_lang_name (t->lang), a);
    }
    else
        cli_format_argv (line, sizeof line, t->argv, t->argc);
    s_print_field (out, "task:", line);
    s_describe_limits (line, sizeof line, &t->limits);
    if (*line)
        s_print_field (out, "limits:", line);

    if (record->worker) {
        snprintf (line, sizeof line, "%s (attempt %" PRIu32 ")", record->worker, record->attempt);
        cli_clean (line);
        s_print_field (out, "worker:", line);
    }
    cli_format_time (line, sizeof line, record->created_ms);
    s_print_field (out, "created:", line);
    if (record->dispatched_ms > 0 && record->created_ms > 0) {
        cli_format_ms (a, sizeof a, (uint64_t) (record->dispatched_ms > record->created_ms
                                                ? record->dispatched_ms - record->created_ms : 0));
        snprintf (line, sizeof line, "%s in the queue", a);
        if (record->started_ms > 0) {
            cli_format_ms (b, sizeof b, (uint64_t) (record->started_ms > record->dispatched_ms
                                                    ? record->started_ms - record->dispatched_ms : 0));
            s_append (line, sizeof line, ", %s to start", b);
        }
        s_print_field (out, "waited:", line);
    }
    if (done) {
        cli_format_ms (a, sizeof a, r->wall_ms);
        cli_format_ms (b, sizeof b, r->cpu_ms);
        cli_format_bytes (c, sizeof c, r->max_rss_kb * 1024);
        snprintf (line, sizeof line, "%s wall, %s cpu, max rss %s", a, b, c);
        s_print_field (out, "ran:", line);
        if (r->error && *r->error) {
            snprintf (line, sizeof line, "%s", r->error);
            cli_clean (line);
            s_print_field (out, "error:", line);
        }
        if (r->file_count) {
            line[0] = '\0';
            for (size_t i = 0; i < r->file_count; i++) {
                cli_format_bytes (a, sizeof a, r->files[i].content.size);
                s_append (line, sizeof line, "%s%s (%s)", i ? ", " : "", r->files[i].path, a);
            }
            cli_clean (line);
            s_print_field (out, "files:", line);
        }
        if (r->file_ref_count) {
            line[0] = '\0';
            for (size_t i = 0; i < r->file_ref_count; i++)
                s_append (line, sizeof line, "%s%s", i ? ", " : "", r->file_refs[i]);
            cli_clean (line);
            s_print_field (out, "file refs:", line);
        }
        s_print_stream (out, "stdout", r->stdout_data, r->stdout_truncated);
        s_print_stream (out, "stderr", r->stderr_data, r->stderr_truncated);
    }
    fflush (out);
}

void
cli_error (const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (buf, sizeof buf, fmt, ap);
    va_end (ap);
    cli_clean (buf);
    fflush (stdout);
    fprintf (stderr, "cleudo: %s\n", buf);
    fflush (stderr);
}
