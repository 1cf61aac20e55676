/*  config.c - typed settings table: environment, then flags, then checks.  */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
s_parse_int_suffix (const char *text, int64_t *number, const char **suffix)
{
    if (!text || !*text)
        return -1;
    const char *p = text;
    if (*p == '-' || *p == '+')
        p++;
    if (!isdigit ((unsigned char) *p))
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll (text, &end, 10);
    if (errno == ERANGE)
        return -1;
    *number = v;
    *suffix = end;
    return 0;
}

static int
s_scale (int64_t v, int64_t scale, int64_t *out)
{
    if (v > INT64_MAX / scale || v < INT64_MIN / scale)
        return -1;
    *out = v * scale;
    return 0;
}

int
cfg_parse_bytes (const char *text, int64_t *out)
{
    int64_t v;
    const char *sfx;
    if (s_parse_int_suffix (text, &v, &sfx))
        return -1;
    int64_t scale = 1;
    if (*sfx) {
        switch (toupper ((unsigned char) *sfx)) {
            case 'B': scale = 1; break;
            case 'K': scale = 1024; break;
            case 'M': scale = 1024 * 1024; break;
            case 'G': scale = 1024 * 1024 * 1024; break;
            case 'T': scale = 1024ll * 1024 * 1024 * 1024; break;
            default: return -1;
        }
        sfx++;
        /*  Accept 256M, 256MB, 256MiB, 256k.                              */
        if (scale > 1 && (*sfx == 'i' || *sfx == 'I'))
            sfx++;
        if (scale > 1 && (*sfx == 'b' || *sfx == 'B'))
            sfx++;
        if (*sfx)
            return -1;
    }
    return s_scale (v, scale, out);
}

int
cfg_parse_ms (const char *text, int64_t *out)
{
    int64_t v;
    const char *sfx;
    if (s_parse_int_suffix (text, &v, &sfx))
        return -1;
    int64_t scale;
    if (!*sfx || strcmp (sfx, "ms") == 0)
        scale = 1;
    else if (strcmp (sfx, "s") == 0)
        scale = 1000;
    else if (strcmp (sfx, "m") == 0 || strcmp (sfx, "min") == 0)
        scale = 60 * 1000;
    else if (strcmp (sfx, "h") == 0)
        scale = 3600 * 1000;
    else if (strcmp (sfx, "d") == 0)
        scale = 24 * 3600 * 1000;
    else
        return -1;
    return s_scale (v, scale, out);
}

static bool
s_in_choices (const char *choices, const char *value, size_t len)
{
    const char *p = choices;
    while (*p) {
        const char *bar = strchr (p, '|');
        size_t n = bar ? (size_t) (bar - p) : strlen (p);
        if (n == len && strncmp (p, value, len) == 0)
            return true;
        if (!bar)
            break;
        p = bar + 1;
    }
    return false;
}

static bool
s_valid_hostport (const char *value)
{
    const char *colon = strrchr (value, ':');
    if (!colon || colon == value)
        return false;
    const char *port = colon + 1;
    if (strcmp (port, "*") == 0)
        return true;            /* ephemeral port, chosen at bind */
    if (!*port || strlen (port) > 5)
        return false;
    for (const char *p = port; *p; p++)
        if (!isdigit ((unsigned char) *p))
            return false;
    if (atoi (port) > 65535)
        return false;
    for (const char *p = value; p < colon; p++)
        if (!(isalnum ((unsigned char) *p) || *p == '.' || *p == '-' || *p == '*'
              || *p == '[' || *p == ']' || *p == ':'))
            return false;
    return true;
}

static bool
s_valid_endpoint (const char *value)
{
    if (strncmp (value, "tcp://", 6) == 0)
        return s_valid_hostport (value + 6);
    if (strncmp (value, "ipc://", 6) == 0)
        return value[6] != '\0';
    if (strncmp (value, "inproc://", 9) == 0)
        return value[9] != '\0';
    return false;
}

static const char *
s_name (const cfg_option_t *opt, bool from_flag)
{
    static char buf[80];
    if (from_flag) {
        snprintf (buf, sizeof buf, "--%s", opt->flag);
        return buf;
    }
    return opt->env;
}

static int
s_parse (const cfg_option_t *opt, const char *value, bool from_flag,
         char *err, size_t err_size)
{
    int64_t number = 0;
    const char *what = NULL;
    char shown[80];
    if (opt->secret)
        cfg_mask_secret (value, shown, sizeof shown);
    else
        snprintf (shown, sizeof shown, "%s", value);

    switch (opt->type) {
        case CFG_STRING:
            if (opt->min > 0 && strlen (value) < (size_t) opt->min) {
                snprintf (err, err_size, "invalid %s='%s': must be at least %" PRId64 " characters",
                          s_name (opt, from_flag), shown, opt->min);
                return -1;
            }
            *(const char **) opt->target = value;
            return 0;
        case CFG_BOOL: {
            bool v;
            if (!strcmp (value, "1") || !strcasecmp (value, "true")
                || !strcasecmp (value, "yes") || !strcasecmp (value, "on"))
                v = true;
            else if (!strcmp (value, "0") || !strcasecmp (value, "false")
                     || !strcasecmp (value, "no") || !strcasecmp (value, "off"))
                v = false;
            else {
                snprintf (err, err_size, "invalid %s='%s': expected true or false",
                          s_name (opt, from_flag), shown);
                return -1;
            }
            *(bool *) opt->target = v;
            return 0;
        }
        case CFG_INT:
            if (s_parse_int_suffix (value, &number, &what) || *what)
                what = "an integer";
            else
                what = NULL;
            break;
        case CFG_BYTES:
            what = cfg_parse_bytes (value, &number) ? "a size such as 4096, 64K, 256M or 2G" : NULL;
            break;
        case CFG_MS:
            what = cfg_parse_ms (value, &number) ? "a duration such as 500ms, 5s or 2m" : NULL;
            break;
        case CFG_ENDPOINT:
            if (!s_valid_endpoint (value)) {
                snprintf (err, err_size, "invalid %s='%s': expected tcp://HOST:PORT or ipc://PATH",
                          s_name (opt, from_flag), shown);
                return -1;
            }
            *(const char **) opt->target = value;
            return 0;
        case CFG_HOSTPORT:
            if (!s_valid_hostport (value)) {
                snprintf (err, err_size, "invalid %s='%s': expected HOST:PORT (port 0-65535)",
                          s_name (opt, from_flag), shown);
                return -1;
            }
            *(const char **) opt->target = value;
            return 0;
        case CFG_CHOICE:
            if (!s_in_choices (opt->choices, value, strlen (value))) {
                snprintf (err, err_size, "invalid %s='%s': expected one of %s",
                          s_name (opt, from_flag), shown, opt->choices);
                return -1;
            }
            *(const char **) opt->target = value;
            return 0;
        case CFG_LIST: {
            const char *p = value;
            while (*p) {
                const char *comma = strchr (p, ',');
                size_t n = comma ? (size_t) (comma - p) : strlen (p);
                if (n && !s_in_choices (opt->choices, p, n)) {
                    snprintf (err, err_size, "invalid %s='%s': '%.*s' is not one of %s",
                              s_name (opt, from_flag), shown, (int) (n > 40 ? 40 : n), p,
                              opt->choices);
                    return -1;
                }
                if (!comma)
                    break;
                p = comma + 1;
            }
            *(const char **) opt->target = value;
            return 0;
        }
    }
    if (what) {
        snprintf (err, err_size, "invalid %s='%s': expected %s", s_name (opt, from_flag),
                  shown, what);
        return -1;
    }
    if (number < opt->min || number > opt->max) {
        snprintf (err, err_size, "invalid %s='%s': must be between %" PRId64 " and %" PRId64,
                  s_name (opt, from_flag), shown, opt->min, opt->max);
        return -1;
    }
    *(int64_t *) opt->target = number;
    return 0;
}

int
cfg_parse (const cfg_option_t *opt, const char *value, char *err, size_t err_size)
{
    return s_parse (opt, value, false, err, err_size);
}

void
cfg_mask_secret (const char *secret, char *buf, size_t size)
{
    if (!secret || !*secret)
        snprintf (buf, size, "(empty)");
    else
        snprintf (buf, size, "%.4s…", secret);
}

void
cfg_print_help (const cfg_option_t *opts, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const cfg_option_t *o = &opts[i];
        char flag[64];
        snprintf (flag, sizeof flag, "--%s %s", o->flag, o->type == CFG_BOOL ? "BOOL" : "VALUE");
        printf ("  %-28s %-26s %s", flag, o->env, o->help);
        if (o->def)
            printf (" (default: %s)", o->secret ? "generated" : (*o->def ? o->def : "empty"));
        if (o->choices)
            printf (" [%s]", o->choices);
        printf ("\n");
    }
}

static const cfg_option_t *
s_find_flag (const cfg_option_t *opts, size_t count, const char *name, size_t len)
{
    for (size_t i = 0; i < count; i++)
        if (strlen (opts[i].flag) == len && strncmp (opts[i].flag, name, len) == 0)
            return &opts[i];
    return NULL;
}

int
cfg_load (const cfg_option_t *opts, size_t count, int argc, char **argv,
          const char *usage, int *first_arg, char *err, size_t err_size)
{
    for (size_t i = 0; i < count; i++)
        if (opts[i].def && s_parse (&opts[i], opts[i].def, false, err, err_size))
            return -1;          /* a bad default is a programming error */
    for (size_t i = 0; i < count; i++) {
        /*  An empty variable counts as unset: compose passes `VAR=` from
            .env files for every setting the user left blank.              */
        const char *value = getenv (opts[i].env);
        if (value && *value && s_parse (&opts[i], value, false, err, err_size))
            return -1;
    }
    int at = 1;
    while (at < argc) {
        const char *arg = argv[at];
        if (strcmp (arg, "--") == 0) {
            at++;
            break;
        }
        if (strncmp (arg, "--", 2) != 0)
            break;
        if (strcmp (arg, "--help") == 0) {
            printf ("%s\n\nOptions (each also read from its environment variable):\n", usage);
            cfg_print_help (opts, count);
            return 1;
        }
        const char *name = arg + 2;
        const char *eq = strchr (name, '=');
        size_t len = eq ? (size_t) (eq - name) : strlen (name);
        const cfg_option_t *opt = s_find_flag (opts, count, name, len);
        if (!opt) {
            snprintf (err, err_size, "unknown option '%.*s' (see --help)", (int) (len + 2 > 60 ? 60 : len + 2), arg);
            return -1;
        }
        const char *value;
        if (eq)
            value = eq + 1;
        else if (opt->type == CFG_BOOL && (at + 1 >= argc || strncmp (argv[at + 1], "--", 2) == 0))
            value = "true";
        else if (at + 1 < argc)
            value = argv[++at];
        else {
            snprintf (err, err_size, "option --%s needs a value (see --help)", opt->flag);
            return -1;
        }
        if (s_parse (opt, value, true, err, err_size))
            return -1;
        at++;
    }
    if (first_arg)
        *first_arg = at;
    return 0;
}
