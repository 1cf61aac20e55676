/*  main.c - cleudo: global options, then one subcommand.

    cleudo [GLOBAL OPTIONS] COMMAND [ARGS]; the command table and all help
    texts are in cli_help.c, each command in its own cli_cmd_*.c.          */
#include "cli.h"
#include "cli_args.h"

#include <stdio.h>
#include <string.h>

static const cli_opt_t s_main_opts[] = {
    CLI_GLOBAL_OPTS,
    { "version", 0, false, CLI_OPT_VERSION },
};

int
main (int argc, char **argv)
{
    cli_global_t global;
    char err[CLI_ERR_MAX];
    if (cli_global_init (&global, err, sizeof err)) {
        cli_error ("%s", err);
        return CLI_EXIT_USAGE;
    }
    cli_parser_t p;
    cli_parser_init (&p, NULL, s_main_opts, sizeof s_main_opts / sizeof s_main_opts[0], false,
                     argc, argv);
    int id;
    int rc = CLI_EXIT_USAGE;
    const char *name = NULL;
    while (!name && (id = cli_parser_next (&p)) != CLI_DONE) {
        switch (id) {
            case CLI_BAD:
                cli_error ("%s", p.err);
                goto done;
            case CLI_ARG:
                name = p.value;
                break;
            case CLI_OPT_HELP:
                cli_help_print_main ();
                rc = CLI_EXIT_OK;
                goto done;
            case CLI_OPT_VERSION:
                printf ("cleudo %s (protocol v%d)\n", CLI_VERSION, PROTO_VERSION);
                rc = CLI_EXIT_OK;
                goto done;
            default:
                if (cli_global_option (&global, id, p.name, p.value, err, sizeof err)) {
                    cli_error ("%s", err);
                    goto done;
                }
        }
    }
    if (!name) {
        cli_error ("no command given: try cleudo run -- echo hi (see cleudo help)");
        goto done;
    }
    const cli_command_t *cmd = cli_command_find (name);
    if (!cmd) {
        cli_error ("unknown command '%s' (see cleudo help)", name);
        goto done;
    }
    int at = p.at - 1;          /* the command's own argv[0] */
    rc = cmd->fn (&global, argc - at, argv + at);
done:
    cli_global_free (&global);
    return rc;
}
