/* Typed, NULL-tolerant lookups into json-c objects for the webhook and
 * export parsers.  A missing key, a JSON null or a value of another type
 * reads as "absent".  Returned pointers are borrowed from the object. */
#ifndef TM_JSONGET_H
#define TM_JSONGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* Parses text (len bytes, NUL not needed) that must be exactly one JSON
 * object, surrounding whitespace allowed.  The caller owns the result
 * (json_object_put); NULL for anything else. */
json_object *jsonget_parse_object(const char *text, size_t len);

/* o[key] unless o is not an object, key is missing or its value is null. */
json_object *jsonget(json_object *o, const char *key);
/* o[key] when it is a string. */
const char *jsonget_str(json_object *o, const char *key);
/* o[key] when it is an integer; false otherwise. */
bool jsonget_int(json_object *o, const char *key, int64_t *out);
/* o[key] when it is a Unix time in seconds from 1970 to 9999, as
 * milliseconds in *ms; false otherwise (so a far-off value cannot
 * overflow the conversion). */
bool jsonget_time_ms(json_object *o, const char *key, int64_t *ms);
/* a[i] when a is an array that long, else NULL (json-c's own accessor
 * asserts the type, which would take the process down on a bad input). */
json_object *jsonget_idx(json_object *a, size_t i);

#endif
