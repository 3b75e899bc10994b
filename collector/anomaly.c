/* Median / MAD anomaly detection with an hour-of-week baseline (anomaly.h). */
#include "anomaly.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WEEK 168
#define DAY 24
#define MAD_K 1.4826

void anomaly_conf_default(struct anomaly_conf *c)
{
	c->z = 6.0;
	c->min_rel = 0.5;
	c->rel_floor = 0.05;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of a[0..n), n > 0; sorts a. */
static double median(double *a, size_t n)
{
	qsort(a, n, sizeof(*a), cmp_double);
	return n % 2 ? a[n / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
}

/* Median of v at i - step*k (k = 1..max): over the points not judged
 * anomalous when at least 3 remain, else over all of them when at least 3
 * exist; -1 if fewer. */
static double seasonal_median(const double *v, const int8_t *bad, size_t i,
			      size_t step, size_t max)
{
	double good[8], all[8];
	size_t ng = 0, na = 0;

	for (size_t k = 1; k <= max && i >= k * step; k++) {
		all[na++] = v[i - k * step];
		if (!bad[i - k * step])
			good[ng++] = v[i - k * step];
	}
	if (ng >= 3)
		return median(good, ng);
	if (na >= 3)
		return median(all, na);
	return -1;
}

static double baseline_at(const double *v, const int8_t *bad, size_t i)
{
	double b = seasonal_median(v, bad, i, WEEK, 4);

	return b >= 0 ? b : seasonal_median(v, bad, i, DAY, 7);
}

int anomaly_detect(const double *v, size_t n, size_t eval_from,
		   const struct anomaly_conf *c, struct anomaly_point *out)
{
	double *base = calloc(n ? n : 1, sizeof(double));
	double *res = calloc(WEEK, sizeof(double));
	int8_t *bad = calloc(n ? n : 1, 1);
	int flagged = 0;

	if (!base || !res || !bad) {
		flagged = -ENOMEM;
		goto cleanup;
	}
	/* Walk forward so anomalies found early are kept out of later
	 * baselines and scales. */
	for (size_t i = 0; i < n; i++) {
		size_t m = 0;
		double med, mad, scale, dev;

		base[i] = baseline_at(v, bad, i);
		if (base[i] < 0) {
			if (i >= eval_from)
				out[i] = (struct anomaly_point){ .baseline = -1 };
			continue;
		}
		for (size_t j = i > WEEK ? i - WEEK : 0; j < i; j++)
			if (base[j] >= 0 && !bad[j])
				res[m++] = v[j] - base[j];
		if (m >= DAY) {
			med = median(res, m);
			for (size_t j = 0; j < m; j++)
				res[j] = fabs(res[j] - med);
			mad = median(res, m);
		} else {
			mad = 0;
		}
		scale = MAD_K * mad;
		if (scale < c->rel_floor * base[i])
			scale = c->rel_floor * base[i];
		if (scale < 1)
			scale = 1;
		dev = v[i] - base[i];
		if (fabs(dev / scale) > c->z && fabs(dev) > c->min_rel * base[i])
			bad[i] = 1;     /* history too: keeps it out of later baselines */
		if (i < eval_from)
			continue;
		out[i].baseline = base[i];
		out[i].z = dev / scale;
		out[i].flag = bad[i] ? (dev > 0 ? 1 : -1) : 0;
		flagged += bad[i];
	}
cleanup:
	free(base);
	free(res);
	free(bad);
	return flagged;
}
