/* test_nstat: parse /proc/net/{netstat,snmp,snmp6} recorded in a namespace right after a
 * listen-queue overflow, and check every counter against `nstat -asz` recorded in the same
 * namespace at the same time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/nstat.h"

#define DATA "tests/data/nstat/"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

static struct nstat *load_all(void)
{
	struct nstat *t = nstat_new();
	struct lc_err e = {0};
	const char *files[] = {DATA "netstat.txt", DATA "snmp.txt", DATA "snmp6.txt"};
	for (int i = 0; i < 3; i++) {
		char *s = slurp(files[i]);
		assert_int_equal(nstat_parse(t, s, &e), 0);
		free(s);
	}
	return t;
}

static void test_recorded(void **state)
{
	(void)state;
	struct nstat *t = load_all();
	struct lc_err e = {0};
	int64_t v;
	assert_int_equal(nstat_find(t, "TcpExtListenOverflows", &v, &e), 0);
	assert_true(v >= 1);
	assert_int_equal(nstat_find(t, "TcpActiveOpens", &v, &e), 0);
	assert_int_equal(v, 6);
	assert_int_equal(nstat_find(t, "TcpMaxConn", &v, &e), 0);
	assert_int_equal(v, -1);  /* the one signed counter */
	assert_int_equal(nstat_find(t, "Ip6InReceives", &v, &e), 0);

	/* every counter nstat printed, with the same value */
	char *ref = slurp(DATA "nstat.txt");
	int checked = 0;
	for (char *line = strtok(ref, "\n"); line; line = strtok(NULL, "\n")) {
		char name[64];
		long long want;
		if (line[0] == '#' || sscanf(line, "%63s %lld", name, &want) != 2)
			continue;
		if (nstat_find(t, name, &v, &e) != 0)
			fail_msg("nstat knows %s, we do not: %s", name, e.msg);
		if (v != want)
			fail_msg("%s: nstat %lld, we %lld", name, want, (long long)v);
		checked++;
	}
	assert_true(checked > 100);
	free(ref);
	nstat_free(t);
}

static void test_unknown_suggests(void **state)
{
	(void)state;
	struct nstat *t = load_all();
	struct lc_err e = {0};
	int64_t v;
	assert_int_equal(nstat_find(t, "TcpExtListenOverflow", &v, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "did you mean TcpExtListenOverflows?"));
	assert_int_equal(nstat_find(t, "Nonsense", &v, &e), -ENOENT);
	assert_null(strstr(e.msg, "did you mean"));
	nstat_free(t);
}

static void test_malformed(void **state)
{
	(void)state;
	const char *bad[] = {
		"TcpExt: A B\n",                      /* header without values */
		"TcpExt: A B\nTcpExt: 1\n",           /* fewer values */
		"TcpExt: A\nTcpExt: 1 2\n",           /* more values */
		"TcpExt: A\nIpExt: 1\n",              /* another prefix */
		"TcpExt: A\nTcpExt: x\n",             /* not a number */
		"Ip6InReceives\n",                    /* snmp6 line without value */
		"Ip6InReceives 12z\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nstat *t = nstat_new();
		struct lc_err e = {0};
		assert_int_equal(nstat_parse(t, bad[i], &e), -EBADMSG);
		assert_true(strlen(e.msg) > 0);
		nstat_free(t);
	}
	struct nstat *t = nstat_new();
	struct lc_err e = {0};
	int64_t v;
	assert_int_equal(nstat_parse(t, "Tcp: A B\nTcp: 18446744073709551615 -3", &e), 0);
	assert_int_equal(nstat_find(t, "TcpA", &v, &e), 0);
	assert_int_equal(v, -1);  /* u64 max wraps as nstat's does */
	assert_int_equal(nstat_find(t, "TcpB", &v, &e), 0);
	assert_int_equal(v, -3);
	nstat_free(t);
	nstat_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recorded),
		cmocka_unit_test(test_unknown_suggests),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
