#include "log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <systemd/sd-daemon.h>

static const char *log_prog = "truemeter";
static enum log_level log_level = LOG_LVL_INFO;
static bool log_journal;

/* Is stderr the journal?  systemd says so in JOURNAL_STREAM ("dev:ino" of
 * the stream it connected); a redirected stderr no longer matches. */
static bool stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 &&
	       fstat(STDERR_FILENO, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *prog, enum log_level level)
{
	const char *slash = prog ? strrchr(prog, '/') : NULL;

	log_prog = slash ? slash + 1 : (prog ? prog : "truemeter");
	log_level = level;
	log_journal = stderr_is_journal();
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

/* The journal takes each line as its own entry: every line of a message
 * (libbpf's verifier log has many) gets the priority prefix. */
static void journal_lines(enum log_level level, const char *msg)
{
	static const char *const prio[] = { SD_WARNING, SD_INFO, SD_DEBUG };
	char out[3072];
	size_t n = 0;
	const char *nl;

	for (;;) {
		size_t len;

		nl = strchr(msg, '\n');
		len = nl ? (size_t)(nl - msg) : strlen(msg);
		if (n + strlen(prio[level]) + len + 2 > sizeof(out))
			break;          /* the rest is cut, as vsnprintf cuts */
		n += (size_t)sprintf(out + n, "%s%.*s\n", prio[level], (int)len, msg);
		if (!nl)
			break;
		msg = nl + 1;
	}
	fwrite(out, 1, n, stderr);
}

void log_vlog(enum log_level level, const char *fmt, va_list ap)
{
	static const char *const names[] = { "warn", "info", "debug" };
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;

	if (level > log_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	/* One fprintf per line so concurrent threads do not interleave.  The
	 * journal stamps lines itself and reads the priority prefix, so that
	 * journalctl -p warning finds the warnings. */
	if (log_journal) {
		journal_lines(level, line);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%s]: %s\n",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_prog,
		names[level], line);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_LVL_WARN, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_LVL_INFO, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_LVL_DEBUG, fmt, ap);
	va_end(ap);
}

int log_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum log_level lvl;

	switch (level) {
	case LIBBPF_WARN:
		lvl = LOG_LVL_WARN;
		break;
	case LIBBPF_INFO:
		lvl = LOG_LVL_INFO;
		break;
	default:
		lvl = LOG_LVL_DEBUG;
		break;
	}
	log_vlog(lvl, fmt, ap);
	return 0;
}
