/* Unit tests of the userlink impairment model (labctl/engine/impair.c): no root, no devices.
 * Tolerances are several binomial standard deviations wide, so a correct model fails them
 * with negligible probability; each test uses a fixed seed, so a failure reproduces. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/impair.h"

#define N 100000

static double loss_rate(const struct lab_impair *p, uint64_t seed)
{
	struct impair_dir d;
	struct impair_verdict v;
	int lost = 0;
	impair_dir_init(&d, p, seed, impair_stream_id(0, 0));
	for (int i = 0; i < N; i++) {
		impair_decide(&d, (int64_t)i * 1000, 100, 0, &v);
		lost += v.fate == IMPAIR_LOSS;
	}
	return (double)lost / N;
}

static void test_loss_rate(void **state)
{
	(void)state;
	const double rates[] = {1.0, 10.0, 50.0};
	for (size_t k = 0; k < 3; k++) {
		struct lab_impair p = {.set = IMP_LOSS, .loss = rates[k]};
		double want = rates[k] / 100, got = loss_rate(&p, 42 + k);
		double sd = sqrt(want * (1 - want) / N);
		if (fabs(got - want) > 5 * sd)
			fail_msg("loss %.0f%%: measured %.4f, want %.4f +- %.4f", rates[k], got, want,
				 5 * sd);
	}
	struct lab_impair none = {.set = IMP_LOSS, .loss = 0};
	assert_true(loss_rate(&none, 1) == 0.0);
	struct lab_impair all = {.set = IMP_LOSS, .loss = 100};
	assert_true(loss_rate(&all, 1) == 1.0);
}

/* Mean length of runs of consecutive losses. */
static double mean_burst(const struct lab_impair *p, uint64_t seed, double *rate)
{
	struct impair_dir d;
	struct impair_verdict v;
	int lost = 0, bursts = 0, prev = 0;
	impair_dir_init(&d, p, seed, impair_stream_id(0, 0));
	for (int i = 0; i < N; i++) {
		impair_decide(&d, (int64_t)i * 1000, 100, 0, &v);
		int l = v.fate == IMPAIR_LOSS;
		lost += l;
		bursts += l && !prev;
		prev = l;
	}
	*rate = (double)lost / N;
	return bursts ? (double)lost / bursts : 0;
}

static void test_loss_correlation_makes_bursts(void **state)
{
	(void)state;
	double r0, r1;
	struct lab_impair plain = {.set = IMP_LOSS, .loss = 10};
	struct lab_impair corr = {.set = IMP_LOSS | IMP_LOSS_CORR, .loss = 10, .loss_corr = 75};
	double b0 = mean_burst(&plain, 7, &r0), b1 = mean_burst(&corr, 7, &r1);
	/* Independent 10% loss: mean burst 1/(1-0.1) = 1.11. */
	assert_true(fabs(b0 - 1.111) < 0.05);
	/* Correlation makes bursts and keeps the mean: 0.75 + 0.25 * 0.1 = 0.775 repeat
	 * probability, mean burst 1 / (1 - 0.775) = 4.4. */
	if (!(b1 > 4.0 && b1 < 4.9 && fabs(r1 - 0.1) < 0.01))
		fail_msg("burst %.3f rate %.4f (plain %.3f %.4f)", b1, r1, b0, r0);
}

static void test_gilbert_elliott(void **state)
{
	(void)state;
	/* p = 1%, r = 10%, loss 100% in bad, 0% in good: the chain spends p/(p+r) = 1/11 of
	 * the time in the bad state, in bursts of mean length 1/r = 10 frames. */
	struct lab_impair p = {.set = IMP_LOSS_GE, .ge_p = 1, .ge_r = 10, .ge_h = 100, .ge_k = 0};
	double rate, burst = mean_burst(&p, 99, &rate);
	if (fabs(rate - 1.0 / 11) > 0.012 || fabs(burst - 10) > 1.5)
		fail_msg("GE: rate %.4f (want 0.0909), burst %.2f (want 10)", rate, burst);
}

static void test_determinism_by_seed(void **state)
{
	(void)state;
	struct lab_impair p = {.set = IMP_LOSS | IMP_DELAY | IMP_JITTER | IMP_DUP, .loss = 20,
			       .delay_ns = 10000000, .jitter_ns = 2000000, .dup = 5};
	struct impair_dir a, b, c, other_dir;
	impair_dir_init(&a, &p, 1234, impair_stream_id(3, 0));
	impair_dir_init(&b, &p, 1234, impair_stream_id(3, 0));
	impair_dir_init(&c, &p, 1235, impair_stream_id(3, 0));
	impair_dir_init(&other_dir, &p, 1234, impair_stream_id(3, 1));
	int diff_seed = 0, diff_dir = 0;
	for (int i = 0; i < 1000; i++) {
		struct impair_verdict va, vb, vc, vd;
		int64_t t = (int64_t)i * 100000;
		impair_decide(&a, t, 100, 0, &va);
		impair_decide(&b, t, 100, 0, &vb);
		impair_decide(&c, t, 100, 0, &vc);
		impair_decide(&other_dir, t, 100, 0, &vd);
		assert_int_equal(va.fate, vb.fate);
		assert_int_equal(va.ncopies, vb.ncopies);
		if (va.ncopies)
			assert_true(va.copy[0].send_ns == vb.copy[0].send_ns);
		diff_seed += va.fate != vc.fate;
		diff_dir += va.fate != vd.fate;
	}
	/* Two independent 20% streams disagree on about 32% of frames. */
	assert_true(diff_seed > 200);
	assert_true(diff_dir > 200);
}

static void test_jitter_uniform_and_normal(void **state)
{
	(void)state;
	const int64_t mu = 50000000, sigma = 5000000;
	struct lab_impair p = {.set = IMP_DELAY | IMP_JITTER, .delay_ns = mu, .jitter_ns = sigma};
	struct impair_dir d;
	struct impair_verdict v;
	double sum = 0, sq = 0;
	impair_dir_init(&d, &p, 5, 0);
	for (int i = 0; i < N; i++) {
		impair_decide(&d, 0, 100, 0, &v);
		int64_t x = v.copy[0].send_ns;
		assert_true(x >= mu - sigma && x < mu + sigma);
		sum += (double)x;
		sq += (double)x * (double)x;
	}
	double mean = sum / N, sd = sqrt(sq / N - mean * mean);
	assert_true(fabs(mean - (double)mu) < 0.01 * (double)sigma * 5);
	/* Uniform on [mu - s, mu + s): sd = s / sqrt(3). */
	assert_true(fabs(sd - (double)sigma / sqrt(3)) < 0.02 * (double)sigma);

	struct impair_dist table;
	assert_int_equal(impair_dist_builtin(LAB_DIST_NORMAL, &table), 0);
	p.set |= IMP_DIST;
	p.dist = LAB_DIST_NORMAL;
	impair_dir_init(&d, &p, 6, 0);
	d.dist = &table;
	sum = sq = 0;
	for (int i = 0; i < N; i++) {
		impair_decide(&d, 0, 100, 0, &v);
		double x = (double)v.copy[0].send_ns;
		sum += x;
		sq += x * x;
	}
	mean = sum / N;
	sd = sqrt(sq / N - mean * mean);
	impair_dist_free(&table);
	if (fabs(mean - (double)mu) > 0.02 * (double)sigma || fabs(sd - (double)sigma) > 0.05 * (double)sigma)
		fail_msg("normal: mean %.0f sd %.0f, want %lld and %lld", mean, sd, (long long)mu,
			 (long long)sigma);
}

static void test_reorder_and_gap(void **state)
{
	(void)state;
	struct lab_impair p = {.set = IMP_DELAY | IMP_REORDER, .delay_ns = 10000000, .reorder = 25};
	struct impair_dir d;
	struct impair_verdict v;
	int re = 0;
	impair_dir_init(&d, &p, 11, 0);
	for (int i = 0; i < N; i++) {
		impair_decide(&d, 1000, 100, 0, &v);
		if (v.copy[0].reordered) {
			re++;
			assert_true(v.copy[0].send_ns == 1000);   /* out at once */
		} else {
			assert_true(v.copy[0].send_ns == 1000 + 10000000);
		}
	}
	assert_true(fabs((double)re / N - 0.25) < 0.007);

	/* gap 5: at most one frame in five goes early, and only after 4 delayed ones. */
	p.set |= IMP_GAP;
	p.gap = 5;
	p.reorder = 100;
	impair_dir_init(&d, &p, 12, 0);
	for (int i = 0; i < 50; i++) {
		impair_decide(&d, 0, 100, 0, &v);
		assert_int_equal(v.copy[0].reordered, (i % 5) == 4);
	}
}

static void test_rate_serializes(void **state)
{
	(void)state;
	/* 1 Mbit/s, 1250-byte frames: 10 ms each; a burst of 5 at t=0 leaves at 10..50 ms. */
	struct lab_impair p = {.set = IMP_RATE, .rate_bps = 1000000};
	struct impair_dir d;
	struct impair_verdict v;
	impair_dir_init(&d, &p, 1, 0);
	for (uint32_t i = 0; i < 5; i++) {
		impair_decide(&d, 0, 1250, i, &v);
		assert_int_equal(v.fate, IMPAIR_SEND);
		assert_true(v.copy[0].send_ns == (int64_t)(i + 1) * 10000000);
	}
	/* After the queue drained, a new frame starts fresh. */
	impair_decide(&d, 1000000000, 1250, 0, &v);
	assert_true(v.copy[0].send_ns == 1000000000 + 10000000);
}

static void test_limit_duplicate_corrupt(void **state)
{
	(void)state;
	struct impair_dir d;
	struct impair_verdict v;
	struct lab_impair lim = {.set = IMP_LIMIT, .limit = 3};
	impair_dir_init(&d, &lim, 1, 0);
	impair_decide(&d, 0, 100, 2, &v);
	assert_int_equal(v.fate, IMPAIR_SEND);
	impair_decide(&d, 0, 100, 3, &v);
	assert_int_equal(v.fate, IMPAIR_OVERLIMIT);

	struct lab_impair dup = {.set = IMP_DUP, .dup = 100};
	impair_dir_init(&d, &dup, 1, 0);
	impair_decide(&d, 0, 100, 0, &v);
	assert_int_equal(v.ncopies, 2);

	struct lab_impair cor = {.set = IMP_CORRUPT, .corrupt = 100};
	impair_dir_init(&d, &cor, 1, 0);
	for (int i = 0; i < 100; i++) {
		impair_decide(&d, 0, 60, 0, &v);
		assert_true(v.copy[0].corrupt_byte >= 0 && v.copy[0].corrupt_byte < 60);
		assert_true(v.copy[0].corrupt_bit >= 0 && v.copy[0].corrupt_bit < 8);
	}
}

static size_t frame_v4(uint8_t *f, uint8_t flags)
{
	memset(f, 0, 128);
	f[12] = 0x08;
	f[13] = 0x00;
	f[14] = 0x45;          /* IPv4, IHL 5 */
	f[14 + 9] = 6;         /* TCP */
	f[14 + 20 + 12] = 0x50;
	f[14 + 20 + 13] = flags;
	return 14 + 20 + 20;
}

static void test_tcp_flags_and_rules(void **state)
{
	(void)state;
	uint8_t f[128];
	size_t n = frame_v4(f, LAB_TCPF_SYN | LAB_TCPF_ACK);
	assert_int_equal(impair_tcp_flags(f, n), LAB_TCPF_SYN | LAB_TCPF_ACK);
	assert_int_equal(impair_tcp_flags(f, 30), -1);            /* truncated */
	f[14 + 6] = 0x00;
	f[14 + 7] = 0x10;                                         /* a later fragment */
	assert_int_equal(impair_tcp_flags(f, n), -1);
	n = frame_v4(f, LAB_TCPF_ACK);
	f[14 + 9] = 17;                                           /* UDP */
	assert_int_equal(impair_tcp_flags(f, n), -1);

	/* IPv6 with one hop-by-hop header. */
	memset(f, 0, sizeof(f));
	f[12] = 0x86;
	f[13] = 0xdd;
	f[14] = 0x60;
	f[14 + 6] = 0;         /* next: hop-by-hop */
	f[54] = 6;             /* its next: TCP; length 0 = 8 bytes */
	f[62 + 13] = LAB_TCPF_FIN | LAB_TCPF_ACK;
	assert_int_equal(impair_tcp_flags(f, 62 + 20), LAB_TCPF_FIN | LAB_TCPF_ACK);

	struct lab_rule ack = {.flags = LAB_TCPF_ACK, .mask = 0x3f};
	assert_true(impair_rule_match(&ack, LAB_TCPF_ACK));
	assert_false(impair_rule_match(&ack, LAB_TCPF_ACK | LAB_TCPF_PSH));
	assert_false(impair_rule_match(&ack, LAB_TCPF_SYN | LAB_TCPF_ACK));
	assert_false(impair_rule_match(&ack, -1));
	struct lab_rule anyack = {.flags = LAB_TCPF_ACK, .mask = LAB_TCPF_ACK};
	assert_true(impair_rule_match(&anyack, LAB_TCPF_ACK | LAB_TCPF_PSH));
}

static void test_dist_file_matches_builtin(void **state)
{
	(void)state;
	/* iproute2's normal table, where installed, has the same shape as ours. */
	struct impair_dist file, ours;
	char used[256];
	assert_int_equal(impair_dist_find(LAB_DIST_NORMAL, &file, used, sizeof(used)), 0);
	assert_int_equal(impair_dist_builtin(LAB_DIST_NORMAL, &ours), 0);
	assert_true(file.size > 0);
	double sf = 0, so = 0;
	for (size_t i = 0; i < file.size; i++)
		sf += (double)file.table[i] * file.table[i];
	for (size_t i = 0; i < ours.size; i++)
		so += (double)ours.table[i] * ours.table[i];
	double rf = sqrt(sf / file.size) / IMPAIR_DIST_SCALE, ro = sqrt(so / ours.size) / IMPAIR_DIST_SCALE;
	impair_dist_free(&file);
	impair_dist_free(&ours);
	if (fabs(rf - ro) > 0.05)
		fail_msg("normal table sd: %s %.3f, built-in %.3f", used, rf, ro);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loss_rate),
		cmocka_unit_test(test_loss_correlation_makes_bursts),
		cmocka_unit_test(test_gilbert_elliott),
		cmocka_unit_test(test_determinism_by_seed),
		cmocka_unit_test(test_jitter_uniform_and_normal),
		cmocka_unit_test(test_reorder_and_gap),
		cmocka_unit_test(test_rate_serializes),
		cmocka_unit_test(test_limit_duplicate_corrupt),
		cmocka_unit_test(test_tcp_flags_and_rules),
		cmocka_unit_test(test_dist_file_matches_builtin),
	};
	return cmocka_run_group_tests_name("userlink", tests, NULL, NULL);
}
