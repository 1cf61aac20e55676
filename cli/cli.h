/*  cli.h - cleudo, the command-line task submitter: what every part shares.

    cleudo talks to the orchestrator's submit socket (ROUTER) through one
    DEALER socket (cli_client). Each subcommand lives in its own file
    (cli_cmd_*.c) and is listed once in the command table (cli_help.c),
    which also holds its help text. Option parsing is cli_args, printing of
    records (human and JSON) is cli_output / cli_json (the JSON itself is common/record_to_json).

    Exit status is part of the interface (scripts rely on it); the table
    below is printed by "cleudo help" and must stay in step with it.
*/
#ifndef CLI_H_INCLUDED
#define CLI_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLI_VERSION "0.1"

/*  Exit codes of cleudo itself. run and wait also pass the task's own exit
    code through (0..255), so these overlap with task codes by nature; the
    --json record tells them apart.                                         */
typedef enum {
    CLI_EXIT_OK             = 0,
    CLI_EXIT_USAGE          = 2,    /* bad option/value, unreadable file, no token */
    CLI_EXIT_REFUSED        = 3,    /* the orchestrator answered with an error */
    CLI_EXIT_UNREACHABLE    = 4,    /* no answer from the orchestrator */
    CLI_EXIT_INTERNAL       = 5,    /* unexpected reply, out of memory */
    CLI_EXIT_WAIT_TIMEOUT   = 6,    /* wait --timeout passed, task not finished */
    CLI_EXIT_QUEUE_FULL     = 7,    /* the orchestrator's queue is full: retry later */
    CLI_EXIT_LOCAL          = 8,    /* files: a file could not be written here
                                       (unsafe name, exists, I/O error) */
    CLI_EXIT_TASK_TIMEOUT   = 124,  /* task timed_out (like timeout(1)) */
    CLI_EXIT_TASK_ABORTED   = 125,  /* rejected, cancelled, lost, output_limit,
                                       internal_error */
    CLI_EXIT_SIGNAL_BASE    = 128,  /* + N: killed by signal N */
    CLI_EXIT_INTERRUPTED    = 130,  /* Ctrl-C (128 + SIGINT): run cancelled
                                       the task, logs -f stopped following */
    CLI_EXIT_MEMORY_LIMIT   = 137   /* memory_limit (128 + SIGKILL) */
} cli_exit_t;

#define CLI_DEFAULT_ENDPOINT        "tcp://127.0.0.1:5555"
#define CLI_DEFAULT_CONNECT_MS      5000
#define CLI_TOKEN_FILE_DEFAULT      "./data/token"

/*  Options every command accepts (before or after the command name).      */
typedef struct {
    const char *endpoint;               /* --endpoint, CLEUDO_ENDPOINT */
    const char *token;                  /* --token, CLEUDO_TOKEN, or a file */
    const char *token_source;           /* where token came from, for messages */
    char *token_buf;                    /* owned copy when read from a file */
    int64_t connect_timeout_ms;         /* first answer must come within this */
} cli_global_t;

/*  One subcommand: fn gets argv[0] == its name.                            */
typedef int (cli_command_fn) (cli_global_t *global, int argc, char **argv);

typedef struct {
    const char *name;                   /* "run" */
    cli_command_fn *fn;                 /* implementation */
    const char *summary;                /* one line for "cleudo help" */
    const char *help;                   /* full text for "cleudo help NAME" */
} cli_command_t;

/*  cli_help.c                                                              */
const cli_command_t *cli_command_find (const char *name);
void cli_help_print_main (void);
/*  Prints the help of name to stdout; -1 if there is no such command.      */
int cli_help_print (const char *name);

/*  The subcommands.                                                        */
int cli_cmd_run (cli_global_t *global, int argc, char **argv);
int cli_cmd_submit (cli_global_t *global, int argc, char **argv);
int cli_cmd_get (cli_global_t *global, int argc, char **argv);
int cli_cmd_wait (cli_global_t *global, int argc, char **argv);
int cli_cmd_cancel (cli_global_t *global, int argc, char **argv);
int cli_cmd_rerun (cli_global_t *global, int argc, char **argv);
int cli_cmd_logs (cli_global_t *global, int argc, char **argv);
int cli_cmd_ls (cli_global_t *global, int argc, char **argv);
int cli_cmd_workers (cli_global_t *global, int argc, char **argv);
int cli_cmd_files (cli_global_t *global, int argc, char **argv);
int cli_cmd_help (cli_global_t *global, int argc, char **argv);

/*  Print "cleudo: ..." plus a newline to stderr.                           */
void cli_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

#endif
