/* One logger for every truemeter program: warn/info/debug to stderr with
 * a timestamp and the program name, or, when stderr is the journal, with
 * the journal's priority prefix instead; libbpf's output routed into it. */
#ifndef TM_LOG_H
#define TM_LOG_H

#include <stdarg.h>
#include <bpf/libbpf.h>

enum log_level { LOG_LVL_WARN = 0, LOG_LVL_INFO = 1, LOG_LVL_DEBUG = 2 };

/* prog is borrowed and must outlive the logger (argv[0] or a literal). */
void log_init(const char *prog, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_vlog(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* For libbpf_set_print(): libbpf's messages go through this logger. */
int log_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap);

#endif
