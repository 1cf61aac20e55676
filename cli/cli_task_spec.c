/*  cli_task_spec.c - run / submit options into a proto_task_t.             */
#include "cli_task_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    O_LANG = CLI_OPT_COMMAND_,
    O_STDIN,
    O_ENV,
    O_FILE,
    O_COLLECT,
    O_TIMEOUT,
    O_CPU,
    O_MEMORY,
    O_PROCESSES,
    O_OUTPUT,
    O_FILE_SIZE,
    O_NETWORK,
    O_JSON,
    O_QUIET,
    O_KEY,
    O_DETACH
};

static const cli_opt_t s_task_opts[] = {
    CLI_GLOBAL_OPTS,
    { "lang", 0, true, O_LANG },
    { "stdin", 0, true, O_STDIN },
    { "env", 'e', true, O_ENV },
    { "file", 0, true, O_FILE },
    { "collect", 0, true, O_COLLECT },
    { "timeout", 0, true, O_TIMEOUT },
    { "cpu", 0, true, O_CPU },
    { "memory", 0, true, O_MEMORY },
    { "processes", 0, true, O_PROCESSES },
    { "output", 0, true, O_OUTPUT },
    { "file-size", 0, true, O_FILE_SIZE },
    { "network", 0, false, O_NETWORK },
    { "json", 0, false, O_JSON },
    { "quiet", 'q', false, O_QUIET },
    { "key", 0, true, O_KEY },
    { "detach", 'd', false, O_DETACH },
};
#define TASK_OPTS (sizeof s_task_opts / sizeof s_task_opts[0])

/*  Capacity after growing from alloc entries.                             */
static size_t
s_next_alloc (size_t alloc)
{
    return alloc ? alloc * 2 : 8;
}

static int
s_add_env (cli_task_spec_t *self, const char *opt, const char *arg, char *err, size_t err_size)
{
    proto_task_t *t = &self->task;
    const char *eq = strchr (arg, '=');
    if (!eq) {
        snprintf (err, err_size, "invalid %s '%s': expected KEY=VALUE", opt, arg);
        return -1;
    }
    size_t klen = (size_t) (eq - arg);
    if (!proto_valid_env_key (arg, klen)) {
        snprintf (err, err_size, "invalid %s '%s': '%.*s' is not a variable name (letters, "
                  "digits and _, not starting with a digit)", opt, arg,
                  (int) (klen > 64 ? 64 : klen), arg);
        return -1;
    }
    /*  Last one wins, as with env(1).                                      */
    for (size_t i = 0; i < t->env_count; i++)
        if (strlen (t->env[i].key) == klen && strncmp (t->env[i].key, arg, klen) == 0) {
            t->env[i].value = eq + 1;
            return 0;
        }
    if (t->env_count >= PROTO_ENV_MAX) {
        snprintf (err, err_size, "too many %s options (at most %d)", opt, PROTO_ENV_MAX);
        return -1;
    }
    if (t->env_count == self->env_alloc) {
        /*  Both arrays grow together; if the second fails, the first just
            has spare room and both grow again next time.                    */
        size_t n = s_next_alloc (self->env_alloc);
        proto_env_t *env = realloc (t->env, n * sizeof *env);
        if (!env)
            goto oom;
        t->env = env;
        char **keys = realloc (self->env_keys, n * sizeof *keys);
        if (!keys)
            goto oom;
        self->env_keys = keys;
        self->env_alloc = n;
    }
    char *key = strndup (arg, klen);
    if (!key)
        goto oom;
    self->env_keys[t->env_count] = key;
    t->env[t->env_count].key = key;
    t->env[t->env_count].value = eq + 1;
    t->env_count++;
    return 0;
oom:
    snprintf (err, err_size, "out of memory");
    return -1;
}

static int
s_add_file (cli_task_spec_t *self, const char *opt, const char *arg, char *err, size_t err_size)
{
    proto_task_t *t = &self->task;
    /*  Split at the last ':' so that any local path can be given with an
        explicit remote name; remote names with ':' are not supported.      */
    const char *colon = strrchr (arg, ':');
    size_t llen = colon ? (size_t) (colon - arg) : strlen (arg);
    char *local = strndup (arg, llen);
    char *remote = NULL;
    uint8_t *data = NULL;
    if (!local)
        goto oom;
    if (llen == 0) {
        snprintf (err, err_size, "invalid %s '%s': LOCAL is empty (expected LOCAL[:REMOTE])",
                  opt, arg);
        goto fail;
    }
    if (colon) {
        if (colon[1] == '\0') {
            snprintf (err, err_size, "invalid %s '%s': REMOTE after ':' is empty "
                      "(expected LOCAL[:REMOTE])", opt, arg);
            goto fail;
        }
        remote = strdup (colon + 1);
    }
    else {
        const char *slash = strrchr (local, '/');
        remote = strdup (slash ? slash + 1 : local);
    }
    if (!remote)
        goto oom;
    const char *why = NULL;
    if (!colon && !*remote) {
        snprintf (err, err_size, "invalid %s '%s': LOCAL ends with '/'; give a file", opt, arg);
        goto fail;
    }
    if (!proto_valid_rel_path (remote, strlen (remote), &why)) {
        snprintf (err, err_size, "invalid %s '%s': remote path '%s' %s (it must be a relative "
                  "path inside the task's workspace)", opt, arg, remote, why);
        goto fail;
    }
    for (size_t i = 0; i < t->file_count; i++)
        if (strcmp (t->files[i].path, remote) == 0) {
            snprintf (err, err_size, "invalid %s '%s': remote path '%s' is given twice",
                      opt, arg, remote);
            goto fail;
        }
    if (t->file_count >= PROTO_FILES_MAX) {
        snprintf (err, err_size, "too many %s options (at most %d)", opt, PROTO_FILES_MAX);
        goto fail;
    }
    size_t size;
    if (cli_read_file (opt, local, PROTO_MAX_FRAME_DEFAULT, &data, &size, err, err_size))
        goto fail;
    if (t->file_count == self->file_alloc) {
        size_t n = s_next_alloc (self->file_alloc);
        proto_file_t *files = realloc (t->files, n * sizeof *files);
        if (!files)
            goto oom;
        t->files = files;
        uint8_t **bufs = realloc (self->file_bufs, n * sizeof *bufs);
        if (!bufs)
            goto oom;
        self->file_bufs = bufs;
        char **names = realloc (self->file_names, n * sizeof *names);
        if (!names)
            goto oom;
        self->file_names = names;
        self->file_alloc = n;
    }
    self->file_bufs[t->file_count] = data;
    self->file_names[t->file_count] = remote;
    t->files[t->file_count].path = remote;
    t->files[t->file_count].content.data = data;
    t->files[t->file_count].content.size = size;
    t->file_count++;
    free (local);
    return 0;
oom:
    snprintf (err, err_size, "out of memory");
fail:
    free (local);
    free (remote);
    free (data);
    return -1;
}

static int
s_add_collect (cli_task_spec_t *self, const char *opt, const char *arg, char *err,
               size_t err_size)
{
    proto_task_t *t = &self->task;
    const char *why = NULL;
    if (!proto_valid_rel_path (arg, strlen (arg), &why)) {
        snprintf (err, err_size, "invalid %s '%s': the path %s (it must be a relative path "
                  "inside the task's workspace)", opt, arg, why);
        return -1;
    }
    for (size_t i = 0; i < t->collect_count; i++)
        if (strcmp (t->collect[i], arg) == 0)
            return 0;
    if (t->collect_count >= PROTO_FILES_MAX) {
        snprintf (err, err_size, "too many %s options (at most %d)", opt, PROTO_FILES_MAX);
        return -1;
    }
    if (t->collect_count == self->collect_alloc) {
        size_t n = s_next_alloc (self->collect_alloc);
        const char **collect = realloc ((void *) t->collect, n * sizeof *collect);
        if (!collect) {
            snprintf (err, err_size, "out of memory");
            return -1;
        }
        t->collect = collect;
        self->collect_alloc = n;
    }
    t->collect[t->collect_count++] = arg;
    return 0;
}

static int
s_task_option (cli_task_spec_t *self, int id, const char *name, const char *value,
               char *err, size_t err_size)
{
    proto_limits_t *lim = &self->task.limits;
    switch (id) {
        case O_LANG:
            if (proto_lang_parse (value, &self->task.lang) || self->task.lang == PROTO_LANG_NONE) {
                snprintf (err, err_size, "invalid %s '%s': expected sh, bash or python3",
                          name, value);
                return -1;
            }
            return 0;
        case O_STDIN:
            self->stdin_path = value;
            return 0;
        case O_ENV:
            return s_add_env (self, name, value, err, err_size);
        case O_FILE:
            return s_add_file (self, name, value, err, err_size);
        case O_COLLECT:
            return s_add_collect (self, name, value, err, err_size);
        case O_TIMEOUT:
            return cli_parse_duration (name, value, &lim->wall_ms, err, err_size);
        case O_CPU:
            return cli_parse_duration (name, value, &lim->cpu_ms, err, err_size);
        case O_MEMORY:
            return cli_parse_size (name, value, &lim->memory_bytes, err, err_size);
        case O_PROCESSES:
            return cli_parse_count (name, value, PROTO_LIMIT_ABSURD_COUNT, &lim->processes,
                                    err, err_size);
        case O_OUTPUT:
            return cli_parse_size (name, value, &lim->output_bytes, err, err_size);
        case O_FILE_SIZE:
            return cli_parse_size (name, value, &lim->file_bytes, err, err_size);
        case O_NETWORK:
            lim->network = 1;
            return 0;
        case O_JSON:
            self->json = true;
            return 0;
        case O_QUIET:
            self->quiet = true;
            return 0;
        case O_DETACH:
            self->detach = true;
            return 0;
        case O_KEY: {
            size_t len = strlen (value);
            bool ok = len >= 1 && len <= PROTO_NAME_MAX;
            for (size_t i = 0; ok && i < len; i++)
                ok = (unsigned char) value[i] >= 0x20 && value[i] != 0x7f;
            if (!ok) {
                snprintf (err, err_size, "invalid %s: expected 1 to %d bytes without control"
                          " characters", name, PROTO_NAME_MAX);
                return -1;
            }
            self->key = value;
            return 0;
        }
        default:
            snprintf (err, err_size, "option '%s' is not handled (bug)", name);
            return -1;
    }
}

int
cli_task_spec_parse (cli_task_spec_t *self, cli_global_t *global, int argc, char **argv,
                     char *err, size_t err_size)
{
    memset (self, 0, sizeof *self);
    self->task.limits.network = -1;
    const char *cmd = argc > 0 ? argv[0] : "run";
    cli_parser_t p;
    cli_parser_init (&p, cmd, s_task_opts, TASK_OPTS, false, argc, argv);
    int first_arg = -1;         /* index of the first positional */
    int id;
    while ((id = cli_parser_next (&p)) != CLI_DONE) {
        if (id == CLI_BAD) {
            snprintf (err, err_size, "%s", p.err);
            return -1;
        }
        if (id == CLI_ARG) {
            first_arg = p.at - 1;
            break;              /* the rest is the task's, untouched */
        }
        if (id == CLI_OPT_HELP) {
            self->help = true;
            return 1;
        }
        if (id < CLI_OPT_COMMAND_) {
            if (cli_global_option (global, id, p.name, p.value, err, err_size))
                return -1;
            continue;
        }
        if (s_task_option (self, id, p.name, p.value, err, err_size))
            return -1;
    }
    int nargs = first_arg < 0 ? 0 : argc - first_arg;
    proto_task_t *t = &self->task;

    if (t->lang != PROTO_LANG_NONE) {
        if (nargs == 0) {
            snprintf (err, err_size, "--lang %s needs a FILE to run (- reads the code from "
                      "standard input; see cleudo help %s)", proto_lang_name (t->lang), cmd);
            return -1;
        }
        if (nargs > 1) {
            snprintf (err, err_size, "unexpected argument '%s' after FILE '%s': a code task "
                      "runs one FILE and takes no arguments; options go before FILE "
                      "(see cleudo help %s)", argv[first_arg + 1], argv[first_arg], cmd);
            return -1;
        }
        self->code_path = argv[first_arg];
    }
    else {
        if (nargs == 0) {
            snprintf (err, err_size, "nothing to run: give a command after -- or --lang LANG "
                      "FILE (see cleudo help %s)", cmd);
            return -1;
        }
        if ((size_t) nargs > PROTO_ARGV_MAX) {
            snprintf (err, err_size, "too many arguments for the task (at most %d)",
                      PROTO_ARGV_MAX);
            return -1;
        }
        t->argv = calloc ((size_t) nargs + 1, sizeof *t->argv);
        if (!t->argv) {
            snprintf (err, err_size, "out of memory");
            return -1;
        }
        for (int i = 0; i < nargs; i++)
            t->argv[i] = argv[first_arg + i];
        t->argc = (size_t) nargs;
    }
    if (self->code_path && self->stdin_path && strcmp (self->code_path, "-") == 0
        && strcmp (self->stdin_path, "-") == 0) {
        snprintf (err, err_size, "FILE - and --stdin - cannot both read standard input");
        return -1;
    }
    size_t size;
    if (self->code_path) {
        if (cli_read_file ("FILE", self->code_path, PROTO_MAX_FRAME_DEFAULT, &self->code_buf,
                           &size, err, err_size))
            return -1;
        t->code.data = self->code_buf;
        t->code.size = size;
    }
    if (self->stdin_path) {
        if (cli_read_file ("--stdin", self->stdin_path, PROTO_MAX_FRAME_DEFAULT,
                           &self->stdin_buf, &size, err, err_size))
            return -1;
        t->has_stdin = true;
        t->stdin_data.data = self->stdin_buf;
        t->stdin_data.size = size;
    }
    return 0;
}

void
cli_task_spec_free (cli_task_spec_t *self)
{
    proto_task_t *t = &self->task;
    free ((void *) t->argv);
    free (self->code_buf);
    free (self->stdin_buf);
    for (size_t i = 0; i < t->env_count; i++)
        free (self->env_keys[i]);
    free (self->env_keys);
    free (t->env);
    for (size_t i = 0; i < t->file_count; i++) {
        free (self->file_bufs[i]);
        free (self->file_names[i]);
    }
    free (self->file_bufs);
    free (self->file_names);
    free (t->files);
    free ((void *) t->collect);
    memset (self, 0, sizeof *self);
}
