/*  cli_args.h - command-line parsing for cleudo.

    A small option parser of our own (not getopt): it knows which command it
    parses for, so every error names the option, the value and the command
    ("unknown option '--x' for 'run' (see cleudo help run)"), and it can stop
    at the first non-option argument so that a task's argv reaches the task
    untouched, dashes and all.

    On top of it: the options every command shares (cli_global_t), the unit
    parsers for durations and sizes, and reading whole files. The task
    options of run / submit are in cli_task_spec.h.
*/
#ifndef CLI_ARGS_H_INCLUDED
#define CLI_ARGS_H_INCLUDED

#include "cli.h"
#include "proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLI_ERR_MAX 512

/*  One option: "--name", optionally "-c", with or without a value.         */
typedef struct {
    const char *name;                   /* long name without dashes */
    char short_name;                    /* 0: none */
    bool has_value;                     /* takes a value */
    int id;                             /* returned by cli_parser_next */
} cli_opt_t;

/*  Ids of the options every command accepts; commands use ids >= 100.     */
enum {
    CLI_OPT_HELP = 1,
    CLI_OPT_ENDPOINT,
    CLI_OPT_TOKEN,
    CLI_OPT_CONNECT_TIMEOUT,
    CLI_OPT_VERSION,
    CLI_OPT_COMMAND_ = 100
};

/*  The global options as table entries, to splice into a command's table.  */
#define CLI_GLOBAL_OPTS \
    { "help", 'h', false, CLI_OPT_HELP }, \
    { "endpoint", 0, true, CLI_OPT_ENDPOINT }, \
    { "token", 0, true, CLI_OPT_TOKEN }, \
    { "connect-timeout", 0, true, CLI_OPT_CONNECT_TIMEOUT }

/*  cli_parser_next results that are not option ids.                       */
#define CLI_ARG   (-1)                  /* a positional argument in value */
#define CLI_DONE  (-2)                  /* no more arguments */
#define CLI_BAD   (-3)                  /* error, message in err */

typedef struct {
    const char *cmd;                    /* command name, for messages */
    const cli_opt_t *opts;              /* option table */
    size_t count;                       /* entries in opts */
    bool permute;                       /* options may follow positionals */
    int argc;                           /* arguments, argv[0] is the command */
    char **argv;
    int at;                             /* next argument to look at */
    bool rest;                          /* all further args are positional */
    bool saw_dashdash;                  /* "--" was given */
    const char *value;                  /* value of the last option / arg */
    char name[64];                      /* last option as written: "--timeout" */
    char err[CLI_ERR_MAX];              /* why CLI_BAD was returned */
} cli_parser_t;

void cli_parser_init (cli_parser_t *self, const char *cmd, const cli_opt_t *opts,
                      size_t count, bool permute, int argc, char **argv);
/*  Next option id, CLI_ARG, CLI_DONE or CLI_BAD. Without permute, the first
    positional argument and everything after it come back as CLI_ARG.      */
int cli_parser_next (cli_parser_t *self);

/*  Global options: defaults from the environment (CLEUDO_ENDPOINT,
    CLEUDO_CONNECT_TIMEOUT), then one parsed option at a time.               */
int cli_global_init (cli_global_t *self, char *err, size_t err_size);
/*  Apply option id (one of CLI_OPT_ENDPOINT/TOKEN/CONNECT_TIMEOUT) with its
    value; 0 or -1 with err filled.                                          */
int cli_global_option (cli_global_t *self, int id, const char *name, const char *value,
                       char *err, size_t err_size);
/*  Find the token when none was given on the command line, in this order:
    CLEUDO_TOKEN, $ORCH_DATA_DIR/token (if ORCH_DATA_DIR is set),
    ./data/token. 0, or -1 with err saying what to do.                      */
int cli_global_find_token (cli_global_t *self, char *err, size_t err_size);
void cli_global_free (cli_global_t *self);

/*  Units. Durations: a bare number is seconds; ms s m h (and d) accepted.
    Sizes: a bare number is bytes; K M G T (powers of 1024). Both must be
    positive and below proto's "absurd" bounds. 0 or -1 with err naming the
    option and the value.                                                   */
int cli_parse_duration (const char *option, const char *text, uint64_t *ms,
                        char *err, size_t err_size);
int cli_parse_size (const char *option, const char *text, uint64_t *bytes,
                    char *err, size_t err_size);
int cli_parse_count (const char *option, const char *text, uint64_t max, uint64_t *out,
                     char *err, size_t err_size);

/*  Read a whole file ("-": standard input), at most max bytes. The buffer
    is malloc'd (never NULL on success, even when empty).                   */
int cli_read_file (const char *what, const char *path, size_t max, uint8_t **data,
                   size_t *size, char *err, size_t err_size);

#endif
