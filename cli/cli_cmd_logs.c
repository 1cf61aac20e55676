/*  cli_cmd_logs.c - "cleudo logs [-f] ID" and "cleudo rerun ID".

    logs writes a task's stored stdout and stderr, byte for byte, each to
    its own descriptor; with -f it follows a task that has not finished
    (cli_stream) until it ends. Ctrl-C stops following (the task goes on).
    rerun asks for the same task again under a new id and prints that id;
    --wait / --follow then behave like wait / run for the new task.        */
#include "cli.h"
#include "cli_cmd.h"
#include "cli_interrupt.h"
#include "cli_json.h"
#include "cli_output.h"
#include "cli_stream.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const cli_opt_t s_logs_opts[] = {
    CLI_GLOBAL_OPTS,
    { "json", 0, false, CLI_O_JSON },
    { "follow", 'f', false, CLI_O_FOLLOW },
    { "quiet", 'q', false, CLI_O_QUIET },
};

static const cli_opt_t s_rerun_opts[] = {
    CLI_GLOBAL_OPTS,
    { "json", 0, false, CLI_O_JSON },
    { "wait", 0, false, CLI_O_WAIT },
    { "follow", 'f', false, CLI_O_FOLLOW },
    { "quiet", 'q', false, CLI_O_QUIET },
};

/*  The record's output, exactly, to stdout and stderr.                    */
static int
s_write_output (const proto_record_t *record)
{
    const proto_result_t *r = &record->result;
    if (cli_write_all (STDOUT_FILENO, r->stdout_data.data, r->stdout_data.size)
        || cli_write_all (STDERR_FILENO, r->stderr_data.data, r->stderr_data.size)) {
        cli_error ("cannot write the output of task %s", record->id);
        return CLI_EXIT_INTERNAL;
    }
    return 0;
}

static int
s_follow (cli_client_t *client, const cli_id_args_t *args)
{
    proto_msg_t *reply = NULL;
    bool at_line_start;
    cli_stream_opts_t opts = { STDOUT_FILENO, STDERR_FILENO, args->quiet, false };
    cli_interrupt_catch ();
    int rc = cli_stream_follow (client, args->id, &opts, &reply, &at_line_start);
    if (rc == CLI_STREAM_UNSUPPORTED) {
        rc = cli_client_wait (client, args->id, 0, &reply);
        if (rc == 0)
            rc = s_write_output (&reply->u.record);
    }
    cli_interrupt_release ();
    if (rc == CLI_EXIT_INTERRUPTED && !args->quiet)
        cli_error ("stopped following task %s (it goes on; cleudo logs -f %s follows it "
                   "again)", args->id, args->id);
    proto_msg_destroy (&reply);
    return rc;
}

int
cli_cmd_logs (cli_global_t *global, int argc, char **argv)
{
    cli_id_args_t args;
    cli_client_t *client = NULL;
    proto_msg_t *reply = NULL;
    int rc = cli_id_command_start (global, argc, argv, s_logs_opts,
                                   sizeof s_logs_opts / sizeof s_logs_opts[0], &args, &client);
    if (rc >= 0)
        return rc;
    if (args.json && args.follow) {
        cli_error ("logs: --json and --follow do not go together (--json prints the "
                   "stored record; see cleudo help logs)");
        cli_client_destroy (&client);
        return CLI_EXIT_USAGE;
    }
    /*  A get first: it says whether the task exists, and a finished task
        needs nothing more, with or without -f.                             */
    rc = cli_client_get (client, args.id, &reply);
    if (rc == 0) {
        const proto_record_t *record = &reply->u.record;
        bool done = proto_status_is_terminal (record->status);
        if (args.json)
            rc = cli_json_print_record (stdout, record) ? CLI_EXIT_INTERNAL : 0;
        else
        if (done || !args.follow) {
            rc = s_write_output (record);
            if (rc == 0 && !done && !args.quiet)
                cli_error ("task %s is %s: no output stored yet (cleudo logs -f %s follows "
                           "it)", args.id, proto_status_name (record->status), args.id);
        }
        else
            rc = s_follow (client, &args);
    }
    proto_msg_destroy (&reply);
    cli_client_destroy (&client);
    return rc;
}

int
cli_cmd_rerun (cli_global_t *global, int argc, char **argv)
{
    cli_id_args_t args;
    cli_client_t *client = NULL;
    proto_msg_t *reply = NULL;
    char new_id[PROTO_ID_MAX + 1];
    int rc = cli_id_command_start (global, argc, argv, s_rerun_opts,
                                   sizeof s_rerun_opts / sizeof s_rerun_opts[0], &args, &client);
    if (rc >= 0)
        return rc;
    if (args.wait && args.follow) {
        cli_error ("rerun: choose one of --wait and --follow (see cleudo help rerun)");
        cli_client_destroy (&client);
        return CLI_EXIT_USAGE;
    }
    rc = cli_client_rerun (client, args.id, new_id);
    if (rc)
        goto done;
    if (args.follow) {
        /*  Like run: the output is the new task's, the id goes to stderr
            so that stdout stays the task's own.                            */
        if (!args.quiet && !args.json)
            cli_error ("task %s runs again as %s", args.id, new_id);
        rc = cli_run_follow (client, new_id, args.json, args.quiet);
        goto done;
    }
    if (!args.wait) {
        if (args.json)
            printf ("{\"id\":\"%s\",\"rerun_of\":\"%s\"}\n", new_id, args.id);
        else
            printf ("%s\n", new_id);
        if (fflush (stdout)) {
            cli_error ("cannot write to stdout (task %s was accepted)", new_id);
            rc = CLI_EXIT_INTERNAL;
        }
        goto done;
    }
    cli_interrupt_catch ();
    rc = cli_client_wait (client, new_id, 0, &reply);
    if (rc == CLI_EXIT_INTERRUPTED) {
        rc = cli_cancel_after_interrupt (client, new_id);
        goto done;
    }
    cli_interrupt_release ();
    if (rc) {
        cli_error ("task %s was accepted and will still run; see it with: cleudo wait %s",
                   new_id, new_id);
        goto done;
    }
    if (args.json)
        rc = cli_json_print_record (stdout, &reply->u.record) ? CLI_EXIT_INTERNAL : 0;
    else
        cli_print_summary (stdout, &reply->u.record);
    if (rc == 0)
        rc = cli_outcome (&reply->u.record, NULL, 0, NULL);
done:
    proto_msg_destroy (&reply);
    cli_client_destroy (&client);
    return rc;
}
