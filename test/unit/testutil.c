/*  testutil.c - helpers shared by the unit test runners (test/unit/).      */
#define _GNU_SOURCE
#include "testutil.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int
s_rm_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) ftw;
    if (flag == FTW_DP)
        rmdir (path);
    else
        unlink (path);
    return 0;
}

void
tu_rm_rf (const char *path)
{
    if (*path)
        nftw (path, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void
tu_copy_file (const char *from, const char *to, mode_t mode)
{
    int in = open (from, O_RDONLY | O_CLOEXEC);
    int out = open (to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    ck_assert_msg (in >= 0 && out >= 0, "copy %s -> %s: %s", from, to, strerror (errno));
    char buf[65536];
    ssize_t n;
    while ((n = read (in, buf, sizeof buf)) > 0)
        ck_assert_int_eq (write (out, buf, (size_t) n), n);
    close (in);
    close (out);
}

double
tu_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

double
tu_median (double *v, int n)
{
    qsort (v, (size_t) n, sizeof *v, s_cmp_double);
    return v[n / 2];
}

int
tu_tcp_listener (uint16_t *port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ck_assert_int_ge (fd, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    ck_assert_int_eq (bind (fd, (struct sockaddr *) &sa, sizeof sa), 0);
    ck_assert_int_eq (listen (fd, 8), 0);
    socklen_t len = sizeof sa;
    ck_assert_int_eq (getsockname (fd, (struct sockaddr *) &sa, &len), 0);
    *port = ntohs (sa.sin_port);
    return fd;
}

/*  Host processes whose command line contains marker.                    */
int
tu_count_marker (const char *marker)
{
    int n = 0;
    DIR *d = opendir ("/proc");
    struct dirent *e;
    while (d && (e = readdir (d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[4096];
        snprintf (path, sizeof path, "/proc/%s/cmdline", e->d_name);
        int fd = open (path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t len = read (fd, buf, sizeof buf - 1);
        close (fd);
        if (len <= 0)
            continue;
        for (ssize_t i = 0; i < len; i++)
            if (!buf[i])
                buf[i] = ' ';
        buf[len] = '\0';
        if (strstr (buf, marker))
            n++;
    }
    if (d)
        closedir (d);
    return n;
}

