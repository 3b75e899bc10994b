/* Metric names: the same everywhere (reports, store, pricing, alerts,
 * /metrics).  Numbers match enum Truemeter__Metric in the wire format. */
#ifndef TM_METRIC_H
#define TM_METRIC_H

enum metric {
	METRIC_NONE = 0,
	METRIC_API_REQUESTS = 1,
	METRIC_API_REQUEST_BYTES = 2,
	METRIC_API_RESPONSE_BYTES = 3,
	METRIC_NET_RX_BYTES = 4,
	METRIC_NET_TX_BYTES = 5,
	METRIC_CPU_NS = 6,
	METRIC_TCP_CONNECTIONS = 7,
	METRIC_COUNT
};

/* Static string, or NULL for an unknown number. */
const char *metric_name(int metric);
/* Metric number for a name, or -EINVAL. */
int metric_from_name(const char *name);
/* An HTTP status class as people write it ("2xx" for 2), or NULL for
 * none (0: the metric has no status) or a number out of 1..5. */
const char *metric_status_class(int status_class);

#endif
