/* Anomaly detector quality on synthetic hourly series (seeded): daily and
 * weekly seasonality, a slow trend, noise, and injected spikes (x3..x8)
 * and drops (one hour to 0..25%, or an outage of 2..8 hours at 0..10%).
 * Prints precision and recall over the judged hours.
 *
 * usage: anomaly [SERIES] [SEED] */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

#define WEEKS 6
#define HOURS (WEEKS * 168)
#define JUDGED (2 * 168)

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t x = rng_state;   /* xorshift64* */

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 2685821657736338717ULL;
}

static double unif(void)
{
	return (double)(rng() >> 11) / 9007199254740992.0;
}

static double gauss(void)
{
	double u = unif(), v = unif();

	return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

int main(int argc, char **argv)
{
	int nseries = argc > 1 ? atoi(argv[1]) : 300;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 20261125;
	struct anomaly_conf c;
	double v[HOURS];
	int8_t truth[HOURS];
	struct anomaly_point *pts = calloc(HOURS, sizeof(*pts));
	long tp = 0, fp = 0, fn = 0, injected = 0;

	rng_state = seed ? seed : 1;
	anomaly_conf_default(&c);
	for (int s = 0; s < nseries; s++) {
		double level = 200 + unif() * 20000, growth = 1 + unif() * 0.004;
		int phase = (int)(unif() * 24);

		for (int h = 0; h < HOURS; h++) {
			int hod = (h + phase) % 24, dow = (h / 24) % 7;
			double day = 0.35 + 0.65 * pow(sin(M_PI * hod / 24.0), 2);
			double mean = level * day * (dow >= 5 ? 0.55 : 1) * pow(growth, h / 24.0);
			double x = mean + gauss() * (0.04 * mean + sqrt(mean));

			v[h] = x < 0 ? 0 : floor(x);
			truth[h] = 0;
		}
		for (int h = 0; h < HOURS; h++) {
			double r = unif();

			if (truth[h])
				continue;
			if (r < 0.003) {                       /* spike */
				v[h] = floor(v[h] * (3 + unif() * 5));
				truth[h] = 1;
			} else if (r < 0.005) {                /* one-hour drop */
				v[h] = floor(v[h] * unif() * 0.25);
				truth[h] = -1;
			} else if (r < 0.006) {                /* outage: a sudden sustained drop */
				int len = 2 + (int)(unif() * 7);

				for (int k = h; k < h + len && k < HOURS; k++) {
					v[k] = floor(v[k] * unif() * 0.1);
					truth[k] = -1;
				}
			}
		}
		memset(pts, 0, HOURS * sizeof(*pts));
		if (anomaly_detect(v, HOURS, HOURS - JUDGED, &c, pts) < 0)
			return 1;
		for (int h = HOURS - JUDGED; h < HOURS; h++) {
			bool hit = pts[h].flag != 0;

			injected += truth[h] != 0;
			tp += hit && truth[h];
			fp += hit && !truth[h];
			fn += !hit && truth[h];
		}
	}
	fprintf(stderr, "anomaly: %d series x %d judged hours, %ld anomalous hours, "
		"tp %ld fp %ld fn %ld\n", nseries, JUDGED, injected, tp, fp, fn);
	printf("BENCH anomaly_precision %.4f ratio\n", tp + fp ? (double)tp / (tp + fp) : 0);
	printf("BENCH anomaly_recall %.4f ratio\n", tp + fn ? (double)tp / (tp + fn) : 0);
	free(pts);
	return 0;
}
