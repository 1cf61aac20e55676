/*  cli_output.h - what cleudo prints about a task, and how it exits.

    One place maps a terminal task to cleudo's exit status and to the line
    cleudo says about it on stderr, so run, wait (and later rerun, logs -f)
    agree. The human summary of get / wait is here too; the JSON form is in
    cli_json.h.
*/
#ifndef CLI_OUTPUT_H_INCLUDED
#define CLI_OUTPUT_H_INCLUDED

#include "cli.h"
#include "proto.h"

#include <stdbool.h>
#include <stdio.h>

typedef enum {
    CLI_SAY_NOTHING = 0,                /* ran to its end: nothing to add */
    CLI_SAY_NOTE,                       /* timed out, killed, memory: --quiet hides */
    CLI_SAY_ERROR                       /* did not run to completion: always shown */
} cli_say_t;

/*  Exit status for a task record (see cli.h):
      succeeded / failed    the exit code (failed without one: 1)
      timed_out             124
      killed                128 + signal (no signal known: 137)
      memory_limit          137
      output_limit, cancelled, rejected, lost, internal_error   125
    A record that is not terminal gives CLI_EXIT_INTERNAL. msg (may be
    NULL) receives the sentence to print after "cleudo: ", empty when there
    is nothing to say; *say tells how important it is.                      */
int cli_outcome (const proto_record_t *record, char *msg, size_t msg_size, cli_say_t *say);

/*  run: stdout bytes to stdout and stderr bytes to stderr, exactly; then
    the truncation notes and the outcome line (on err_out). Returns the
    exit status.                                                            */
int cli_print_task_output (const proto_record_t *record, FILE *out, FILE *err_out, bool quiet);

/*  After the task's bytes went out some other way (streaming): the
    truncation notes and the outcome line on err_out. at_line_start: the
    task's stderr, as written, ended with a newline (or was empty), so our
    lines need no newline first. Returns the exit status.                   */
int cli_print_task_notes (const proto_record_t *record, FILE *err_out, bool quiet,
                          bool at_line_start);

/*  write(2) all of data to fd (EINTR, short writes); 0 or -1 (errno).      */
int cli_write_all (int fd, const void *data, size_t size);

/*  Colour on fd: it is a terminal, NO_COLOR is not set (to anything), and
    TERM is not "dumb".                                                     */
bool cli_use_color (int fd);
/*  The ANSI colour for a status ("" for none); reset with CLI_COLOR_OFF.   */
const char *cli_status_color (proto_status_t status);
#define CLI_COLOR_OFF "\033[0m"

/*  Text from the wire made safe for a terminal: control characters become
    '?' (in place).                                                         */
void cli_clean (char *text);

/*  "2.0 KiB", "17 bytes"                                                   */
void cli_format_bytes (char *buf, size_t size, uint64_t bytes);

/*  get / wait: a summary for people.                                       */
void cli_print_summary (FILE *out, const proto_record_t *record);

/*  "sh -c 'echo hi'": argv for display, shell-quoted where needed.         */
void cli_format_argv (char *buf, size_t size, const char **argv, size_t argc);

/*  "2026-11-27T11:00:00.123Z"                                               */
void cli_format_time (char *buf, size_t size, int64_t unix_ms);

/*  "850 ms", "12.3 s", "4 min 10 s"                                        */
void cli_format_ms (char *buf, size_t size, uint64_t ms);

#endif
