#include "jsonget.h"

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
