/*
 * fanout - does a second capture thread pay?  K threads, each with a
 * TPACKET_V3 socket of its own on IFACE, joined in one PACKET_FANOUT_HASH
 * group when K > 1 (the kernel spreads the flows over them), read, decode
 * and hash every packet as tcpstate's live reader does (libtcpstate's
 * decode_packet and engine_hash_config; no engine), for SECONDS.  The ring
 * is KIB in all, split between the threads, with tcpstate's snapshot length
 * and block time; on a loopback interface the outgoing copies are skipped,
 * as tcpstate skips them.
 *
 * usage: fanout IFACE K SECONDS KIB
 * Prints one line: threads, packets taken, the kernel's received and
 * dropped, the threads' CPU time and the CPU time per packet.  bench/fanout
 * runs it under churn; see doc/performance.md.
 */
#define _GNU_SOURCE
#include <linux/if_packet.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "decode.h"
#include "engine.h"
#include "wire.h"

#define MAXK 8
/* Linux 6.8: a fanout group's sockets skip outgoing packets (older headers lack it). */
#ifndef PACKET_FANOUT_FLAG_IGNORE_OUTGOING
#define PACKET_FANOUT_FLAG_IGNORE_OUTGOING 0x4000
#endif

struct reader {
	pthread_t th;
	pcap_t *p;
	int dlt;
	uint64_t taken, segs;
	uint32_t hsum; /* so that the hashes are not optimized away */
	struct decode_stats dst;
	struct engine_config ecfg;
	double cpu;
};

static atomic_int stop;

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct reader *r = (struct reader *)user;
	struct segment seg;

	r->taken++;
	if (decode_packet(r->dlt, bytes, h->caplen, h->len, 0, 0, &seg, &r->dst) == DEC_TCP) {
		r->segs++;
		r->hsum += engine_hash_config(&r->ecfg, &seg);
	}
}

static void *run(void *arg)
{
	struct reader *r = arg;
	struct pollfd pfd = {pcap_get_selectable_fd(r->p), POLLIN, 0};
	struct timespec t;

	while (!atomic_load(&stop)) {
		if (poll(&pfd, 1, 100) < 0)
			break;
		if (pcap_dispatch(r->p, 4096, on_packet, (u_char *)r) < 0)
			break;
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	r->cpu = (double)t.tv_sec + (double)t.tv_nsec / 1e9;
	return NULL;
}

static pcap_t *open_one(const char *iface, int kib, int k, char *ebuf)
{
	pcap_t *p = pcap_create(iface, ebuf);
	int one = 1, fan = (int)((uint32_t)getpid() & 0xffff) | PACKET_FANOUT_HASH << 16;
	if (strcmp(iface, "lo") == 0)
		fan |= PACKET_FANOUT_FLAG_IGNORE_OUTGOING << 16;

	if (!p)
		return NULL;
	pcap_set_snaplen(p, WIRE_HEADERS_SNAPLEN);
	pcap_set_timeout(p, 20);
	pcap_set_buffer_size(p, kib * 1024);
	if (pcap_activate(p) < 0 || pcap_setnonblock(p, 1, ebuf) < 0) {
		snprintf(ebuf, PCAP_ERRBUF_SIZE, "%s", pcap_geterr(p));
		pcap_close(p);
		return NULL;
	}
	if (strcmp(iface, "lo") == 0)
		setsockopt(pcap_fileno(p), SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	if (k > 1 && setsockopt(pcap_fileno(p), SOL_PACKET, PACKET_FANOUT, &fan, sizeof(fan)) < 0) {
		snprintf(ebuf, PCAP_ERRBUF_SIZE, "PACKET_FANOUT failed");
		pcap_close(p);
		return NULL;
	}
	return p;
}

int main(int argc, char **argv)
{
	static struct reader r[MAXK];
	char ebuf[PCAP_ERRBUF_SIZE];

	if (argc != 5 || atoi(argv[2]) < 1 || atoi(argv[2]) > MAXK || atof(argv[3]) <= 0 ||
	    atoi(argv[4]) < 1) {
		fprintf(stderr, "usage: fanout IFACE K SECONDS KIB\n");
		return 2;
	}
	int k = atoi(argv[2]), kib = atoi(argv[4]);
	for (int i = 0; i < k; i++) {
		engine_config_defaults(&r[i].ecfg);
		r[i].p = open_one(argv[1], kib / k, k, ebuf);
		if (!r[i].p) {
			fprintf(stderr, "fanout: %s: %s\n", argv[1], ebuf);
			return 1;
		}
		r[i].dlt = pcap_datalink(r[i].p);
	}
	printf("ready\n");
	fflush(stdout);
	for (int i = 0; i < k; i++)
		pthread_create(&r[i].th, NULL, run, &r[i]);
	usleep((useconds_t)(atof(argv[3]) * 1e6));
	atomic_store(&stop, 1);
	uint64_t taken = 0, recv = 0, drop = 0;
	double cpu = 0;
	for (int i = 0; i < k; i++) {
		struct pcap_stat ps;
		pthread_join(r[i].th, NULL);
		if (pcap_stats(r[i].p, &ps) == 0) {
			recv += ps.ps_recv;
			drop += ps.ps_drop;
		}
		taken += r[i].taken;
		cpu += r[i].cpu;
		pcap_close(r[i].p);
	}
	printf("threads=%d taken=%llu received=%llu dropped=%llu cpu=%.3f us_per_pkt=%.3f\n", k,
	       (unsigned long long)taken, (unsigned long long)recv, (unsigned long long)drop, cpu,
	       taken ? cpu * 1e6 / (double)taken : 0.0);
	return 0;
}
