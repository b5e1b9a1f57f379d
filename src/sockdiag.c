/*
 * sockdiag.c - the kernel view: inet_diag dumps over NETLINK_SOCK_DIAG.
 *
 * This is the only file that includes libnl.  libnl carries the bytes
 * (socket, port id, sequence numbers, send, recv); the replies are parsed
 * by diagmsg.c, by hand, because libnl's object cache costs far more per
 * socket than the kernel does to produce it.  Dumps can be saved and
 * replayed, so the parser is tested on real replies without root.
 */
#include "sockdiag.h"
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

/*
 * Dump files (--save-dump / --load-dump): an 8-byte magic, then one record
 * per recv() chunk: u32 family, u32 seq, u32 port id, u32 length (host
 * order), and the chunk's bytes.  Chunks of one request share family and
 * seq, so a replay feeds each request's parser exactly what the kernel sent.
 * Family 0 is a request for both families (dump_request), which is what a
 * dump without -4 or -6 saves, in the order the kernel sent its sockets.
 */
static const char dump_magic[8] = {'t', 'c', 'p', 's', 'd', 'm', 'p', '1'};

struct dump_chunk_hdr {
	uint32_t family, seq, pid, len;
};

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int save_chunk(int fd, uint32_t family, uint32_t seq, uint32_t pid, const uint8_t *buf,
		      size_t len)
{
	struct dump_chunk_hdr h = {family, seq, pid, (uint32_t)len};

	if (write_all(fd, &h, sizeof(h)) < 0 || write_all(fd, buf, len) < 0)
		return -1;
	return 0;
}

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		goto out;                                                                          \
	} while (0)

static int replay_dump(const struct sockdiag_req *req, sockdiag_fn fn, void *arg,
		       struct sockdiag_stats *stats, char *err, size_t errlen)
{
	FILE *f = fopen(req->load_path, "rb");
	char magic[8];
	struct sockdiag_parser p;
	int have_parser = 0, rc = -1;
	uint32_t cur_family = 0, cur_seq = 0;
	uint8_t *buf = NULL;

	if (!f) {
		snprintf(err, errlen, "%s: %s", req->load_path, strerror(errno));
		return -1;
	}
	if (fread(magic, 1, sizeof(magic), f) != sizeof(magic) ||
	    memcmp(magic, dump_magic, sizeof(magic)) != 0)
		FAIL("%s: not a tcpstate dump file", req->load_path);
	for (;;) {
		struct dump_chunk_hdr h;
		size_t n = fread(&h, 1, sizeof(h), f);

		if (n == 0)
			break;
		if (n != sizeof(h))
			FAIL("%s: truncated chunk header", req->load_path);
		/* A chunk is one recv(): the kernel never sends more than 64 KiB. */
		if (h.len > 65536)
			FAIL("%s: chunk of %u bytes is too large", req->load_path, h.len);
		free(buf);
		buf = malloc(h.len ? h.len : 1);
		if (!buf)
			FAIL("out of memory");
		if (fread(buf, 1, h.len, f) != h.len)
			FAIL("%s: truncated chunk", req->load_path);
		/* Family 0: a dump of both families in one request (the caller sorts them). */
		if (req->family && h.family && h.family != (uint32_t)req->family)
			continue;
		if (!have_parser || h.family != cur_family || h.seq != cur_seq) {
			if (have_parser && !p.done && !p.stopped)
				FAIL("%s: dump ends without NLMSG_DONE", req->load_path);
			sockdiag_parser_init(&p, h.seq, h.pid, fn, arg, stats);
			have_parser = 1;
			cur_family = h.family;
			cur_seq = h.seq;
		}
		int r = sockdiag_parse(&p, buf, h.len);
		if (r < 0)
			FAIL("%s", p.errmsg);
		if (p.stopped)
			break;
	}
	if (have_parser && !p.done && !p.stopped)
		FAIL("%s: dump ends without NLMSG_DONE", req->load_path);
	rc = 0;
out:
	free(buf);
	fclose(f);
	return rc;
}

/*
 * Receive until the parser has all it asked for (a dump's NLMSG_DONE, or as
 * many answers as requests).  save_fd >= 0 also records each chunk.
 */
static int recv_replies(struct nl_sock *sk, struct sockdiag_parser *p, int save_fd, uint32_t family,
			const char *save_path, char *err, size_t errlen)
{
	for (;;) {
		struct sockaddr_nl from;
		unsigned char *buf = NULL;
		int n = nl_recv(sk, &from, &buf, NULL);

		if (n < 0) {
			snprintf(err, errlen, "netlink receive: %s", nl_geterror(n));
			return -1;
		}
		if (n == 0) {
			free(buf);
			snprintf(err, errlen, "netlink: replies ended early");
			return -1;
		}
		if (from.nl_pid != 0) { /* only the kernel may answer */
			free(buf);
			continue;
		}
		if (save_fd >= 0 && save_chunk(save_fd, family, p->seq, p->pid, buf, (size_t)n)) {
			free(buf);
			snprintf(err, errlen, "%s: %s", save_path, strerror(errno));
			return -1;
		}
		int r = sockdiag_parse(p, buf, (size_t)n);
		free(buf);
		if (r < 0) {
			snprintf(err, errlen, "%s", p->errmsg);
			return -1;
		}
		if (r > 0)
			return 0;
	}
}

/* A sock_diag socket, ready; NULL with a message in err. */
static struct nl_sock *open_diag(char *err, size_t errlen)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (!sk) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/*
	 * The kernel fills dump replies up to ~32 KiB each; a 64 KiB buffer
	 * takes any of them whole, so peeking for the size is wasted work.
	 */
	nl_socket_disable_msg_peek(sk);
	nl_socket_set_msg_buf_size(sk, 65536);
	int e = nl_connect(sk, NETLINK_SOCK_DIAG);
	if (e < 0) {
		snprintf(err, errlen, "netlink: cannot open sock_diag socket: %s", nl_geterror(e));
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

struct diag_in {
	struct nl_sock *sk;
	char *err;
	size_t errlen;
};

static int open_diag_call(void *arg)
{
	struct diag_in *d = arg;

	d->sk = open_diag(d->err, d->errlen);
	return d->sk ? 0 : -1;
}

/* A sock_diag socket of the request's namespace (sockdiag_req.use_netns). */
static struct nl_sock *open_diag_req(const struct sockdiag_req *req, char *err, size_t errlen)
{
	struct diag_in d = {NULL, err, errlen};

	if (!req->use_netns)
		return open_diag(err, errlen);
	if (netns_call_in(req->netns_fd, open_diag_call, &d, err, errlen) < 0)
		return NULL;
	return d.sk;
}

/*
 * The dump request.  For one family, SOCK_DIAG_BY_FAMILY with an
 * inet_diag_req_v2.  For both (AF_UNSPEC), the older TCPDIAG_GETSOCK with
 * an inet_diag_req: the kernel then walks its tables once for both
 * families, where two requests walk them twice, and the walk is most of a
 * selective dump's cost.  Both carry the same states, extensions and
 * bytecode.  NULL when out of memory or the message cannot be built.
 */
static struct nl_msg *dump_request(int family, const struct sockdiag_req *req, int use_bc)
{
	uint32_t states = req->states, ext = 0;
	struct nl_msg *msg;
	int e;

	/* Request sockets are TCP_NEW_SYN_RECV inside the kernel. */
	if (states & SM(TS_SYN_RECV))
		states |= SM(TS_NEW_SYN_RECV);
	if (req->want_info)
		ext |= 1u << (INET_DIAG_INFO - 1);
	/*
	 * Sized for the bytecode: libnl's default message is one page, and a
	 * program of more than about 4 KiB did not fit (a 250-address filter).
	 */
	size_t size = NLMSG_SPACE(sizeof(struct inet_diag_req_v2) + sizeof(struct inet_diag_req)) +
		      (use_bc ? (size_t)nla_total_size((int)req->bytecode_len) : 0);
	msg = nlmsg_alloc_size(size);
	if (!msg)
		return NULL;
	union {
		struct inet_diag_req v1;
		struct inet_diag_req_v2 v2;
	} r;
	void *body = &r.v2;
	size_t blen = sizeof(r.v2);
	int type = SOCK_DIAG_BY_FAMILY;
	memset(&r, 0, sizeof(r));
	if (family == AF_UNSPEC) {
		r.v1.idiag_family = AF_UNSPEC;
		r.v1.idiag_ext = (uint8_t)ext;
		r.v1.idiag_states = states;
		body = &r.v1;
		blen = sizeof(r.v1);
		type = TCPDIAG_GETSOCK;
	} else {
		r.v2.sdiag_family = (uint8_t)family;
		r.v2.sdiag_protocol = IPPROTO_TCP;
		r.v2.idiag_ext = (uint8_t)ext;
		r.v2.idiag_states = states;
	}
	e = nlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, type, 0, NLM_F_REQUEST | NLM_F_DUMP)
		    ? nlmsg_append(msg, body, blen, NLMSG_ALIGNTO)
		    : -1;
	if (e >= 0 && use_bc)
		e = nla_put(msg, INET_DIAG_REQ_BYTECODE, (int)req->bytecode_len, req->bytecode);
	if (e < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/*
 * One dump (one family, or both with AF_UNSPEC), with the request's
 * bytecode when use_bc.  Returns 0, 1 if the callback stopped it, or -1
 * with a message in err and, when the kernel answered with an error, its
 * errno in *kerr.
 */
static int dump_family(struct nl_sock *sk, int family, const struct sockdiag_req *req, int use_bc,
		       int save_fd, sockdiag_fn fn, void *arg, struct sockdiag_stats *stats,
		       int *kerr, char *err, size_t errlen)
{
	struct nl_msg *msg = dump_request(family, req, use_bc);
	struct sockdiag_parser p;
	uint32_t seq, pid = nl_socket_get_local_port(sk);
	int rc = -1;

	if (!msg) {
		snprintf(err, errlen, "netlink: cannot build request (out of memory?)");
		return -1;
	}
	int e = nl_send_auto(sk, msg);
	if (e < 0) {
		snprintf(err, errlen, "netlink send: %s", nl_geterror(e));
		goto out;
	}
	seq = nlmsg_hdr(msg)->nlmsg_seq;
	sockdiag_parser_init(&p, seq, pid, fn, arg, stats);
	if (recv_replies(sk, &p, save_fd, (uint32_t)family, req->save_path, err, errlen) < 0) {
		*kerr = p.error;
		goto out;
	}
	/*
	 * A callback that stopped early leaves this dump running on the socket,
	 * its replies queued: the caller asks for nothing more on it (the
	 * kernel would answer EBUSY) and frees it, which drops them.
	 */
	rc = p.stopped ? 1 : 0;
out:
	nlmsg_free(msg);
	return rc;
}

/*
 * A family's dump with the bytecode, and without it if the kernel refused
 * the program before sending any socket (an older kernel that lacks one of
 * its tests answers EINVAL): the filter in user space decides alone then.
 */
static int dump_family_bc(struct nl_sock *sk, int family, const struct sockdiag_req *req,
			  int save_fd, sockdiag_fn fn, void *arg, struct sockdiag_stats *stats,
			  int *kerr_out, char *err, size_t errlen)
{
	int use_bc = req->bytecode_len > 0 && save_fd < 0 && !stats->bc_refused;
	uint64_t before = stats->sockets;
	int kerr = 0;
	int r = dump_family(sk, family, req, use_bc, save_fd, fn, arg, stats, &kerr, err, errlen);

	if (r < 0 && use_bc && kerr && stats->sockets == before) {
		stats->bc_refused = kerr;
		kerr = 0;
		r = dump_family(sk, family, req, 0, save_fd, fn, arg, stats, &kerr, err, errlen);
	}
	*kerr_out = stats->sockets == before ? kerr : 0;
	return r;
}

/*
 * Both families in one walk of the kernel's tables (dump_request).  -2
 * when the kernel will not do it (it refused the request before any
 * socket came): the caller then asks for each family.
 */
static int dump_both(struct nl_sock *sk, const struct sockdiag_req *req, int save_fd,
		     sockdiag_fn fn, void *arg, struct sockdiag_stats *stats, char *err,
		     size_t errlen)
{
	int kerr = 0;
	int r = dump_family_bc(sk, AF_UNSPEC, req, save_fd, fn, arg, stats, &kerr, err, errlen);

	if (r < 0 && kerr) {
		stats->bc_refused = 0; /* the request was refused, perhaps not the bytecode */
		return -2;
	}
	return r;
}

int sockdiag_dump(const struct sockdiag_req *req, sockdiag_fn fn, void *arg,
		  struct sockdiag_stats *stats, char *err, size_t errlen)
{
	static const int families[] = {AF_INET, AF_INET6};
	struct nl_sock *sk;
	int save_fd = -1, rc = -1;

	memset(stats, 0, sizeof(*stats));
	if (req->load_path)
		return replay_dump(req, fn, arg, stats, err, errlen);

	sk = open_diag_req(req, err, errlen);
	if (!sk)
		return -1;
	if (req->save_path) {
		save_fd = open(req->save_path,
			       O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (save_fd < 0 || write_all(save_fd, dump_magic, sizeof(dump_magic)) < 0) {
			snprintf(err, errlen, "%s: %s", req->save_path, strerror(errno));
			goto out;
		}
	}
	/* Both families in one walk; a saved dump records it as family 0. */
	if (!req->family) {
		off_t mark = save_fd >= 0 ? lseek(save_fd, 0, SEEK_CUR) : 0;
		int r = dump_both(sk, req, save_fd, fn, arg, stats, err, errlen);
		if (r == -1)
			goto out;
		if (r >= 0) {
			rc = 0;
			goto out;
		}
		/* Refused: the file must not keep the refusal, which a replay would fail on. */
		if (save_fd >= 0 &&
		    (ftruncate(save_fd, mark) < 0 || lseek(save_fd, mark, SEEK_SET) < 0)) {
			snprintf(err, errlen, "%s: %s", req->save_path, strerror(errno));
			goto out;
		}
	}
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		int kerr;
		if (req->family && req->family != families[i])
			continue;
		int r = dump_family_bc(sk, families[i], req, save_fd, fn, arg, stats, &kerr, err,
				       errlen);
		if (r < 0)
			goto out;
		if (r > 0)
			break; /* the callback stopped the dump */
	}
	rc = 0;
out:
	if (save_fd >= 0 && close(save_fd) < 0 && rc == 0) {
		snprintf(err, errlen, "%s: %s", req->save_path, strerror(errno));
		rc = -1;
	}
	nl_socket_free(sk);
	return rc;
}

/* The request naming one socket exactly: its tuple and its cookie. */
static void req_for(struct inet_diag_req_v2 *r, const struct sock_rec *rec)
{
	memset(r, 0, sizeof(*r));
	r->sdiag_family = rec->family;
	r->sdiag_protocol = IPPROTO_TCP;
	r->idiag_states = SM_ALL;
	r->id.idiag_sport = htons(rec->lport);
	r->id.idiag_dport = htons(rec->rport);
	memcpy(r->id.idiag_src, rec->laddr, 16);
	memcpy(r->id.idiag_dst, rec->raddr, 16);
	/* A socket bound to a device is found only with its device. */
	r->id.idiag_if = rec->ifindex;
	r->id.idiag_cookie[0] = (uint32_t)rec->cookie;
	r->id.idiag_cookie[1] = (uint32_t)(rec->cookie >> 32);
}

struct info_ctx {
	struct sock_rec *const *recs;
	size_t n;
	int filled;
};

static int take_info(const struct sock_rec *got, void *arg)
{
	struct info_ctx *c = arg;

	for (size_t i = 0; i < c->n; i++) {
		struct sock_rec *r = c->recs[i];
		if (r->cookie == got->cookie && r->family == got->family && got->has_info) {
			r->has_info = 1;
			r->retransmits = got->retransmits;
			r->info = got->info;
			c->filled++;
			break;
		}
	}
	return 0;
}

/*
 * Requests go out in batches, each answered in full before the next is
 * sent, so the replies never outgrow the socket's receive buffer: each
 * reply is charged at its buffer's true size (a few KiB), and 64 of them
 * overran the default 208 KiB with ENOBUFS.
 */
#define INFO_BATCH 16

int sockdiag_info(struct sock_rec *const *recs, size_t n, char *err, size_t errlen)
{
	struct nl_sock *sk;
	struct info_ctx ctx = {recs, n, 0};
	struct sockdiag_stats stats;
	int rc = -1;

	if (!n)
		return 0;
	sk = open_diag(err, errlen);
	if (!sk)
		return -1;
	/* One answer per request: the socket, or an error.  No ACKs after them. */
	nl_socket_disable_auto_ack(sk);
	memset(&stats, 0, sizeof(stats));
	uint32_t pid = nl_socket_get_local_port(sk);
	for (size_t first = 0; first < n; first += INFO_BATCH) {
		size_t count = n - first < INFO_BATCH ? n - first : INFO_BATCH;
		uint32_t seq = nl_socket_use_seq(sk); /* one seq for the whole batch */
		struct sockdiag_parser p;

		/* One send for the batch: the kernel answers each message in turn. */
		struct {
			struct nlmsghdr h;
			struct inet_diag_req_v2 r;
		} msgs[INFO_BATCH];
		_Static_assert(sizeof(msgs[0]) == NLMSG_LENGTH(sizeof(struct inet_diag_req_v2)),
			       "one request per message, no padding between");
		memset(msgs, 0, sizeof(msgs));
		for (size_t i = 0; i < count; i++) {
			msgs[i].h.nlmsg_len = sizeof(msgs[i]);
			msgs[i].h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
			msgs[i].h.nlmsg_flags = NLM_F_REQUEST;
			msgs[i].h.nlmsg_seq = seq;
			msgs[i].h.nlmsg_pid = pid;
			req_for(&msgs[i].r, recs[first + i]);
			msgs[i].r.idiag_ext = 1u << (INET_DIAG_INFO - 1);
		}
		int e = nl_sendto(sk, msgs, count * sizeof(msgs[0]));
		if (e < 0) {
			snprintf(err, errlen, "netlink send: %s", nl_geterror(e));
			goto out;
		}
		sockdiag_parser_init(&p, seq, pid, take_info, &ctx, &stats);
		p.expect = (uint32_t)count;
		if (recv_replies(sk, &p, -1, 0, NULL, err, errlen) < 0)
			goto out;
	}
	rc = ctx.filled;
out:
	nl_socket_free(sk);
	return rc;
}

int sockdiag_destroy(const struct sock_rec *rec, char *err, size_t errlen)
{
	struct inet_diag_req_v2 r;
	struct nl_sock *sk = nl_socket_alloc();
	int e;

	if (!sk) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	req_for(&r, rec);
	e = nl_connect(sk, NETLINK_SOCK_DIAG);
	if (e >= 0)
		e = nl_send_simple(sk, SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK, &r, sizeof(r));
	if (e >= 0)
		e = nl_wait_for_ack(sk);
	nl_socket_free(sk);
	if (e >= 0)
		return 0;
	/* libnl maps errnos onto its own codes; map back the ones we explain. */
	switch (-e) {
	case NLE_OPNOTSUPP:
		snprintf(err, errlen,
			 "this kernel cannot close sockets (SOCK_DESTROY needs "
			 "CONFIG_INET_DIAG_DESTROY)");
		return -EOPNOTSUPP;
	case NLE_PERM:
		snprintf(err, errlen, "closing a socket needs CAP_NET_ADMIN");
		return -EPERM;
	case NLE_OBJ_NOTFOUND:
		snprintf(err, errlen, "the socket is already gone");
		return -ENOENT;
	}
	snprintf(err, errlen, "SOCK_DESTROY: %s", nl_geterror(e));
	return -EIO;
}
