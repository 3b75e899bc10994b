#include "jsonget.h"

#include <limits.h>

json_object *jsonget_parse_object(const char *text, size_t len)
{
	json_tokener *tok;
	json_object *o;
	size_t end;

	if (len > INT_MAX || !(tok = json_tokener_new()))
		return NULL;
	o = json_tokener_parse_ex(tok, text, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (o && (json_tokener_get_error(tok) != json_tokener_success ||
		  !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	for (; o && end < len; end++) {
		if (text[end] != ' ' && text[end] != '\t' && text[end] != '\r' &&
		    text[end] != '\n') {
			json_object_put(o);    /* trailing content after the object */
			o = NULL;
		}
	}
	json_tokener_free(tok);
	return o;
}

json_object *jsonget(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

const char *jsonget_str(json_object *o, const char *key)
{
	json_object *v = jsonget(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

bool jsonget_int(json_object *o, const char *key, int64_t *out)
{
	json_object *v = jsonget(o, key);

	if (!v || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

#define JSONGET_MAX_TIME_S 253402300799LL      /* 9999-12-31T23:59:59Z */

bool jsonget_time_ms(json_object *o, const char *key, int64_t *ms)
{
	int64_t s;

	if (!jsonget_int(o, key, &s) || s < 0 || s > JSONGET_MAX_TIME_S)
		return false;
	*ms = s * 1000;
	return true;
}

json_object *jsonget_idx(json_object *a, size_t i)
{
	if (!a || !json_object_is_type(a, json_type_array) || i >= json_object_array_length(a))
		return NULL;
	return json_object_array_get_idx(a, i);
}
