#include "metric.h"

#include <errno.h>
#include <string.h>

static const char *const metric_names[METRIC_COUNT] = {
	[METRIC_API_REQUESTS] = "api_requests",
	[METRIC_API_REQUEST_BYTES] = "api_request_bytes",
	[METRIC_API_RESPONSE_BYTES] = "api_response_bytes",
	[METRIC_NET_RX_BYTES] = "net_rx_bytes",
	[METRIC_NET_TX_BYTES] = "net_tx_bytes",
	[METRIC_CPU_NS] = "cpu_ns",
	[METRIC_TCP_CONNECTIONS] = "tcp_connections",
};

const char *metric_name(int metric)
{
	if (metric <= METRIC_NONE || metric >= METRIC_COUNT)
		return NULL;
	return metric_names[metric];
}

int metric_from_name(const char *name)
{
	for (int i = 1; i < METRIC_COUNT; i++)
		if (name && strcmp(name, metric_names[i]) == 0)
			return i;
	return -EINVAL;
}

const char *metric_status_class(int status_class)
{
	static const char *const names[] = { NULL, "1xx", "2xx", "3xx", "4xx", "5xx" };

	if (status_class < 1 || status_class > 5)
		return NULL;
	return names[status_class];
}
