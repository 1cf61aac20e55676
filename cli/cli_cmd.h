/*  cli_cmd.h - what the commands about one task ID share: their option
    parsing (one ID, --json, and a few flags), the token and the
    connection. Each command lists the options it takes; the parser fills
    the ones it meets.
*/
#ifndef CLI_CMD_H_INCLUDED
#define CLI_CMD_H_INCLUDED

#include "cli_args.h"
#include "cli_client.h"

enum {
    CLI_O_JSON = CLI_OPT_COMMAND_,
    CLI_O_TIMEOUT,
    CLI_O_WAIT,
    CLI_O_FOLLOW,
    CLI_O_QUIET
};

typedef struct {
    const char *id;                     /* the task id */
    bool json;                          /* --json */
    bool wait;                          /* --wait */
    bool follow;                        /* -f, --follow */
    bool quiet;                         /* -q, --quiet */
    uint64_t timeout_ms;                /* --timeout, 0: none */
} cli_id_args_t;

/*  Parse "CMD [OPTIONS] ID" with opts, find the token and connect.
    Returns -1 to go on (with *client connected), or the exit status to
    leave with (0 after --help; message printed otherwise).                 */
int cli_id_command_start (cli_global_t *global, int argc, char **argv, const cli_opt_t *opts,
                          size_t count, cli_id_args_t *args, cli_client_t **client);

/*  Connect for a command without an ID (token found, message printed);
    -1 to go on, or the exit status.                                        */
int cli_command_connect (cli_global_t *global, cli_client_t **client);

#endif
