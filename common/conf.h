/* Table-driven INI configuration on top of inih.
 *
 * A program describes its settings as a table of conf_key entries that
 * write into its own struct; conf_load() parses a file against the table.
 * Unknown sections and keys, bad values and out-of-range numbers are errors
 * reported as "FILE:LINE: message".  Strings are copied into fixed-size
 * char arrays inside the caller's struct, so nothing needs freeing. */
#ifndef TM_CONF_H
#define TM_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum conf_type {
	CONF_STRING,    /* char[size] at offset */
	CONF_INT,       /* int64_t, within [min, max] */
	CONF_BOOL,      /* bool: yes/no/true/false/on/off/1/0 */
	CONF_DURATION,  /* int64_t milliseconds: "250ms", "10s", "5m", "1h" */
	CONF_SIZE,      /* int64_t bytes: "4096", "64K", "16M", "1G" */
	CONF_CUSTOM,    /* parse() decides */
};

/* parse() gets the caller's object, the full section name (e.g.
 * "tenant acme") and returns 0 or a negative errno with a message in err. */
typedef int (*conf_parse_fn)(void *obj, const char *section, const char *name,
			     const char *value, char *err, size_t errlen);

struct conf_key {
	const char *section;  /* exact name, or "prefix *" matching "[prefix X]" */
	const char *name;
	enum conf_type type;
	size_t offset;
	size_t size;          /* CONF_STRING: array size */
	int64_t min, max;     /* numeric types; min == max == 0: no limit */
	conf_parse_fn parse;  /* CONF_CUSTOM */
};

/* Several modules can share one file: each brings a table of keys (ending
 * with an entry whose section is NULL) and the object its offsets point
 * into.  The list of tables ends with keys == NULL. */
struct conf_table {
	const struct conf_key *keys;
	void *obj;
};

/* Returns 0, -ENOENT when the file cannot be read, or -EINVAL with
 * "path:line: ..." in err. */
int conf_load(const char *path, const struct conf_table *tables,
	      char *err, size_t errlen);

/* Value parsers, shared with code that parses CLI arguments.  0 or -EINVAL. */
int conf_parse_int(const char *s, int64_t *out);
int conf_parse_bool(const char *s, bool *out);
int conf_parse_duration_ms(const char *s, int64_t *out);
int conf_parse_size(const char *s, int64_t *out);

/* For "[tenant acme]": the part after the first space, or "" if none. */
const char *conf_section_arg(const char *section);

#endif
