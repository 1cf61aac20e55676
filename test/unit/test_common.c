/*  test_common.c - the configuration table and the log quoting.           */
#include "config.h"
#include "log.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static const char *s_addr;
static int64_t s_slots;
static int64_t s_mem;
static int64_t s_wall;
static bool s_flag;
static const char *s_mode;
static const char *s_require;

static const cfg_option_t s_opts[] = {
    { "T_ADDR", "addr", CFG_HOSTPORT, "127.0.0.1:8080", 0, 0, NULL, "address", &s_addr, false },
    { "T_SLOTS", "slots", CFG_INT, "2", 1, 64, NULL, "slots", &s_slots, false },
    { "T_MEM", "mem", CFG_BYTES, "256M", 1024, 1ll << 40, NULL, "memory", &s_mem, false },
    { "T_WALL", "wall", CFG_MS, "5s", 1, 3600000, NULL, "wall", &s_wall, false },
    { "T_FLAG", "flag", CFG_BOOL, "false", 0, 0, NULL, "flag", &s_flag, false },
    { "T_MODE", "mode", CFG_CHOICE, "normal", 0, 0, "normal|full", "mode", &s_mode, false },
    { "T_REQUIRE", "require", CFG_LIST, "", 0, 0, "seccomp|landlock|userns", "layers", &s_require, false },
};
#define N_OPTS (sizeof s_opts / sizeof s_opts[0])

static int
s_load (int argc, char **argv, char *err)
{
    int first = 0;
    return cfg_load (s_opts, N_OPTS, argc, argv, "usage: t", &first, err, 256);
}

START_TEST (defaults_apply)
{
    char err[256] = "";
    char *argv[] = { "t", NULL };
    unsetenv ("T_SLOTS");
    ck_assert_int_eq (s_load (1, argv, err), 0);
    ck_assert_str_eq (s_addr, "127.0.0.1:8080");
    ck_assert_int_eq (s_slots, 2);
    ck_assert_int_eq (s_mem, 256 * 1024 * 1024);
    ck_assert_int_eq (s_wall, 5000);
    ck_assert (!s_flag);
}
END_TEST

START_TEST (env_then_flag_wins)
{
    char err[256] = "";
    setenv ("T_SLOTS", "8", 1);
    char *argv[] = { "t", "--slots=4", "--flag", "--wall", "2m", "rest", NULL };
    int first = 0;
    ck_assert_int_eq (cfg_load (s_opts, N_OPTS, 6, argv, "u", &first, err, sizeof err), 0);
    ck_assert_int_eq (s_slots, 4);
    ck_assert (s_flag);
    ck_assert_int_eq (s_wall, 120000);
    ck_assert_int_eq (first, 5);
    unsetenv ("T_SLOTS");
}
END_TEST

START_TEST (bad_env_names_variable_value_and_range)
{
    char err[256] = "";
    char *argv[] = { "t", NULL };
    setenv ("T_SLOTS", "999", 1);
    ck_assert_int_eq (s_load (1, argv, err), -1);
    ck_assert_ptr_nonnull (strstr (err, "T_SLOTS"));
    ck_assert_ptr_nonnull (strstr (err, "999"));
    ck_assert_ptr_nonnull (strstr (err, "between 1 and 64"));
    setenv ("T_SLOTS", "abc", 1);
    ck_assert_int_eq (s_load (1, argv, err), -1);
    ck_assert_ptr_nonnull (strstr (err, "integer"));
    unsetenv ("T_SLOTS");
}
END_TEST

START_TEST (bad_values_of_each_type)
{
    char err[256];
    ck_assert_int_eq (cfg_parse (&s_opts[0], "nohost", err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "HOST:PORT"));
    ck_assert_int_eq (cfg_parse (&s_opts[0], "h:70000", err, sizeof err), -1);
    ck_assert_int_eq (cfg_parse (&s_opts[2], "12Q", err, sizeof err), -1);
    ck_assert_int_eq (cfg_parse (&s_opts[3], "5 parsecs", err, sizeof err), -1);
    ck_assert_int_eq (cfg_parse (&s_opts[4], "maybe", err, sizeof err), -1);
    ck_assert_int_eq (cfg_parse (&s_opts[5], "fast", err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "normal|full"));
    ck_assert_int_eq (cfg_parse (&s_opts[6], "seccomp,apparmor", err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "apparmor"));
    ck_assert_int_eq (cfg_parse (&s_opts[6], "seccomp,landlock", err, sizeof err), 0);
}
END_TEST

START_TEST (unknown_flag_and_missing_value)
{
    char err[256] = "";
    char *argv1[] = { "t", "--nope", NULL };
    ck_assert_int_eq (s_load (2, argv1, err), -1);
    ck_assert_ptr_nonnull (strstr (err, "unknown option '--nope'"));
    char *argv2[] = { "t", "--slots", NULL };
    ck_assert_int_eq (s_load (2, argv2, err), -1);
    ck_assert_ptr_nonnull (strstr (err, "needs a value"));
}
END_TEST

START_TEST (units)
{
    int64_t v;
    ck_assert_int_eq (cfg_parse_bytes ("64K", &v), 0);
    ck_assert_int_eq (v, 65536);
    ck_assert_int_eq (cfg_parse_bytes ("2GiB", &v), 0);
    ck_assert_int_eq (v, 2ll << 30);
    ck_assert_int_eq (cfg_parse_bytes ("99999999999G", &v), -1);
    ck_assert_int_eq (cfg_parse_ms ("250ms", &v), 0);
    ck_assert_int_eq (v, 250);
    ck_assert_int_eq (cfg_parse_ms ("1h", &v), 0);
    ck_assert_int_eq (v, 3600000);
    ck_assert_int_eq (cfg_parse_ms ("", &v), -1);
}
END_TEST

START_TEST (secret_is_masked)
{
    char buf[32];
    cfg_mask_secret ("abcdefghijkl", buf, sizeof buf);
    ck_assert_str_eq (buf, "abcd…");
}
END_TEST

START_TEST (log_quote_escapes_control_and_quotes)
{
    char buf[64];
    log_quote (buf, sizeof buf, "a\"b\n\x01", 5);
    ck_assert_str_eq (buf, "\"a\\\"b\\n\\x01\"");
    char small[12];
    log_quote (small, sizeof small, "0123456789abcdef", 16);
    ck_assert_int_le (strlen (small), 11);
}
END_TEST

int
main (void)
{
    Suite *s = suite_create ("common");
    TCase *tc = tcase_create ("config");
    tcase_add_test (tc, defaults_apply);
    tcase_add_test (tc, env_then_flag_wins);
    tcase_add_test (tc, bad_env_names_variable_value_and_range);
    tcase_add_test (tc, bad_values_of_each_type);
    tcase_add_test (tc, unknown_flag_and_missing_value);
    tcase_add_test (tc, units);
    tcase_add_test (tc, secret_is_masked);
    tcase_add_test (tc, log_quote_escapes_control_and_quotes);
    suite_add_tcase (s, tc);
    SRunner *sr = srunner_create (s);
    srunner_run_all (sr, CK_NORMAL);
    int failed = srunner_ntests_failed (sr);
    srunner_free (sr);
    return failed ? 1 : 0;
}
