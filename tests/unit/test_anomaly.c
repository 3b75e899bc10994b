/* usage_anomaly's statistics: spikes and drops against an hour-of-week
 * baseline; weekly seasonality and noise are not anomalies; no verdict
 * without history. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

#define N (5 * 168)

/* Weekdays busy, weekends quiet, a daily curve and +-3% deterministic
 * wobble. */
static void series(double *v)
{
	for (int h = 0; h < N; h++) {
		int hod = h % 24, dow = (h / 24) % 7;
		double base = (dow >= 5 ? 300 : 1000) * (hod >= 9 && hod < 18 ? 3 : 1);

		v[h] = base * (1 + 0.03 * sin(h * 1.7));
	}
}

static void test_quiet_on_seasonal_series(void **state)
{
	double v[N];
	struct anomaly_point p[N];
	struct anomaly_conf c;

	anomaly_conf_default(&c);
	series(v);
	assert_int_equal(anomaly_detect(v, N, 4 * 168, &c, p), 0);
	for (int h = 4 * 168; h < N; h++)
		assert_true(p[h].baseline > 0);
}

static void test_spike_and_drop(void **state)
{
	double v[N];
	struct anomaly_point p[N];
	struct anomaly_conf c;
	int spike = 4 * 168 + 30, drop = 4 * 168 + 100;

	anomaly_conf_default(&c);
	series(v);
	v[spike] *= 4;
	for (int h = drop; h < drop + 5; h++)   /* a 5-hour outage */
		v[h] = 0;
	assert_int_equal(anomaly_detect(v, N, 4 * 168, &c, p), 6);
	assert_int_equal(p[spike].flag, 1);
	assert_true(p[spike].z > c.z);
	for (int h = drop; h < drop + 5; h++)
		assert_int_equal(p[h].flag, -1);
	assert_int_equal(p[spike + 1].flag, 0);
}

static void test_history_anomaly_does_not_poison(void **state)
{
	double v[N];
	struct anomaly_point p[N];
	struct anomaly_conf c;

	anomaly_conf_default(&c);
	series(v);
	v[4 * 168 + 10 - 3 * 168] *= 20;         /* same hour-of-week, 3 weeks back */
	assert_int_equal(anomaly_detect(v, N, 4 * 168, &c, p), 0);
}

static void test_no_history_no_verdict(void **state)
{
	double v[48];
	struct anomaly_point p[48];
	struct anomaly_conf c;

	anomaly_conf_default(&c);
	for (int i = 0; i < 48; i++)
		v[i] = 100;
	v[47] = 100000;
	assert_int_equal(anomaly_detect(v, 48, 40, &c, p), 0);   /* 1 day back only */
	assert_true(p[47].baseline < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quiet_on_seasonal_series),
		cmocka_unit_test(test_spike_and_drop),
		cmocka_unit_test(test_history_anomaly_does_not_poison),
		cmocka_unit_test(test_no_history_no_verdict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
