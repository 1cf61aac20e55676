/*  cli_args.c - option parser, global options, units, task options.       */
#include "cli_args.h"
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*  ---------------------------------------------------------------------
    The parser                                                             */

void
cli_parser_init (cli_parser_t *self, const char *cmd, const cli_opt_t *opts,
                 size_t count, bool permute, int argc, char **argv)
{
    memset (self, 0, sizeof *self);
    self->cmd = cmd;
    self->opts = opts;
    self->count = count;
    self->permute = permute;
    self->argc = argc;
    self->argv = argv;
    self->at = 1;
}

static const cli_opt_t *
s_find_long (const cli_parser_t *self, const char *name, size_t len)
{
    for (size_t i = 0; i < self->count; i++)
        if (strlen (self->opts[i].name) == len && strncmp (self->opts[i].name, name, len) == 0)
            return &self->opts[i];
    return NULL;
}

static const cli_opt_t *
s_find_short (const cli_parser_t *self, char c)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->opts[i].short_name && self->opts[i].short_name == c)
            return &self->opts[i];
    return NULL;
}

/*  " for 'run' (see cleudo help run)" or " (see cleudo help)"             */
static void
s_see_help (const cli_parser_t *self, char *buf, size_t size)
{
    if (self->cmd)
        snprintf (buf, size, " for '%s' (see cleudo help %s)", self->cmd, self->cmd);
    else
        snprintf (buf, size, " (see cleudo help)");
}

int
cli_parser_next (cli_parser_t *self)
{
    self->value = NULL;
    if (self->at >= self->argc)
        return CLI_DONE;
    const char *arg = self->argv[self->at];
    if (self->rest) {
        self->at++;
        self->value = arg;
        return CLI_ARG;
    }
    if (strcmp (arg, "--") == 0) {
        self->at++;
        self->rest = true;
        self->saw_dashdash = true;
        return cli_parser_next (self);
    }
    if (arg[0] != '-' || arg[1] == '\0') {
        /*  A positional ("-" alone is one: standard input). Without
            permute it starts the task's argv, which we must not touch.    */
        self->at++;
        self->value = arg;
        if (!self->permute)
            self->rest = true;
        return CLI_ARG;
    }
    const cli_opt_t *opt;
    const char *inline_value = NULL;
    if (arg[1] == '-') {
        const char *name = arg + 2;
        const char *eq = strchr (name, '=');
        size_t len = eq ? (size_t) (eq - name) : strlen (name);
        snprintf (self->name, sizeof self->name, "--%.*s", (int) (len > 48 ? 48 : len), name);
        opt = s_find_long (self, name, len);
        if (eq)
            inline_value = eq + 1;
    }
    else {
        snprintf (self->name, sizeof self->name, "-%c", arg[1]);
        opt = s_find_short (self, arg[1]);
        if (arg[2])
            inline_value = arg + 2;
    }
    char see[128];
    s_see_help (self, see, sizeof see);
    if (!opt) {
        snprintf (self->err, sizeof self->err, "unknown option '%s'%s", self->name, see);
        return CLI_BAD;
    }
    self->at++;
    if (opt->has_value) {
        if (inline_value)
            self->value = inline_value;
        else
        if (self->at < self->argc)
            self->value = self->argv[self->at++];
        else {
            snprintf (self->err, sizeof self->err, "option '%s' needs a value%s", self->name, see);
            return CLI_BAD;
        }
    }
    else
    if (inline_value) {
        snprintf (self->err, sizeof self->err, "option '%s' takes no value%s", self->name, see);
        return CLI_BAD;
    }
    return opt->id;
}

/*  ---------------------------------------------------------------------
    Units                                                                  */

int
cli_parse_duration (const char *option, const char *text, uint64_t *ms,
                    char *err, size_t err_size)
{
    int64_t v;
    size_t len = strlen (text);
    bool bare = len > 0 && isdigit ((unsigned char) text[len - 1]);
    if (cfg_parse_ms (text, &v)) {
        snprintf (err, err_size, "invalid %s '%s': expected a duration such as 30 (seconds), "
                  "500ms, 90s, 2m or 1h", option, text);
        return -1;
    }
    if (bare) {
        if (v > INT64_MAX / 1000 || v < INT64_MIN / 1000) {
            snprintf (err, err_size, "invalid %s '%s': far too long", option, text);
            return -1;
        }
        v *= 1000;
    }
    if (v <= 0) {
        snprintf (err, err_size, "invalid %s '%s': must be greater than zero", option, text);
        return -1;
    }
    if ((uint64_t) v > PROTO_LIMIT_ABSURD_MS) {
        snprintf (err, err_size, "invalid %s '%s': must be at most 7 days", option, text);
        return -1;
    }
    *ms = (uint64_t) v;
    return 0;
}

int
cli_parse_size (const char *option, const char *text, uint64_t *bytes,
                char *err, size_t err_size)
{
    int64_t v;
    if (cfg_parse_bytes (text, &v)) {
        snprintf (err, err_size, "invalid %s '%s': expected a size such as 4096 (bytes), "
                  "64K, 256M or 2G", option, text);
        return -1;
    }
    if (v <= 0) {
        snprintf (err, err_size, "invalid %s '%s': must be greater than zero", option, text);
        return -1;
    }
    if ((uint64_t) v > PROTO_LIMIT_ABSURD_BYTES) {
        snprintf (err, err_size, "invalid %s '%s': must be at most 1T", option, text);
        return -1;
    }
    *bytes = (uint64_t) v;
    return 0;
}

int
cli_parse_count (const char *option, const char *text, uint64_t max, uint64_t *out,
                 char *err, size_t err_size)
{
    bool digits = *text != '\0';
    for (const char *p = text; *p; p++)
        if (!isdigit ((unsigned char) *p))
            digits = false;
    errno = 0;
    unsigned long long v = digits ? strtoull (text, NULL, 10) : 0;
    if (!digits || errno == ERANGE) {
        snprintf (err, err_size, "invalid %s '%s': expected a whole number", option, text);
        return -1;
    }
    if (v == 0 || v > max) {
        snprintf (err, err_size, "invalid %s '%s': must be between 1 and %" PRIu64,
                  option, text, max);
        return -1;
    }
    *out = v;
    return 0;
}

/*  ---------------------------------------------------------------------
    Files                                                                  */

int
cli_read_file (const char *what, const char *path, size_t max, uint8_t **data,
               size_t *size, char *err, size_t err_size)
{
    bool is_stdin = strcmp (path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open (path, O_RDONLY | O_CLOEXEC);
    const char *shown = is_stdin ? "standard input" : path;
    if (fd < 0) {
        snprintf (err, err_size, "cannot read %s '%s': %s", what, shown, strerror (errno));
        return -1;
    }
    struct stat st;
    if (fstat (fd, &st) == 0 && S_ISDIR (st.st_mode)) {
        snprintf (err, err_size, "cannot read %s '%s': it is a directory", what, shown);
        if (!is_stdin)
            close (fd);
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc (cap);
    int rc = -1;
    if (!buf) {
        snprintf (err, err_size, "out of memory reading %s '%s'", what, shown);
        goto done;
    }
    for (;;) {
        if (len == cap) {
            if (cap > max) {
                snprintf (err, err_size, "%s '%s' is larger than %zu bytes, the most one "
                          "request can carry", what, shown, max);
                goto done;
            }
            uint8_t *bigger = realloc (buf, cap * 2);
            if (!bigger) {
                snprintf (err, err_size, "out of memory reading %s '%s'", what, shown);
                goto done;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read (fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf (err, err_size, "cannot read %s '%s': %s", what, shown, strerror (errno));
            goto done;
        }
        if (n == 0)
            break;
        len += (size_t) n;
    }
    if (len > max) {
        snprintf (err, err_size, "%s '%s' is larger than %zu bytes, the most one request "
                  "can carry", what, shown, max);
        goto done;
    }
    *data = buf;
    *size = len;
    buf = NULL;
    rc = 0;
done:
    free (buf);
    if (!is_stdin)
        close (fd);
    return rc;
}

/*  ---------------------------------------------------------------------
    Global options                                                         */

static int
s_check_endpoint (const char *name, const char *value, const char **target,
                  char *err, size_t err_size)
{
    /*  The config table knows what an endpoint looks like; its message
        names whatever we call the option here (variable or flag).         */
    cfg_option_t opt = { name, "endpoint", CFG_ENDPOINT, NULL, 0, 0, NULL,
                         "orchestrator submit socket", (void *) target, false };
    return cfg_parse (&opt, value, err, err_size);
}

int
cli_global_init (cli_global_t *self, char *err, size_t err_size)
{
    memset (self, 0, sizeof *self);
    self->endpoint = CLI_DEFAULT_ENDPOINT;
    self->connect_timeout_ms = CLI_DEFAULT_CONNECT_MS;
    const char *env = getenv ("CLEUDO_ENDPOINT");
    if (env && *env && s_check_endpoint ("CLEUDO_ENDPOINT", env, &self->endpoint, err, err_size))
        return -1;
    env = getenv ("CLEUDO_CONNECT_TIMEOUT");
    uint64_t ms;
    if (env && *env) {
        if (cli_parse_duration ("CLEUDO_CONNECT_TIMEOUT", env, &ms, err, err_size))
            return -1;
        self->connect_timeout_ms = (int64_t) ms;
    }
    return 0;
}

int
cli_global_option (cli_global_t *self, int id, const char *name, const char *value,
                   char *err, size_t err_size)
{
    uint64_t ms;
    switch (id) {
        case CLI_OPT_ENDPOINT:
            return s_check_endpoint (name, value, &self->endpoint, err, err_size);
        case CLI_OPT_TOKEN:
            if (!*value) {
                snprintf (err, err_size, "invalid %s: the token is empty", name);
                return -1;
            }
            self->token = value;
            self->token_source = "--token";
            return 0;
        case CLI_OPT_CONNECT_TIMEOUT:
            if (cli_parse_duration (name, value, &ms, err, err_size))
                return -1;
            self->connect_timeout_ms = (int64_t) ms;
            return 0;
        default:
            snprintf (err, err_size, "option '%s' is not a global option", name);
            return -1;
    }
}

/*  Read a token file: 1 found, 0 absent, -1 unreadable or unusable.       */
static int
s_token_from_file (cli_global_t *self, const char *path, char *err, size_t err_size)
{
    if (access (path, F_OK) != 0 && errno == ENOENT)
        return 0;
    uint8_t *data;
    size_t size;
    if (cli_read_file ("token file", path, 4096, &data, &size, err, err_size))
        return -1;
    while (size > 0 && isspace (data[size - 1]))
        size--;
    size_t start = 0;
    while (start < size && isspace (data[start]))
        start++;
    for (size_t i = start; i < size; i++)
        if (data[i] < 0x20 || data[i] == 0x7f) {
            snprintf (err, err_size, "the token file '%s' holds control characters; "
                      "it should hold the token on one line", path);
            free (data);
            return -1;
        }
    if (start == size) {
        free (data);
        return 0;               /* empty: as if absent */
    }
    free (self->token_buf);
    self->token_buf = strndup ((const char *) data + start, size - start);
    free (data);
    if (!self->token_buf) {
        snprintf (err, err_size, "out of memory");
        return -1;
    }
    self->token = self->token_buf;
    self->token_source = path;
    return 1;
}

int
cli_global_find_token (cli_global_t *self, char *err, size_t err_size)
{
    if (self->token)
        return 0;
    const char *env = getenv ("CLEUDO_TOKEN");
    if (env && *env) {
        self->token = env;
        self->token_source = "CLEUDO_TOKEN";
        return 0;
    }
    /*  $ORCH_DATA_DIR first: when it is set, it says where this
        orchestrator keeps its token, and ./data/token may be a stale one
        from a run with the default data directory.                         */
    static char path[4096];
    const char *dir = getenv ("ORCH_DATA_DIR");
    int found;
    if (dir && *dir) {
        snprintf (path, sizeof path, "%s/token", dir);
        found = s_token_from_file (self, path, err, err_size);
        if (found)
            return found > 0 ? 0 : -1;
    }
    found = s_token_from_file (self, CLI_TOKEN_FILE_DEFAULT, err, err_size);
    if (found)
        return found > 0 ? 0 : -1;
    snprintf (err, err_size, "no API token: set CLEUDO_TOKEN or pass --token (make run prints "
              "it), or run cleudo where %s exists", CLI_TOKEN_FILE_DEFAULT);
    return -1;
}

void
cli_global_free (cli_global_t *self)
{
    free (self->token_buf);
    self->token_buf = NULL;
}
