#include "conf.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct conf_ctx {
	const struct conf_table *tables;
	char msg[512];          /* first error, without file:line */
	bool failed;
};

int conf_parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int conf_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Number followed by an optional unit from the table; unit scales it.  A
 * bare 0 needs none: it is 0 in every unit. */
static int parse_scaled(const char *s, const char *const *units,
			const int64_t *scale, size_t nunits, int64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (v == 0 && !*end) {
		*out = 0;
		return 0;
	}
	for (size_t i = 0; i < nunits; i++) {
		if (strcmp(end, units[i]) == 0) {
			if (v > (unsigned long long)(INT64_MAX / scale[i]))
				return -EINVAL;
			*out = (int64_t)v * scale[i];
			return 0;
		}
	}
	return -EINVAL;
}

int conf_parse_duration_ms(const char *s, int64_t *out)
{
	static const char *const units[] = { "ms", "s", "m", "h", "d" };
	static const int64_t scale[] = { 1, 1000, 60000, 3600000, 86400000 };

	return parse_scaled(s, units, scale, 5, out);
}

int conf_parse_size(const char *s, int64_t *out)
{
	static const char *const units[] = { "", "K", "M", "G", "KiB", "MiB", "GiB" };
	static const int64_t scale[] = { 1, 1 << 10, 1 << 20, 1 << 30,
					 1 << 10, 1 << 20, 1 << 30 };

	return parse_scaled(s, units, scale, 7, out);
}

const char *conf_section_arg(const char *section)
{
	const char *sp = strchr(section, ' ');

	if (!sp)
		return "";
	while (*sp == ' ')
		sp++;
	return sp;
}

static bool section_matches(const char *pattern, const char *section)
{
	size_t n = strlen(pattern);

	if (n >= 2 && pattern[n - 1] == '*' && pattern[n - 2] == ' ')
		return strncmp(pattern, section, n - 1) == 0 && section[n - 1];
	return strcmp(pattern, section) == 0;
}

/* v as a config file would say it: a duration or size in the largest unit
 * that holds it whole (86400000 ms is "1d"), anything else as a number. */
static void fmt_in_unit(char *buf, size_t len, int64_t v, enum conf_type type)
{
	static const char *const dur_units[] = { "d", "h", "m", "s", "ms" };
	static const int64_t dur_scale[] = { 86400000, 3600000, 60000, 1000, 1 };
	static const char *const size_units[] = { "G", "M", "K", "" };
	static const int64_t size_scale[] = { 1 << 30, 1 << 20, 1 << 10, 1 };
	const char *const *units = type == CONF_DURATION ? dur_units : size_units;
	const int64_t *scale = type == CONF_DURATION ? dur_scale : size_scale;
	size_t n = type == CONF_DURATION ? 5 : 4;

	if ((type != CONF_DURATION && type != CONF_SIZE) || v == 0) {
		snprintf(buf, len, "%lld", (long long)v);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (v % scale[i] == 0) {
			snprintf(buf, len, "%lld%s", (long long)(v / scale[i]), units[i]);
			return;
		}
	}
}

static int set_value(struct conf_ctx *c, void *obj, const struct conf_key *k,
		     const char *section, const char *value)
{
	char *field = (char *)obj + k->offset;
	int64_t v = 0;
	int err;

	switch (k->type) {
	case CONF_STRING:
		if (strlen(value) >= k->size) {
			snprintf(c->msg, sizeof(c->msg),
				 "value of '%s' is longer than %zu bytes",
				 k->name, k->size - 1);
			return -EINVAL;
		}
		memcpy(field, value, strlen(value) + 1);
		return 0;
	case CONF_BOOL:
		err = conf_parse_bool(value, (bool *)field);
		if (err)
			snprintf(c->msg, sizeof(c->msg),
				 "'%s' must be yes or no, not '%s'", k->name, value);
		return err;
	case CONF_INT:
		err = conf_parse_int(value, &v);
		break;
	case CONF_DURATION:
		err = conf_parse_duration_ms(value, &v);
		break;
	case CONF_SIZE:
		err = conf_parse_size(value, &v);
		break;
	case CONF_CUSTOM:
		err = k->parse(obj, section, k->name, value, c->msg,
			       sizeof(c->msg));
		if (err && !c->msg[0])
			snprintf(c->msg, sizeof(c->msg), "bad value '%s' for '%s'",
				 value, k->name);
		return err;
	default:
		err = -EINVAL;
		break;
	}
	if (err) {
		snprintf(c->msg, sizeof(c->msg), "bad %s '%s' for '%s'",
			 k->type == CONF_DURATION ? "duration (e.g. 10s, 500ms)" :
			 k->type == CONF_SIZE ? "size (e.g. 64M)" : "number",
			 value, k->name);
		return err;
	}
	if ((k->min || k->max) && (v < k->min || v > k->max)) {
		char lo[32], hi[32];

		fmt_in_unit(lo, sizeof(lo), k->min, k->type);
		fmt_in_unit(hi, sizeof(hi), k->max, k->type);
		snprintf(c->msg, sizeof(c->msg), "'%s' = %s is out of range [%s, %s]",
			 k->name, value, lo, hi);
		return -ERANGE;
	}
	*(int64_t *)field = v;
	return 0;
}

/* inih handler: returns 0 on error so ini_parse reports the line. */
static int conf_handler(void *user, const char *section, const char *name,
			const char *value)
{
	struct conf_ctx *c = user;
	bool section_known = false;

	if (!name)      /* section start callback, if inih was built with it */
		return 1;
	if (c->failed)  /* keep only the first error */
		return 1;
	for (const struct conf_table *t = c->tables; t->keys; t++) {
		for (const struct conf_key *k = t->keys; k->section; k++) {
			if (!section_matches(k->section, section))
				continue;
			section_known = true;
			if (strcmp(k->name, name) != 0)
				continue;
			if (set_value(c, t->obj, k, section, value) == 0)
				return 1;
			c->failed = true;
			return 0;
		}
	}
	if (section_known)
		snprintf(c->msg, sizeof(c->msg), "unknown key '%s' in [%s]",
			 name, section);
	else if (!*section)
		snprintf(c->msg, sizeof(c->msg),
			 "key '%s' outside of any [section]", name);
	else
		snprintf(c->msg, sizeof(c->msg), "unknown section [%s]", section);
	c->failed = true;
	return 0;
}

int conf_load(const char *path, const struct conf_table *tables,
	      char *err, size_t errlen)
{
	struct conf_ctx c = { .tables = tables };
	int line;

	line = ini_parse(path, conf_handler, &c);
	if (line == 0)
		return 0;
	if (line < 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path,
			 line == -1 ? strerror(errno) : "out of memory");
		return -ENOENT;
	}
	snprintf(err, errlen, "%s:%d: %s", path, line,
		 c.msg[0] ? c.msg : "syntax error (expected [section] or key = value)");
	return -EINVAL;
}
