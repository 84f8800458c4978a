/*
 * Prints the DRAM the C modules take at their default configurations, from
 * their own *_memory_size() functions: the numbers docs/memory.md budgets.
 * Built 32-bit (-m32) and run on the host by tools/xtensa-check.mjs. The
 * tables hold only fixed-width fields (no pointers), so their sizes are the
 * same on the ESP32's 32-bit Xtensa (and on x86-64).
 */
#include <stdio.h>

#include "napt.h"
#include "sip_dialog.h"
#include "sip_tcp.h"
#include "sipalg.h"

int main(void)
{
	struct napt_config napt;
	struct sip_dialog_config dialog;
	struct sip_tcp_config tcp;
	size_t flows;

	napt_default_config(&napt);
	sip_dialog_default_config(&dialog);
	sip_tcp_default_config(&tcp);

	printf("napt_flows %u\n", (unsigned)napt.max_flows);
	printf("napt_forwards %u\n", (unsigned)napt.max_forwards);
	printf("napt_memory %zu\n", napt_memory_size(&napt));
	/* Per flow and per forward: the table with one more of each, less the table. */
	napt.max_forwards = 1;
	flows = napt_memory_size(&napt);
	napt.max_forwards = 2;
	printf("napt_per_forward %zu\n", napt_memory_size(&napt) - flows);
	/* Flows come with their share of the four hash indexes. */
	napt.max_forwards = 1;
	napt.max_flows = 2048;
	printf("napt_per_flow %zu\n", (napt_memory_size(&napt) - flows) / 1024);
	printf("sip_dialogs %u\n", (unsigned)dialog.max_dialogs);
	printf("sip_registrations %u\n", (unsigned)dialog.max_registrations);
	printf("sip_dialog_memory %zu\n", sip_dialog_memory_size(&dialog));
	printf("sip_tcp_conns %u\n", (unsigned)tcp.max_conns);
	printf("sip_tcp_memory %zu\n", sip_tcp_memory_size(&tcp));
	printf("sip_packet_buffers %u\n", 2u * SIPALG_PACKET_MAX);
	return 0;
}
