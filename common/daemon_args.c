#include <getopt.h>

#include "daemon_args.h"
#include "log.h"

int daemon_args_parse(int argc, char **argv, void (*usage)(FILE *f),
		      struct daemon_args *out)
{
	static const struct option long_opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum log_level level = LOG_LVL_INFO;
	int opt;

	*out = (struct daemon_args){ 0 };
	while ((opt = getopt_long(argc, argv, "hc:nvq", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'c': out->conf_path = optarg; break;
		case 'n': out->check_only = true; break;
		case 'v': level = LOG_LVL_DEBUG; break;
		case 'q': level = LOG_LVL_WARN; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	log_set_level(level);
	return -1;
}
