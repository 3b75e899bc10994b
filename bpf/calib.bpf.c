// SPDX-License-Identifier: GPL-2.0
/* Benchmark calibration only (tests/bench/stats_calib.c): empty programs on
 * the HTTP meter's two data hooks.  kernel.bpf_stats_enabled times every
 * program run between two clock reads, and the time of one read lands in
 * each run's figure: 35-100 ns on this project's VM, where a clock read is
 * slow (most for the first program on a hook, whose clock path is cold).
 * An empty program is charged exactly that, so the overhead benchmark
 * subtracts it from the meter's programs, run for run. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sock_recv_length")
int BPF_PROG(calib_recv, struct sock *sk, int ret, int flags)
{
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(calib_send, struct sock *sk, int ret, int flags)
{
	return 0;
}
