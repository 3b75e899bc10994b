/* truemeter audit export | verify */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "audit.h"
#include "cli.h"
#include "metric.h"
#include "period.h"
#include "store.h"

#define AUDIT_MAX_KEYS 1024

static int export_usage(FILE *f)
{
	fprintf(f, "usage: truemeter audit export (--period YYYY-MM | --from T --to T) -o FILE\n");
	return 2;
}

static int audit_export_cmd(const struct cli_env *env, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "period", required_argument, NULL, 'p' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t from = -1, to = -1;
	const char *out = NULL;
	struct store *s = NULL;
	size_t n = 0;
	int opt, err;

	while ((opt = getopt_long(argc, argv, "p:f:t:o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (period_parse(optarg, &from, &to)) {
				fprintf(stderr, "truemeter audit export: --period '%s' is not "
					"YYYY-MM or YYYY-MM-DD\n", optarg);
				return 2;
			}
			break;
		case 'f':
		case 't':
			if (period_parse_time(optarg, opt == 'f' ? &from : &to)) {
				fprintf(stderr, "truemeter audit export: --%s '%s' is not a "
					"date (YYYY-MM-DD[THH:MM:SSZ]) or unix time\n",
					opt == 'f' ? "from" : "to", optarg);
				return 2;
			}
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			export_usage(stdout);
			return 0;
		default:
			return export_usage(stderr);
		}
	}
	if (!out || from < 0 || to <= from)
		return export_usage(stderr);
	if (cli_store_open(env, "audit export", false, &s))
		return 1;
	err = audit_export(s, from, to, out, &n);
	store_close(s);
	if (err) {
		fprintf(stderr, "truemeter audit export: %s: %s\n", out, err == -ERANGE ?
			"the range starts where the store pruned the signed reports "
			"(see above); nothing written" : strerror(-err));
		return 1;
	}
	printf("exported %zu signed reports to %s\n", n, out);
	return 0;
}

static int load_key(const char *arg, uint8_t (*keys)[REPORT_PK_LEN], size_t *n)
{
	if (*n == AUDIT_MAX_KEYS) {
		fprintf(stderr, "truemeter audit verify: more than %d keys\n", AUDIT_MAX_KEYS);
		return -E2BIG;
	}
	if (report_pubkey_load(arg, keys[*n])) {
		fprintf(stderr, "truemeter audit verify: --key '%s' is neither a public "
			"key file nor 64 hex digits\n", arg);
		return -EINVAL;
	}
	(*n)++;
	return 0;
}

static int load_key_dir(const char *dir, uint8_t (*keys)[REPORT_PK_LEN], size_t *n)
{
	char path[4096];
	struct dirent *de;
	DIR *d = opendir(dir);
	int err = 0;

	if (!d) {
		fprintf(stderr, "truemeter audit verify: --keys-dir %s: %s\n", dir,
			strerror(errno));
		return -errno;
	}
	while (!err && (de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 4, ".pub") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		err = load_key(path, keys, n);
	}
	closedir(d);
	return err;
}

static void print_text(const char *path, const struct audit_result *r)
{
	char from[32], to[32];

	period_format_time(r->from_ms, from, sizeof(from));
	period_format_time(r->to_ms, to, sizeof(to));
	printf("bundle %s: %s .. %s\n", path, from, to);
	printf("reports %zu, verified %zu, bad signatures %zu, untrusted %zu, "
	       "duplicates %zu, chain breaks %zu, gaps %zu, chains %zu\n",
	       r->reports, r->verified, r->bad_signatures, r->untrusted,
	       r->duplicates, r->chain_breaks, r->gaps, r->agents);
	for (size_t i = 0; i < r->n_problems; i++)
		printf("  ! %s\n", r->problems[i]);
	printf("\n%-24s %-20s %20s\n", "TENANT", "METRIC", "VERIFIED USAGE");
	for (size_t i = 0; i < r->n_totals; i++) {
		const char *m = metric_name(r->totals[i].metric);

		printf("%-24s %-20s %20llu\n", r->totals[i].tenant, m ? m : "?",
		       (unsigned long long)r->totals[i].value);
	}
}

static void print_json(const struct audit_result *r, const char *verdict)
{
	json_object *o = json_object_new_object(), *t = json_object_new_array();
	json_object *p = json_object_new_array();

	json_object_object_add(o, "verdict", json_object_new_string(verdict));
	json_object_object_add(o, "from_ms", json_object_new_int64(r->from_ms));
	json_object_object_add(o, "to_ms", json_object_new_int64(r->to_ms));
	json_object_object_add(o, "reports", json_object_new_int64((int64_t)r->reports));
	json_object_object_add(o, "verified", json_object_new_int64((int64_t)r->verified));
	json_object_object_add(o, "bad_signatures", json_object_new_int64((int64_t)r->bad_signatures));
	json_object_object_add(o, "untrusted", json_object_new_int64((int64_t)r->untrusted));
	json_object_object_add(o, "duplicates", json_object_new_int64((int64_t)r->duplicates));
	json_object_object_add(o, "chain_breaks", json_object_new_int64((int64_t)r->chain_breaks));
	json_object_object_add(o, "gaps", json_object_new_int64((int64_t)r->gaps));
	json_object_object_add(o, "lossy_reports", json_object_new_int64((int64_t)r->lossy_reports));
	json_object_object_add(o, "lost_map_overflow", json_object_new_uint64(r->lost_map_overflow));
	json_object_object_add(o, "lost_event_drops", json_object_new_uint64(r->lost_event_drops));
	for (size_t i = 0; i < r->n_totals; i++) {
		json_object *u = json_object_new_object();
		const char *m = metric_name(r->totals[i].metric);

		json_object_object_add(u, "tenant", json_object_new_string(r->totals[i].tenant));
		json_object_object_add(u, "metric", json_object_new_string(m ? m : "?"));
		json_object_object_add(u, "value", json_object_new_uint64(r->totals[i].value));
		json_object_array_add(t, u);
	}
	for (size_t i = 0; i < r->n_problems; i++)
		json_object_array_add(p, json_object_new_string(r->problems[i]));
	json_object_object_add(o, "usage", t);
	json_object_object_add(o, "problems", p);
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	json_object_put(o);
}

static int verify_usage(FILE *f)
{
	fprintf(f, "usage: truemeter audit verify FILE [--key PUBFILE|HEX]... "
		"[--keys-dir DIR] [--json]\n"
		"exit status: 0 verified and complete, 1 verification failed, "
		"3 verified but incomplete (reports missing, or events their meter lost)\n");
	return 2;
}

static int audit_verify_cmd(const struct cli_env *env, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "keys-dir", required_argument, NULL, 'K' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint8_t (*keys)[REPORT_PK_LEN] = calloc(AUDIT_MAX_KEYS, REPORT_PK_LEN);
	struct audit_result res;
	const char *verdict;
	size_t n_keys = 0;
	bool json = false;
	int opt, rc = 2, err;

	if (!keys)
		return 1;
	while ((opt = getopt_long(argc, argv, "k:K:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			if (load_key(optarg, keys, &n_keys))
				goto cleanup;
			break;
		case 'K':
			if (load_key_dir(optarg, keys, &n_keys))
				goto cleanup;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			verify_usage(stdout);
			rc = 0;
			goto cleanup;
		default:
			verify_usage(stderr);
			goto cleanup;
		}
	}
	if (optind != argc - 1) {
		verify_usage(stderr);
		goto cleanup;
	}
	err = audit_verify(argv[optind], (const uint8_t (*)[REPORT_PK_LEN])keys, n_keys, &res);
	if (err) {
		fprintf(stderr, "truemeter audit verify: %s: %s\n", argv[optind],
			err == -EBADMSG ? "not a whole audit bundle (cut short, or not one)"
					 : strerror(-err));
		rc = 1;
		goto cleanup;
	}
	if (res.bad_signatures || res.untrusted || res.duplicates || res.chain_breaks) {
		verdict = "failed";
		rc = 1;
	} else if (res.gaps || res.lossy_reports) {
		verdict = "incomplete";
		rc = 3;
	} else {
		verdict = "verified";
		rc = 0;
	}
	if (json)
		print_json(&res, verdict);
	else {
		print_text(argv[optind], &res);
		printf("\nverdict: %s\n", verdict);
	}
	audit_result_free(&res);
cleanup:
	free(keys);
	return rc;
}

int cli_audit(const struct cli_env *env, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "export") == 0) {
		cli_name(argv + 1, "audit export");
		return audit_export_cmd(env, argc - 1, argv + 1);
	}
	if (argc >= 2 && strcmp(argv[1], "verify") == 0) {
		cli_name(argv + 1, "audit verify");
		return audit_verify_cmd(env, argc - 1, argv + 1);
	}
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		export_usage(stdout);
		verify_usage(stdout);
		return 0;
	}
	fprintf(stderr, "usage: truemeter audit export|verify ... (--help for both)\n");
	return 2;
}
