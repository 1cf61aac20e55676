/*  cli_task_spec.h - the task options of run and submit.

    --lang, --stdin, -e/--env, --file, --collect, the limits, --json and
    --quiet become a proto_task_t ready for proto_encode (); the task's argv
    (everything from the first non-option on, or after --) is copied as
    pointers, untouched. Local files are read here, so every problem with
    them is a usage error before anything is sent.
*/
#ifndef CLI_TASK_SPEC_H_INCLUDED
#define CLI_TASK_SPEC_H_INCLUDED

#include "cli_args.h"

/*  run / submit options, parsed into a task.                               */
typedef struct {
    proto_task_t task;                  /* the task to submit; views into below */
    bool json;                          /* --json */
    bool quiet;                         /* --quiet */
    bool detach;                        /* run --detach / -d: submit only */
    bool help;                          /* --help was asked for */
    const char *key;                    /* --key: idempotency key, or NULL */
    const char *code_path;              /* FILE of --lang, "-" for stdin */
    const char *stdin_path;             /* --stdin FILE */
    uint8_t *code_buf;                  /* owned: code bytes */
    uint8_t *stdin_buf;                 /* owned: stdin bytes */
    char **env_keys;                    /* owned: keys of task.env */
    size_t env_alloc;                   /* allocated entries of env / keys */
    uint8_t **file_bufs;                /* owned: contents of task.files */
    char **file_names;                  /* owned: remote names of task.files */
    size_t file_alloc;                  /* allocated entries of files / bufs / names */
    size_t collect_alloc;               /* allocated entries of task.collect */
} cli_task_spec_t;

/*  Parse run/submit arguments (argv[0] is the command name). Global options
    are applied to global as they come. Returns 0; 1 when --help was given
    (nothing else checked); -1 with err filled (a usage error). The spec
    must be freed with cli_task_spec_free () in every case.                 */
int cli_task_spec_parse (cli_task_spec_t *self, cli_global_t *global, int argc, char **argv,
                         char *err, size_t err_size);
void cli_task_spec_free (cli_task_spec_t *self);

#endif
