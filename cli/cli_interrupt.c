/*  cli_interrupt.c - the SIGINT flag.                                      */
#include "cli_interrupt.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t s_interrupted;

static void
s_on_sigint (int sig)
{
    (void) sig;
    s_interrupted = 1;
}

void
cli_interrupt_catch (void)
{
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_on_sigint;
    sigemptyset (&sa.sa_mask);
    sa.sa_flags = 0;            /* no SA_RESTART: let zmq_poll return EINTR */
    sigaction (SIGINT, &sa, NULL);
}

void
cli_interrupt_release (void)
{
    signal (SIGINT, SIG_DFL);
    s_interrupted = 0;
}

bool
cli_interrupted (void)
{
    return s_interrupted != 0;
}
