/*  config.h - one typed table of settings per program (Redis config.c style).

    Each option is an environment variable with a command-line twin:
    ORCH_HTTP_ADDR=... or --http-addr ... / --http-addr=...; the flag wins.
    A bad value is an error naming the variable (or flag), the value and
    what is allowed. --help prints the table with defaults.
*/
#ifndef CONFIG_H_INCLUDED
#define CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CFG_STRING,         /* const char * (any text, may be empty if min==0) */
    CFG_INT,            /* int64_t within [min, max] */
    CFG_BOOL,           /* bool: 1/0 true/false yes/no on/off */
    CFG_BYTES,          /* int64_t, units K M G (powers of 1024) */
    CFG_MS,             /* int64_t milliseconds, units ms s m h (bare: ms) */
    CFG_ENDPOINT,       /* const char *: tcp://host:port or ipc://path */
    CFG_HOSTPORT,       /* const char *: HOST:PORT, port 0..65535 */
    CFG_CHOICE,         /* const char *: one of choices "a|b|c" */
    CFG_LIST            /* const char *: comma list, each of choices */
} cfg_type_t;

typedef struct {
    const char *env;        /* environment variable, e.g. "ORCH_HTTP_ADDR" */
    const char *flag;       /* flag without dashes, e.g. "http-addr" */
    cfg_type_t type;
    const char *def;        /* default as text, NULL: unset */
    int64_t min;            /* numeric bounds (after units) */
    int64_t max;
    const char *choices;    /* CFG_CHOICE / CFG_LIST: "a|b|c" */
    const char *help;       /* one line */
    void *target;           /* const char **, int64_t * or bool * */
    bool secret;            /* never printed in full */
} cfg_option_t;

/*  Load defaults, then the environment (an empty variable counts as unset),
    then flags from argv[1..]. Stops at
    the first argument that is not an option (or after "--") and stores its
    index in *first_arg. Returns 0 on success, 1 when --help was printed to
    stdout, -1 with a message in err.                                       */
int cfg_load (const cfg_option_t *opts, size_t count, int argc, char **argv,
              const char *usage, int *first_arg, char *err, size_t err_size);

/*  Parse one value as opts would; 0 or -1 with err filled.                 */
int cfg_parse (const cfg_option_t *opt, const char *value, char *err, size_t err_size);

/*  Units: "256M" -> 268435456, "2s" -> 2000 (ms). 0 or -1.                 */
int cfg_parse_bytes (const char *text, int64_t *out);
int cfg_parse_ms (const char *text, int64_t *out);

/*  A secret for logs: the first 4 characters then "…".                     */
void cfg_mask_secret (const char *secret, char *buf, size_t size);

/*  Print "  --flag VALUE  ENV  (default)  help" lines to stdout.           */
void cfg_print_help (const cfg_option_t *opts, size_t count);

#endif
