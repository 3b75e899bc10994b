/* fake_new_build: makes the HTTP programs pinned in DIR look like another
 * build's to the next load, which then takes the path of an upgrade to a
 * new build (fresh connection state; the old programs finish their own
 * connections) with the same programs.  It changes the object hash their
 * pinned http_meta records, and the fingerprint with it.
 *
 *   fake_new_build <pin_dir>/http
 *
 * Exits 0 once the pinned http_meta says so. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "bpf/http.h"

int main(int argc, char **argv)
{
	struct http_meta meta;
	char path[512];
	__u32 zero = 0;
	int fd, rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: fake_new_build <pin_dir>/http\n");
		return 2;
	}
	if (snprintf(path, sizeof(path), "%s/http_meta", argv[1]) >= (int)sizeof(path)) {
		fprintf(stderr, "fake_new_build: %s: path too long\n", argv[1]);
		return 2;
	}
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(stderr, "fake_new_build: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (bpf_map_lookup_elem(fd, &zero, &meta)) {
		fprintf(stderr, "fake_new_build: reading %s: %s\n", path, strerror(errno));
		goto cleanup;
	}
	meta.obj_hash ^= 1;
	meta.fingerprint ^= 1;
	if (bpf_map_update_elem(fd, &zero, &meta, BPF_ANY)) {
		fprintf(stderr, "fake_new_build: writing %s: %s\n", path, strerror(errno));
		goto cleanup;
	}
	rc = 0;
cleanup:
	close(fd);
	return rc;
}
