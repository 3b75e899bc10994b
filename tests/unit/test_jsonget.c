/* jsonget: one-object parsing and typed lookups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "jsonget.h"

static json_object *parse(const char *s)
{
	return jsonget_parse_object(s, strlen(s));
}

static void test_parse_object_only(void **state)
{
	json_object *o;

	(void)state;
	o = parse(" {\"a\": 1}\r\n");
	assert_non_null(o);
	json_object_put(o);
	assert_null(parse("{\"a\": 1} {\"b\": 2}"));   /* two objects */
	assert_null(parse("{\"a\": 1} x"));
	assert_null(parse("[1, 2]"));
	assert_null(parse("\"str\""));
	assert_null(parse("{\"a\": "));
	assert_null(parse(""));
	/* a NUL inside the declared length is content, not an end */
	assert_null(jsonget_parse_object("{}\0junk", 7));
}

static void test_typed_lookups(void **state)
{
	json_object *o = parse("{\"s\": \"x\", \"i\": 42, \"n\": null, \"f\": 1.5,"
			       " \"o\": {\"k\": \"v\"}}");
	int64_t v = 0;

	(void)state;
	assert_non_null(o);
	assert_string_equal(jsonget_str(o, "s"), "x");
	assert_null(jsonget_str(o, "i"));
	assert_true(jsonget_int(o, "i", &v));
	assert_int_equal(v, 42);
	assert_false(jsonget_int(o, "f", &v));
	assert_false(jsonget_int(o, "s", &v));
	assert_null(jsonget(o, "n"));
	assert_null(jsonget(o, "missing"));
	assert_string_equal(jsonget_str(jsonget(o, "o"), "k"), "v");
	assert_null(jsonget_str(jsonget(o, "s"), "k"));   /* not an object */
	assert_null(jsonget(NULL, "k"));
	json_object_put(o);
}

/* Arrays by index: anything but an array that long is NULL, never
 * json-c's assertion. */
static void test_index(void **state)
{
	json_object *o = parse("{\"a\": [1, {\"k\": \"v\"}], \"s\": \"x\", \"e\": []}");

	(void)state;
	assert_non_null(o);
	assert_string_equal(jsonget_str(jsonget_idx(jsonget(o, "a"), 1), "k"), "v");
	assert_non_null(jsonget_idx(jsonget(o, "a"), 0));
	assert_null(jsonget_idx(jsonget(o, "a"), 2));
	assert_null(jsonget_idx(jsonget(o, "e"), 0));
	assert_null(jsonget_idx(jsonget(o, "s"), 0));     /* a string */
	assert_null(jsonget_idx(o, 0));                   /* an object */
	assert_null(jsonget_idx(NULL, 0));
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_object_only),
		cmocka_unit_test(test_typed_lookups),
		cmocka_unit_test(test_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
