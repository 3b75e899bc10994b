/* Period and time argument parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "period.h"

static void test_months_and_days(void **state)
{
	int64_t from, to;
	char buf[32];

	(void)state;
	assert_int_equal(period_parse("2026-11", &from, &to), 0);
	assert_int_equal(from, 1793491200000LL);          /* 2026-11-01T00:00:00Z */
	assert_int_equal(to - from, 30LL * 86400000);
	assert_int_equal(period_parse("2026-12", &from, &to), 0);
	period_format_time(to, buf, sizeof(buf));
	assert_string_equal(buf, "2027-01-01T00:00:00Z");
	assert_int_equal(period_parse("2028-02-29", &from, &to), 0);
	assert_int_equal(to - from, 86400000);
	assert_int_equal(period_parse("2027-02-29", &from, &to), -EINVAL);
	assert_int_equal(period_parse("2026-13", &from, &to), -EINVAL);
	assert_int_equal(period_parse("2026-1", &from, &to), -EINVAL);
	assert_int_equal(period_parse("2026-11x", &from, &to), -EINVAL);
	period_month_of(1793491200000LL + 5000, buf, sizeof(buf), &from, &to);
	assert_int_equal(from, 1793491200000LL);
	assert_string_equal(buf, "2026-11");
	period_month_of(1796083199999LL, buf, sizeof(buf), &from, &to);  /* last ms of Nov */
	assert_string_equal(buf, "2026-11");
	assert_int_equal(to, 1796083200000LL);
	assert_int_equal(period_parse_month("2026-11-02", &from, &to), -EINVAL);
}

static void test_instants(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(period_parse_time("2026-11-01T00:00:10Z", &ms), 0);
	assert_int_equal(ms, 1793491210000LL);
	assert_int_equal(period_parse_time("2026-11-01 00:00:10", &ms), 0);
	assert_int_equal(ms, 1793491210000LL);
	assert_int_equal(period_parse_time("1793491210", &ms), 0);
	assert_int_equal(ms, 1793491210000LL);
	assert_int_equal(period_parse_time("2026-11-01T25:00:00Z", &ms), -EINVAL);
	assert_int_equal(period_parse_time("yesterday", &ms), -EINVAL);
	assert_int_equal(period_parse_time("", &ms), -EINVAL);
	assert_int_equal(period_parse_time("-5", &ms), -EINVAL);
	assert_int_equal(period_parse_time("2026-11-01T05:30:10+05:30", &ms), 0);
	assert_int_equal(ms, 1793491210000LL);
	assert_int_equal(period_parse_time("2026-02-30", &ms), -EINVAL);
	/* fractions of a second, as APIs write them: kept to the millisecond */
	assert_int_equal(period_parse_time("2026-11-01T00:00:10.000Z", &ms), 0);
	assert_int_equal(ms, 1793491210000LL);
	assert_int_equal(period_parse_time("2026-11-01T00:00:10.5Z", &ms), 0);
	assert_int_equal(ms, 1793491210500LL);
	assert_int_equal(period_parse_time("2026-11-01T05:30:10.123456789+05:30", &ms), 0);
	assert_int_equal(ms, 1793491210123LL);
	assert_int_equal(period_parse_time("2026-11-01T00:00:10.Z", &ms), -EINVAL);
	assert_int_equal(period_parse_time("2026-11-01T00:00:10.1234567891Z", &ms), -EINVAL);
	assert_int_equal(period_parse_time("2026-11-01T00:00:10,5Z", &ms), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_months_and_days),
		cmocka_unit_test(test_instants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
