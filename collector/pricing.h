/* The pricing catalog: plans with per-metric prices and tenant -> plan
 * assignments, parsed from JSON (format in the README / examples/pricing.json).
 *
 * Money: amounts in the catalog are minor units of the plan's currency,
 * given as a JSON integer (700 = 7.00 USD) or a decimal string with up to 9
 * fraction digits ("0.05" = a twentieth of a cent).  Internally every price
 * is held in nano-minor units (1e-9); a line (one metric of one plan in one
 * period) is computed exactly in 128-bit integers and rounded half up to
 * whole minor units once, at the end.  A result beyond int64 is -ERANGE. */
#ifndef TM_PRICING_H
#define TM_PRICING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metric.h"

#define PRICING_SCALE 1000000000LL      /* nano-minor units per minor unit */
#define PRICING_INF UINT64_MAX          /* tier up_to "inf" */

enum price_model {
	PRICE_PER_UNIT = 0,   /* billable x unit_amount */
	PRICE_PACKAGE,        /* ceil(billable / package_size) x unit_amount */
	PRICE_GRADUATED,      /* each tier's units at that tier's price, + its flat */
	PRICE_VOLUME,         /* all units at the price of the tier the total falls in */
	PRICE_FLAT,           /* flat_amount only */
};

struct price_tier {
	uint64_t up_to;                  /* inclusive; PRICING_INF for the last */
	int64_t unit_nano, flat_nano;
};

/* billable = max(0, quantity - included); flat_amount is added every period
 * whatever the model. */
struct price {
	int metric;
	enum price_model model;
	uint64_t included;
	int64_t unit_nano;               /* per_unit; package: per package */
	uint64_t package_size;
	int64_t flat_nano;
	struct price_tier *tiers;
	size_t ntiers;
};

struct plan {
	char *name;
	char currency[4];
	struct price *prices;
	size_t nprices;
};

struct plan_assignment {
	char *tenant, *plan;
	int64_t from_ms, to_ms;          /* [from, to); to = INT64_MAX if open */
};

struct pricing {
	struct plan *plans;
	size_t nplans;
	struct plan_assignment *assignments;
	size_t nassignments;
	char *default_plan;              /* may be NULL */
};

/* Parses and validates a catalog; origin names it in errors ("FILE: where:
 * what").  *out owned by the caller, freed with pricing_free(). */
int pricing_parse(const char *json, const char *origin, struct pricing **out,
		  char *err, size_t errlen);
/* Reads the file (at most 16 MiB) and parses it; *text (may be NULL) gets
 * the file's text, malloc'd, for storing. */
int pricing_load_file(const char *path, struct pricing **out, char **text,
		      char *err, size_t errlen);
void pricing_free(struct pricing *p);

/* The plan in force for tenant at at_ms: its assignment covering at_ms,
 * else the default plan, else NULL. */
const struct plan *pricing_plan_for(const struct pricing *p, const char *tenant,
				    int64_t at_ms);
/* True when an assignment of tenant overlaps [from, to) (default plan not
 * counted). */
bool pricing_assigned(const struct pricing *p, const char *tenant,
		      int64_t from_ms, int64_t to_ms);
const struct price *plan_price(const struct plan *pl, int metric);

/* The amount for quantity under one price: 0 or -ERANGE. */
int price_amount(const struct price *pr, uint64_t quantity, int64_t *amount);
/* Plan x metric: 0, -ENOENT if the plan has no price for it, -ERANGE. */
int plan_amount(const struct plan *pl, int metric, uint64_t quantity, int64_t *amount);

/* A money value: JSON-style integer text or decimal string -> nano-minor.
 * 0 or -EINVAL (negative, more than 9 decimals, junk) / -ERANGE. */
int pricing_parse_money(const char *s, int64_t *nano);

#endif
