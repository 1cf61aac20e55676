/*  cli_help.c - the command table and every help text.

    The help is the manual until there is a man page: it states the units,
    where the token comes from, and what each exit status means.           */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#define GLOBAL_HELP \
"Global options (before or after the command):\n" \
"  --endpoint URL         the orchestrator's submit socket, tcp://HOST:PORT or\n" \
"                         ipc://PATH (env CLEUDO_ENDPOINT; default " CLI_DEFAULT_ENDPOINT ")\n" \
"  --token TOKEN          the API token. Without it cleudo uses, in order:\n" \
"                         CLEUDO_TOKEN (the token itself), the file\n" \
"                         $ORCH_DATA_DIR/token when ORCH_DATA_DIR is set, the file\n" \
"                         " CLI_TOKEN_FILE_DEFAULT ". Prefer CLEUDO_TOKEN: other users can\n" \
"                         see --token in ps. (make run prints the token.)\n" \
"  --connect-timeout DUR  how long to wait for the orchestrator's first answer\n" \
"                         (env CLEUDO_CONNECT_TIMEOUT; default 5s)\n" \
"  -h, --help             show this help\n"

#define UNITS_HELP \
"Durations (DUR): a bare number is seconds; or 500ms, 90s, 2m, 1h.\n" \
"Sizes (SIZE): a bare number is bytes; or 64K, 256M, 2G (powers of 1024).\n"

#define EXIT_HELP_TASK \
"Exit status:\n" \
"  the task's exit code   when the task ran to its end (succeeded, failed)\n" \
"  124                    the task timed out (status timed_out, like timeout(1))\n" \
"  128+N                  the task was killed by signal N (status killed)\n" \
"  137                    the task exceeded its memory limit (memory_limit)\n" \
"  125                    the task did not run to completion: rejected,\n" \
"                         cancelled, lost, output_limit, internal_error\n" \
"                         (run says why on stderr; get and wait show it)\n" \
EXIT_HELP_CLEUDO

#define EXIT_HELP_COLLIDE \
"  A task's own exit code can be one of cleudo's too: --json tells them apart.\n"

#define EXIT_HELP_QUEUE_FULL \
"  7                      the orchestrator's queue is full (ORCH_MAX_QUEUED\n" \
"                         tasks wait); nothing was queued: retry later\n"

#define EXIT_HELP_CLEUDO_BASE \
"  2                      usage error: unknown option, bad value, unreadable\n" \
"                         file, no token\n" \
"  3                      the orchestrator refused the request (wrong token,\n" \
"                         no such task, invalid task, cancel of a finished task)\n" \
"  4                      the orchestrator cannot be reached or stopped answering\n" \
"  5                      internal error (a reply cleudo cannot read, out of memory)\n"

#define EXIT_HELP_CLEUDO EXIT_HELP_CLEUDO_BASE EXIT_HELP_QUEUE_FULL

#define EXIT_HELP_PLAIN \
"Exit status:\n" \
"  0                      success\n" \
EXIT_HELP_CLEUDO

#define TASK_OPTIONS_HELP \
"Task options:\n" \
"  --lang LANG            run FILE as code: sh, bash or python3\n" \
"  --stdin FILE           feed FILE to the task's standard input (- : cleudo's\n" \
"                         own stdin). Without it the task's stdin is empty.\n" \
"  -e, --env KEY=VALUE    set a variable in the task's environment (repeatable;\n" \
"                         the task gets only these plus PATH, HOME, LANG)\n" \
"  --file LOCAL[:REMOTE]  copy the local file LOCAL into the task's workspace as\n" \
"                         REMOTE (default: LOCAL's base name). REMOTE is relative,\n" \
"                         without '..'; the split is at the last ':'. Repeatable.\n" \
"  --collect PATH         send the workspace file PATH back with the result\n" \
"                         (repeatable; see --json for the contents)\n" \
"  --network              ask for network access (if the worker allows it)\n" \
"  --key KEY              idempotency key: submitting again with the same KEY\n" \
"                         gives the task of the first submission instead of a\n" \
"                         new one (safe retries after a timeout or a crash)\n" \
"\n" \
"Limits (those not given take the worker's defaults; values above the\n" \
"worker's maxima are lowered to them and the result's error says so):\n" \
"  --timeout DUR          wall-clock time\n" \
"  --cpu DUR              CPU time\n" \
"  --memory SIZE          memory\n" \
"  --processes N          number of processes\n" \
"  --output SIZE          bytes kept of each of stdout and stderr\n" \
"  --file-size SIZE       largest file the task may write\n"

static const char s_run_help[] =
"usage: cleudo run [OPTIONS] [--] PROGRAM [ARG...]\n"
"       cleudo run [OPTIONS] --lang LANG FILE\n"
"\n"
"Run a task in a sandbox and wait for it to finish. Its stdout and stderr are\n"
"written to cleudo's stdout and stderr byte for byte as they are produced, and\n"
"cleudo exits with the task's exit code. Ctrl-C cancels the task (exit 130).\n"
"While the task waits for a worker, a progress line is shown on stderr when\n"
"stderr is a terminal.\n"
"\n"
"PROGRAM is looked up in the sandbox's PATH. The first argument that is not an\n"
"option (or everything after --) starts the task's command line, which is\n"
"passed on untouched: options for cleudo go before it. With --lang, FILE is\n"
"the program text (- reads it from standard input).\n"
"\n"
TASK_OPTIONS_HELP
"\n"
"Output:\n"
"  --json                 print the task record as one JSON object on stdout\n"
"                         instead of the output (exit status as below)\n"
"  -q, --quiet            no notes from cleudo on stderr (truncated output, timed\n"
"                         out, killed, memory, restarted); errors are still shown\n"
"  -d, --detach           do not wait: print the task's id, like cleudo submit\n"
"\n"
UNITS_HELP
"\n"
GLOBAL_HELP
"\n"
EXIT_HELP_TASK
"  130                    Ctrl-C: the task was cancelled\n"
EXIT_HELP_COLLIDE
"\n"
"Examples:\n"
"  cleudo run -- sh -c 'echo out; echo err >&2; exit 3'     # exits 3\n"
"  cleudo run --timeout 2s --memory 256M -- python3 -c 'print(1)'\n"
"  cleudo run --lang python3 script.py\n"
"  echo 'print(6*7)' | cleudo run --lang python3 -\n"
"  cleudo run --file data.csv --collect out.txt --json -- sh -c 'wc -l data.csv > out.txt'\n";

static const char s_submit_help[] =
"usage: cleudo submit [OPTIONS] [--] PROGRAM [ARG...]\n"
"       cleudo submit [OPTIONS] --lang LANG FILE\n"
"\n"
"Queue a task and print its id as soon as the orchestrator has stored it;\n"
"do not wait for it. Follow it with 'cleudo wait ID' or 'cleudo get ID'.\n"
"The options are those of 'cleudo run'.\n"
"\n"
TASK_OPTIONS_HELP
"\n"
"Output:\n"
"  --json                 print {\"id\": ID} instead of the bare id\n"
"  -q, --quiet            accepted for symmetry with run (submit prints only the id)\n"
"\n"
UNITS_HELP
"\n"
GLOBAL_HELP
"\n"
EXIT_HELP_PLAIN;

static const char s_get_help[] =
"usage: cleudo get [OPTIONS] ID\n"
"\n"
"Show a task: its status, exit code or signal, timings, error, and its\n"
"stdout and stderr (text only; --json gives exact bytes). Does not wait.\n"
"\n"
"Options:\n"
"  --json                 print the task record as one JSON object (the same\n"
"                         shape as the HTTP API's GET /api/tasks/ID)\n"
"\n"
GLOBAL_HELP
"\n"
"Exit status: 0 when the task was shown, whatever its status.\n"
EXIT_HELP_CLEUDO;

static const char s_wait_help[] =
"usage: cleudo wait [OPTIONS] ID\n"
"\n"
"Wait until a task finishes, show it as 'cleudo get' does, and exit like\n"
"'cleudo run' would have for it.\n"
"\n"
"Options:\n"
"  --timeout DUR          give up after DUR (exit 6); default: wait as long as\n"
"                         it takes\n"
"  --json                 print the task record as one JSON object\n"
"\n"
UNITS_HELP
"\n"
GLOBAL_HELP
"\n"
EXIT_HELP_TASK
"  6                      --timeout passed before the task finished\n"
EXIT_HELP_COLLIDE;

static const char s_cancel_help[] =
"usage: cleudo cancel [OPTIONS] ID\n"
"\n"
"Cancel a task. A task that has not started yet is cancelled at once; a\n"
"running one is killed by its worker (with its whole process group) and ends\n"
"with status cancelled, keeping the output it wrote so far.\n"
"\n"
"Options:\n"
"  --wait                 wait until the task has ended before returning\n"
"  --json                 print the task record as one JSON object\n"
"\n"
GLOBAL_HELP
"\n"
"Exit status: 0 when the cancel was accepted (the task is cancelled, or being\n"
"killed). A task that has finished already cannot be cancelled: exit 3.\n"
EXIT_HELP_CLEUDO;

static const char s_logs_help[] =
"usage: cleudo logs [OPTIONS] ID\n"
"\n"
"Write a task's stdout and stderr, byte for byte, to cleudo's stdout and\n"
"stderr. Without -f: what the orchestrator has stored (a task that has not\n"
"finished has none yet). With -f: follow the output as it is produced until\n"
"the task ends; Ctrl-C stops following (the task goes on).\n"
"\n"
"Options:\n"
"  -f, --follow           follow a running task's output until it ends\n"
"  --json                 print the task record as one JSON object (stdout,\n"
"                         stderr and their _b64 twins hold the output)\n"
"  -q, --quiet            no notes on stderr\n"
"\n"
GLOBAL_HELP
"\n"
"Exit status: 0 when the output was shown, whatever the task's status.\n"
EXIT_HELP_CLEUDO
"  130                    Ctrl-C while following\n";

static const char s_ls_help[] =
"usage: cleudo ls [OPTIONS]\n"
"\n"
"List tasks, newest first: id, status, exit code (or signal), when it was\n"
"created, how long it ran, and what it runs. The status is in colour when\n"
"stdout is a terminal (not with NO_COLOR set).\n"
"\n"
"Options:\n"
"  -s, --status STATUS    only tasks in this status: queued, dispatched, running,\n"
"                         succeeded, failed, timed_out, killed, memory_limit,\n"
"                         output_limit, cancelled, rejected, lost, internal_error\n"
"  -n, --limit N          at most N tasks (default: the orchestrator's, 50; it\n"
"                         caps N at 1000)\n"
"  --json                 print {\"items\": [...]}, each item a task as in the HTTP\n"
"                         API's list (GET /api/tasks)\n"
"\n"
GLOBAL_HELP
"\n"
EXIT_HELP_PLAIN;

static const char s_workers_help[] =
"usage: cleudo workers [OPTIONS]\n"
"\n"
"List the connected sandboxes (workers): their slots, how many are busy, their\n"
"version, when they were last heard from, tasks done, the tasks they run and\n"
"the isolation layers they enforce.\n"
"\n"
"Options:\n"
"  --json                 print {\"items\": [...]} with the keys of the HTTP API's\n"
"                         GET /api/workers: id, slots, busy, free, version,\n"
"                         last_heartbeat_ms, tasks_done, running, isolation\n"
"\n"
GLOBAL_HELP
"\n"
EXIT_HELP_PLAIN;

static const char s_rerun_help[] =
"usage: cleudo rerun [OPTIONS] ID\n"
"\n"
"Run task ID again, as it was submitted (argv or code, stdin, environment,\n"
"files, limits), under a new id; print the new id.\n"
"\n"
"Options:\n"
"  --wait                 wait for the new task and show it like cleudo wait\n"
"  -f, --follow           follow the new task's output like cleudo run (its id\n"
"                         goes to stderr); Ctrl-C cancels it\n"
"  --json                 print {\"id\": NEW, \"rerun_of\": ID}; with --wait or\n"
"                         --follow, the new task's record\n"
"  -q, --quiet            no notes on stderr\n"
"\n"
GLOBAL_HELP
"\n"
"Exit status: 0 when the task was queued again; with --wait or --follow, as\n"
"for cleudo run.\n"
EXIT_HELP_CLEUDO;

static const char s_files_help[] =
"usage: cleudo files [OPTIONS] ID [PATH]\n"
"\n"
"Save the files task ID collected (--collect) under DIR, with their paths;\n"
"with PATH, only that one. Names are checked (relative, no '..') and created\n"
"inside DIR without following symbolic links; an existing file is never\n"
"overwritten unless --force is given.\n"
"\n"
"Options:\n"
"  -o, --output DIR       where to save (default: the current directory;\n"
"                         created if missing). - writes PATH to stdout\n"
"  --force                replace files that exist already\n"
"  --json                 print {\"dir\": DIR, \"items\": [{\"path\", \"bytes\",\n"
"                         \"saved\"}]} instead of one line per file\n"
"\n"
GLOBAL_HELP
"\n"
"Exit status:\n"
"  0                      every file was saved\n"
"  8                      a file could not be saved here (unsafe name, exists,\n"
"                         a symbolic link in the way, I/O error); the others were\n"
EXIT_HELP_CLEUDO_BASE
"  3                      also: the task has not finished, or has no such PATH\n";

static const char s_help_help[] =
"usage: cleudo help [COMMAND]\n"
"\n"
"Show the list of commands, or the help of one command (the same as\n"
"'cleudo COMMAND --help').\n";

static const cli_command_t s_commands[] = {
    { "run", cli_cmd_run, "run a task and wait: its output and exit code become cleudo's",
      s_run_help },
    { "submit", cli_cmd_submit, "queue a task and print its id at once", s_submit_help },
    { "get", cli_cmd_get, "show a task: status, exit code, timings, output", s_get_help },
    { "wait", cli_cmd_wait, "wait until a task finishes, then show it like get", s_wait_help },
    { "cancel", cli_cmd_cancel, "cancel a task (kill it if it runs)", s_cancel_help },
    { "logs", cli_cmd_logs, "print a task's output (-f: follow it live)", s_logs_help },
    { "ls", cli_cmd_ls, "list tasks (--status S, --limit N)", s_ls_help },
    { "rerun", cli_cmd_rerun, "run a task again under a new id", s_rerun_help },
    { "files", cli_cmd_files, "save the files a task collected", s_files_help },
    { "workers", cli_cmd_workers, "list the connected sandboxes", s_workers_help },
    { "help", cli_cmd_help, "show help for cleudo or for one command", s_help_help },
};
#define N_COMMANDS (sizeof s_commands / sizeof s_commands[0])

const cli_command_t *
cli_command_find (const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp (s_commands[i].name, name) == 0)
            return &s_commands[i];
    return NULL;
}

void
cli_help_print_main (void)
{
    printf ("usage: cleudo [GLOBAL OPTIONS] COMMAND [ARGS]\n"
            "\n"
            "Run code in the CleudoCode sandbox: submit tasks to the orchestrator and\n"
            "get their results.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        printf ("  %-8s %s\n", s_commands[i].name, s_commands[i].summary);
    printf ("\n"
            "Run 'cleudo help COMMAND' (or 'cleudo COMMAND --help') for its options.\n"
            "\n"
            GLOBAL_HELP
            "  --version              print cleudo's version\n"
            "\n"
            "Exit status:\n"
            "  run and wait exit with the task's exit code, 124 when it timed out,\n"
            "  128+N when signal N killed it, 137 for its memory limit, 125 when it\n"
            "  did not run to completion (see 'cleudo help run'). Otherwise:\n"
            "  0                      success\n"
            EXIT_HELP_CLEUDO_BASE
            "  6                      wait --timeout passed before the task finished\n"
            EXIT_HELP_QUEUE_FULL
            "  8                      files: a file could not be saved locally\n"
            "  130                    Ctrl-C (run cancels its task)\n"
            "\n"
            "Environment: CLEUDO_ENDPOINT, CLEUDO_TOKEN, CLEUDO_CONNECT_TIMEOUT,\n"
            "ORCH_DATA_DIR, NO_COLOR. See also man cleudo.\n");
}

int
cli_help_print (const char *name)
{
    const cli_command_t *cmd = cli_command_find (name);
    if (!cmd)
        return -1;
    fputs (cmd->help, stdout);
    return 0;
}
