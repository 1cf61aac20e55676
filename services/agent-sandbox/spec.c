/*  spec.c - limits, program lookup and environment for one task.          */
#define _GNU_SOURCE
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
s_note (char *notes, size_t size, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_note (char *notes, size_t size, const char *fmt, ...)
{
    size_t len = strlen (notes);
    if (len + 3 >= size)
        return;
    if (len) {
        memcpy (notes + len, "; ", 3);
        len += 2;
    }
    va_list args;
    va_start (args, fmt);
    vsnprintf (notes + len, size - len, fmt, args);
    va_end (args);
}

static uint64_t
s_limit (const char *name, uint64_t asked, uint64_t def, uint64_t max,
         char *notes, size_t notes_size)
{
    if (asked == 0)
        return def < max ? def : max;
    if (asked > max) {
        s_note (notes, notes_size, "limits.%s clamped from %" PRIu64 " to %" PRIu64,
                name, asked, max);
        return max;
    }
    return asked;
}

void
sbx_spec_limits (const sbx_run_conf_t *conf, const proto_limits_t *asked,
                 sbx_limits_t *out, char *notes, size_t notes_size)
{
    const sbx_limits_t *d = &conf->defaults, *m = &conf->maxima;
    out->wall_ms = s_limit ("wall_ms", asked->wall_ms, d->wall_ms, m->wall_ms, notes, notes_size);
    out->cpu_ms = s_limit ("cpu_ms", asked->cpu_ms, d->cpu_ms, m->cpu_ms, notes, notes_size);
    out->memory_bytes = s_limit ("memory_bytes", asked->memory_bytes, d->memory_bytes,
                                 m->memory_bytes, notes, notes_size);
    out->processes = s_limit ("processes", asked->processes, d->processes, m->processes,
                              notes, notes_size);
    out->output_bytes = s_limit ("output_bytes", asked->output_bytes, d->output_bytes,
                                 m->output_bytes, notes, notes_size);
    out->file_bytes = s_limit ("file_bytes", asked->file_bytes, d->file_bytes, m->file_bytes,
                               notes, notes_size);
}

static bool
s_is_program (int dirfd, const char *path)
{
    struct stat st;
    if (fstatat (dirfd, path, &st, 0) || !S_ISREG (st.st_mode))
        return false;
    return faccessat (dirfd, path, X_OK, AT_EACCESS) == 0;
}

int
sbx_spec_find_program (const char *name, int dirfd, char *out, size_t out_size)
{
    size_t len = strlen (name);
    if (len == 0 || len >= out_size)
        return -1;
    if (strchr (name, '/')) {
        if (!s_is_program (name[0] == '/' ? AT_FDCWD : dirfd, name))
            return -1;
        memcpy (out, name, len + 1);
        return 0;
    }
    const char *dir = SBX_FIXED_PATH;
    while (*dir) {
        const char *colon = strchr (dir, ':');
        size_t dlen = colon ? (size_t) (colon - dir) : strlen (dir);
        if (dlen + 1 + len < out_size) {
            memcpy (out, dir, dlen);
            out[dlen] = '/';
            memcpy (out + dlen + 1, name, len + 1);
            if (s_is_program (AT_FDCWD, out))
                return 0;
        }
        if (!colon)
            break;
        dir = colon + 1;
    }
    return -1;
}

static bool
s_is_fixed (const char *key)
{
    return strcmp (key, "PATH") == 0 || strcmp (key, "HOME") == 0 || strcmp (key, "LANG") == 0;
}

char **
sbx_spec_envp (const proto_env_t *env, size_t count, const char *home)
{
    /*  One block: the pointer array, then the "KEY=VALUE" strings.        */
    size_t slots = count + 4;
    size_t bytes = slots * sizeof (char *);
    for (size_t i = 0; i < count; i++)
        bytes += strlen (env[i].key) + 1 + strlen (env[i].value) + 1;
    bytes += sizeof "PATH=" SBX_FIXED_PATH + sizeof "HOME=" + strlen (home)
           + sizeof "LANG=" SBX_FIXED_LANG;
    char **envp = malloc (bytes);
    if (!envp)
        return NULL;
    char *at = (char *) (envp + slots);
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (s_is_fixed (env[i].key))
            continue;
        envp[n++] = at;
        at += sprintf (at, "%s=%s", env[i].key, env[i].value) + 1;
    }
    envp[n++] = at;
    at += sprintf (at, "PATH=%s", SBX_FIXED_PATH) + 1;
    envp[n++] = at;
    at += sprintf (at, "HOME=%s", home) + 1;
    envp[n++] = at;
    sprintf (at, "LANG=%s", SBX_FIXED_LANG);
    envp[n] = NULL;
    return envp;
}

const char *
sbx_spec_interpreter (proto_lang_t lang)
{
    switch (lang) {
        case PROTO_LANG_SH: return "sh";
        case PROTO_LANG_BASH: return "bash";
        case PROTO_LANG_PYTHON3: return "python3";
        default: return NULL;
    }
}

const char *
sbx_spec_script_name (proto_lang_t lang)
{
    switch (lang) {
        case PROTO_LANG_SH: return "main.sh";
        case PROTO_LANG_BASH: return "main.sh";
        case PROTO_LANG_PYTHON3: return "main.py";
        default: return NULL;
    }
}
