/* libFuzzer target: agent.conf and collector.conf (INI), loaded and
 * checked as the daemons do at start and at reload.  Input: one byte
 * (bit 0: the collector's, else the agent's), then the file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_conf.h"
#include "fuzz_util.h"
#include "judge_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	static struct agent_conf agent;
	static struct judge_conf judge;
	char err[512];

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/tm-fuzz-conf.%d.conf", (int)getpid());
	if (size < 1 || fuzz_write_file(path, data + 1, size - 1))
		return 0;
	if (data[0] & 1) {
		if (judge_conf_load_file(path, &judge, err, sizeof(err)) == 0)
			judge_conf_check(&judge, path, err, sizeof(err));
	} else {
		agent_conf_load(path, &agent, err, sizeof(err));
	}
	return 0;
}
