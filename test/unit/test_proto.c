/*  test_proto.c - wire protocol v1 (placeholder, being written)            */
#include "proto.h"

#include <check.h>
#include <stdlib.h>

START_TEST (names)
{
    ck_assert_str_eq (proto_status_name (PROTO_STATUS_TIMED_OUT), "timed_out");
}
END_TEST

int
main (void)
{
    Suite *s = suite_create ("proto");
    TCase *tc = tcase_create ("names");
    tcase_add_test (tc, names);
    suite_add_tcase (s, tc);
    SRunner *sr = srunner_create (s);
    srunner_run_all (sr, CK_NORMAL);
    int failed = srunner_ntests_failed (sr);
    srunner_free (sr);
    return failed ? 1 : 0;
}
