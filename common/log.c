/*  log.c - key=value event lines on stderr.                                */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static const char *s_component = "cleudo";
static log_level_t s_level = CLOG_INFO;

/*  Held lines (log_hold): at most one pipe buffer's atomic write, so that
    lines from several processes sharing a pipe never mix.                 */
#define HOLD_MAX 4096
static bool s_holding;
static pthread_t s_holder;
static char s_held[HOLD_MAX];
static size_t s_held_len;

static void
s_write (const char *data, size_t len)
{
    fwrite (data, 1, len, stderr);
    fflush (stderr);
}

void
log_flush (void)
{
    if (s_held_len && pthread_equal (pthread_self (), s_holder)) {
        s_write (s_held, s_held_len);
        s_held_len = 0;
    }
}

void
log_hold (void)
{
    if (s_holding)
        return;
    s_holder = pthread_self ();
    s_holding = true;
    atexit (log_flush);
}

void
log_set_component (const char *name)
{
    s_component = name;
}

void
log_set_level (log_level_t level)
{
    s_level = level;
}

void
log_event (log_level_t level, const char *event, const char *fmt, ...)
{
    static const char *names[] = { "debug", "info", "warn", "error" };
    if (level < s_level)
        return;
    if ((unsigned) level > CLOG_ERROR)
        level = CLOG_ERROR;             /* never index past the names */
    struct timeval tv;
    gettimeofday (&tv, NULL);
    struct tm tm;
    gmtime_r (&tv.tv_sec, &tm);
    char line[4096];
    int n = snprintf (line, sizeof line,
                      "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s component=%s event=%s",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                      tm.tm_min, tm.tm_sec, (int) (tv.tv_usec / 1000),
                      names[level], s_component, event);
    if (n < 0 || (size_t) n >= sizeof line)
        n = (int) sizeof line - 2;
    if (fmt && *fmt) {
        line[n++] = ' ';
        va_list args;
        va_start (args, fmt);
        int m = vsnprintf (line + n, sizeof line - (size_t) n - 1, fmt, args);
        va_end (args);
        if (m < 0)
            m = 0;
        n += m;
        if ((size_t) n > sizeof line - 2)
            n = (int) sizeof line - 2;
    }
    line[n++] = '\n';
    bool hold = s_holding && level < CLOG_WARN && pthread_equal (pthread_self (), s_holder);
    if (!hold) {
        log_flush ();                   /* keep the order of the lines */
        s_write (line, (size_t) n);     /* one write per line: never mixed */
        return;
    }
    if (s_held_len + (size_t) n > sizeof s_held)
        log_flush ();
    memcpy (s_held + s_held_len, line, (size_t) n);
    s_held_len += (size_t) n;
}

char *
log_quote (char *buf, size_t size, const void *text, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *in = text;
    size_t at = 0;
    if (size < 8) {
        if (size)
            buf[0] = '\0';
        return buf;
    }
    buf[at++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = in[i];
        if (at + 6 >= size) {
            buf[at++] = '.';
            buf[at++] = '.';
            break;
        }
        if (c == '"' || c == '\\') {
            buf[at++] = '\\';
            buf[at++] = (char) c;
        }
        else if (c == '\n') {
            buf[at++] = '\\';
            buf[at++] = 'n';
        }
        else if (c < 0x20 || c == 0x7f) {
            buf[at++] = '\\';
            buf[at++] = 'x';
            buf[at++] = hex[c >> 4];
            buf[at++] = hex[c & 15];
        }
        else
            buf[at++] = (char) c;
    }
    buf[at++] = '"';
    buf[at] = '\0';
    return buf;
}
