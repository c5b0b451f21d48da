/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "net.h"
#include "fd-util.h"
#include "randgen.h"
#include "istream.h"

#include <poll.h>
#include <time.h>
#include <ldns/ldns.h>

#include "vsmlist-dns.h"

/* The network exchange is ours (non-blocking sockets and poll(), bounded
   by the discovery's deadline); ldns only builds and parses the packets.
   ldns's own resolver cannot be bounded that way: it waits its timeout per
   server and per retry, and marks a server dead for the life of the
   resolver after one timeout.

   One lookup follows a plan of VSMLIST_DNS_ROUNDS rounds over the servers,
   starting with the one that answered last in this discovery. Each try
   sends the query over UDP to its server and then waits, for its share of
   the time left (the time left divided by the tries left), for a reply on
   the sockets of all the servers asked so far: a slow server's late answer
   is still taken. A server that gave an error (rcode, refused, unusable
   reply) is not asked again in this lookup. A truncated reply is asked
   again over TCP. Nothing is sent once the deadline has passed. */

#define VSMLIST_DNS_PORT 53
#define VSMLIST_DNS_RESOLV_CONF "/etc/resolv.conf"
/* As many resolv.conf nameservers as glibc uses (MAXNS) */
#define VSMLIST_DNS_MAX_RESOLV_SERVERS 3
/* Each server is tried this many times over UDP in one lookup */
#define VSMLIST_DNS_ROUNDS 2
/* A query is not sent with less time than this left */
#define VSMLIST_DNS_MIN_TRY_USECS 1000
#define VSMLIST_DNS_MAX_CNAMES 8
#define VSMLIST_DNS_MAX_MSG_SIZE 65535
#define VSMLIST_DNS_HEADER_SIZE 12

struct vsmlist_dns_server {
	struct ip_addr ip;
	in_port_t port;
	/* "ip:port" for the log */
	const char *name;
};

struct vsmlist_dns {
	pool_t pool;
	struct event *event;
	ARRAY(struct vsmlist_dns_server) servers;
	unsigned int timeout_msecs;
	/* Receive buffer, VSMLIST_DNS_MAX_MSG_SIZE bytes */
	uint8_t *rbuf;

	/* CLOCK_MONOTONIC in usecs; 0 before vsmlist_dns_begin() */
	uint64_t deadline_usecs;
	unsigned int query_count;
	/* The server that answered last in this discovery: asked first */
	unsigned int first_server;
};

struct vsmlist_dns_server_state {
	/* The UDP socket to the server, -1 when not open */
	int fd;
	/* Sent the query at least once */
	bool asked:1;
	/* Gave an error: not asked again in this lookup */
	bool failed:1;
	/* The error was its reply (an rcode, a referral) */
	bool replied:1;
};

struct vsmlist_dns_lookup {
	struct vsmlist_dns *dns;
	const char *qname;
	ldns_rdf *qname_rdf;
	uint16_t id;
	uint8_t *wire;
	size_t wire_size;

	struct vsmlist_dns_server_state *states;
	unsigned int server_count;
	/* The tries left in the plan, the current one included */
	unsigned int tries_left;
	/* "server: error" of the servers that failed */
	string_t *errors;

	/* The answer (NOERROR or NXDOMAIN) and the server that gave it */
	ldns_pkt *reply;
	unsigned int reply_server;
};

static uint64_t vsmlist_dns_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		i_fatal("clock_gettime(CLOCK_MONOTONIC) failed: %m");
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* poll() timeout until the deadline, rounded up; 0 when it has passed */
static int vsmlist_dns_poll_msecs(uint64_t deadline_usecs)
{
	uint64_t now = vsmlist_dns_now();

	if (now >= deadline_usecs)
		return 0;
	return (int)I_MIN((deadline_usecs - now + 999) / 1000,
			  (uint64_t)INT_MAX);
}

/* The deadline of one more exchange: its share of the time left */
static uint64_t vsmlist_dns_try_deadline(struct vsmlist_dns_lookup *lookup)
{
	uint64_t now = vsmlist_dns_now();
	uint64_t deadline = lookup->dns->deadline_usecs;

	if (now >= deadline)
		return now;
	return now + (deadline - now) / I_MAX(lookup->tries_left, 1U);
}

static const char *
vsmlist_dns_server_name(const struct vsmlist_dns *dns, unsigned int idx)
{
	const struct vsmlist_dns_server *server =
		array_idx(&dns->servers, idx);

	return server->name;
}

static const char *vsmlist_dns_rcode_name(unsigned int rcode)
{
	const ldns_lookup_table *lt;

	lt = ldns_lookup_by_id(ldns_rcodes, (int)rcode);
	if (lt == NULL)
		return t_strdup_printf("rcode %u", rcode);
	return lt->name;
}

/*
 * Settings
 */

static int
vsmlist_dns_add_server(struct vsmlist_dns *dns, const char *str,
		       const char **error_r)
{
	struct vsmlist_dns_server *server;
	const char *host, *name;
	struct ip_addr ip;
	in_port_t port;

	if (net_str2hostport(str, VSMLIST_DNS_PORT, &host, &port) < 0) {
		*error_r = t_strdup_printf(
			"Invalid DNS server '%s': expected host[:port]", str);
		return -1;
	}
	if (net_addr2ip(host, &ip) < 0) {
		*error_r = t_strdup_printf(
			"Invalid DNS server '%s': not an IP address", str);
		return -1;
	}
	if (net_ipport2str(&ip, port, &name) < 0)
		i_unreached();
	server = array_append_space(&dns->servers);
	server->ip = ip;
	server->port = port;
	server->name = p_strdup(dns->pool, name);
	return 0;
}

static int
vsmlist_dns_read_resolv_conf(struct vsmlist_dns *dns, const char *path,
			     const char **error_r)
{
	struct istream *input;
	const char *line, *const *args, *error;
	int ret = 0;

	input = i_stream_create_file(path, 4096);
	while ((line = i_stream_read_next_line(input)) != NULL) {
		args = t_strsplit_spaces(line, " \t");
		if (args[0] == NULL || strcmp(args[0], "nameserver") != 0 ||
		    args[1] == NULL)
			continue;
		if (array_count(&dns->servers) >=
		    VSMLIST_DNS_MAX_RESOLV_SERVERS)
			break;
		if (vsmlist_dns_add_server(dns, args[1], &error) < 0) {
			/* e.g. a scoped IPv6 address: the others may do */
			e_debug(dns->event, "%s: %s (ignored)", path, error);
		}
	}
	if (input->stream_errno == ENOENT) {
		e_debug(dns->event, "%s does not exist", path);
	} else if (input->stream_errno != 0) {
		*error_r = t_strdup_printf("read(%s) failed: %s", path,
					   i_stream_get_error(input));
		ret = -1;
	}
	i_stream_unref(&input);
	return ret;
}

int vsmlist_dns_init(const struct vsmlist_dns_settings *set,
		     struct event *event_parent, struct vsmlist_dns **dns_r,
		     const char **error_r)
{
	struct vsmlist_dns *dns;
	const char *const *strs;
	pool_t pool;

	pool = pool_alloconly_create("vsmlist dns", 1024);
	dns = p_new(pool, struct vsmlist_dns, 1);
	dns->pool = pool;
	dns->event = event_create(event_parent);
	event_set_append_log_prefix(dns->event, "dns: ");
	dns->timeout_msecs = set->timeout_msecs;
	p_array_init(&dns->servers, pool, 4);

	if (set->servers != NULL && *set->servers != '\0') {
		for (strs = t_strsplit_spaces(set->servers, " ,");
		     *strs != NULL; strs++) {
			if (vsmlist_dns_add_server(dns, *strs, error_r) < 0) {
				vsmlist_dns_deinit(&dns);
				return -1;
			}
		}
	} else {
		if (vsmlist_dns_read_resolv_conf(
			dns, VSMLIST_DNS_RESOLV_CONF, error_r) < 0) {
			vsmlist_dns_deinit(&dns);
			return -1;
		}
		if (array_count(&dns->servers) == 0) {
			/* What glibc does without nameservers */
			if (vsmlist_dns_add_server(dns, "127.0.0.1",
						   error_r) < 0)
				i_unreached();
		}
	}
	if (array_count(&dns->servers) == 0) {
		*error_r = "No DNS servers";
		vsmlist_dns_deinit(&dns);
		return -1;
	}
	dns->rbuf = i_malloc(VSMLIST_DNS_MAX_MSG_SIZE);

	if (event_want_debug(dns->event)) {
		const struct vsmlist_dns_server *server;
		string_t *str = t_str_new(128);

		array_foreach(&dns->servers, server) {
			if (str_len(str) > 0)
				str_append(str, ", ");
			str_append(str, server->name);
		}
		e_debug(dns->event, "servers %s, timeout %u ms",
			str_c(str), dns->timeout_msecs);
	}
	*dns_r = dns;
	return 0;
}

void vsmlist_dns_deinit(struct vsmlist_dns **_dns)
{
	struct vsmlist_dns *dns = *_dns;

	if (dns == NULL)
		return;
	*_dns = NULL;

	i_free(dns->rbuf);
	event_unref(&dns->event);
	pool_unref(&dns->pool);
}

void vsmlist_dns_begin(struct vsmlist_dns *dns)
{
	dns->deadline_usecs = vsmlist_dns_now() +
		(uint64_t)dns->timeout_msecs * 1000;
	dns->query_count = 0;
	dns->first_server = 0;
}

unsigned int vsmlist_dns_get_query_count(const struct vsmlist_dns *dns)
{
	return dns->query_count;
}

/*
 * Replies
 */

static bool
vsmlist_dns_reply_matches(struct vsmlist_dns_lookup *lookup,
			  const ldns_pkt *reply)
{
	const ldns_rr_list *question = ldns_pkt_question(reply);
	const ldns_rr *rr;

	if (!ldns_pkt_qr(reply) || ldns_pkt_id(reply) != lookup->id ||
	    ldns_pkt_get_opcode(reply) != LDNS_PACKET_QUERY)
		return FALSE;
	if (ldns_rr_list_rr_count(question) == 0) {
		/* FORMERR and the like may come without the question */
		return ldns_pkt_get_rcode(reply) != LDNS_RCODE_NOERROR &&
			ldns_pkt_get_rcode(reply) != LDNS_RCODE_NXDOMAIN;
	}
	if (ldns_rr_list_rr_count(question) != 1)
		return FALSE;
	rr = ldns_rr_list_rr(question, 0);
	return ldns_rr_get_type(rr) == LDNS_RR_TYPE_TXT &&
		ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
		ldns_dname_compare(ldns_rr_owner(rr), lookup->qname_rdf) == 0;
}

/* Returns 1 and the reply when the message answers our query, else 0 */
static int
vsmlist_dns_reply_parse(struct vsmlist_dns_lookup *lookup,
			const uint8_t *data, size_t size, ldns_pkt **reply_r,
			const char **error_r)
{
	ldns_pkt *reply;
	ldns_status status;

	/* The ID first: a stray datagram costs no parsing */
	if (size < VSMLIST_DNS_HEADER_SIZE ||
	    (((uint16_t)data[0] << 8) | data[1]) != lookup->id) {
		*error_r = "reply does not match the query";
		return 0;
	}
	status = ldns_wire2pkt(&reply, data, size);
	if (status != LDNS_STATUS_OK) {
		*error_r = t_strdup_printf("unparsable reply: %s",
					   ldns_get_errorstr_by_id(status));
		return 0;
	}
	if (!vsmlist_dns_reply_matches(lookup, reply)) {
		ldns_pkt_free(reply);
		*error_r = "reply does not match the query";
		return 0;
	}
	*reply_r = reply;
	return 1;
}

/* A reply to a non-recursive query: nothing but NS RRs */
static bool vsmlist_dns_reply_is_referral(const ldns_pkt *reply)
{
	const ldns_rr_list *authority = ldns_pkt_authority(reply);
	unsigned int i, count = ldns_rr_list_rr_count(authority);
	bool have_ns = FALSE;

	if (ldns_pkt_get_rcode(reply) != LDNS_RCODE_NOERROR ||
	    ldns_rr_list_rr_count(ldns_pkt_answer(reply)) > 0)
		return FALSE;
	for (i = 0; i < count; i++) {
		switch (ldns_rr_get_type(ldns_rr_list_rr(authority, i))) {
		case LDNS_RR_TYPE_SOA:
			return FALSE;
		case LDNS_RR_TYPE_NS:
			have_ns = TRUE;
			break;
		default:
			break;
		}
	}
	return have_ns;
}

/*
 * Exchanges
 */

static void
vsmlist_dns_server_failed(struct vsmlist_dns_lookup *lookup,
			  unsigned int idx, const char *error)
{
	struct vsmlist_dns_server_state *state = &lookup->states[idx];
	const char *name = vsmlist_dns_server_name(lookup->dns, idx);

	e_debug(lookup->dns->event, "TXT %s: %s: %s",
		lookup->qname, name, error);
	state->failed = TRUE;
	i_close_fd(&state->fd);
	if (str_len(lookup->errors) > 0)
		str_append(lookup->errors, ", ");
	str_printfa(lookup->errors, "%s: %s", name, error);
}

/* Wait until the deadline for the fd to be ready. Returns 1 when it is,
   0 on timeout, -1 with errno on error. */
static int
vsmlist_dns_fd_wait(int fd, short events, uint64_t deadline_usecs)
{
	struct pollfd pfd;
	int msecs, ret;

	for (;;) {
		msecs = vsmlist_dns_poll_msecs(deadline_usecs);
		if (msecs == 0)
			return 0;
		i_zero(&pfd);
		pfd.fd = fd;
		pfd.events = events;
		ret = poll(&pfd, 1, msecs);
		if (ret > 0)
			return 1;
		if (ret < 0 && errno != EINTR)
			return -1;
	}
}

/* The query over TCP. Returns 1 and the reply, 0 on timeout, -1 on
   error. */
static int
vsmlist_dns_tcp_query(struct vsmlist_dns_lookup *lookup, unsigned int idx,
		      uint64_t deadline_usecs, ldns_pkt **reply_r,
		      const char **error_r)
{
	struct vsmlist_dns *dns = lookup->dns;
	const struct vsmlist_dns_server *server =
		array_idx(&dns->servers, idx);
	unsigned char *out;
	size_t out_size, pos, need;
	ssize_t ret;
	int fd, err, wret;
	bool have_length;

	if (vsmlist_dns_poll_msecs(deadline_usecs) == 0) {
		*error_r = "timed out before TCP";
		return 0;
	}
	fd = net_connect_ip(&server->ip, server->port, NULL);
	if (fd == -1) {
		*error_r = t_strdup_printf("TCP connect() failed: %m");
		return -1;
	}
	fd_close_on_exec(fd, TRUE);

	out_size = lookup->wire_size + 2;
	out = t_malloc_no0(out_size);
	out[0] = lookup->wire_size >> 8;
	out[1] = lookup->wire_size & 0xff;
	memcpy(out + 2, lookup->wire, lookup->wire_size);

	wret = vsmlist_dns_fd_wait(fd, POLLOUT, deadline_usecs);
	if (wret <= 0) {
		*error_r = wret == 0 ? "TCP connect() timed out" :
			t_strdup_printf("poll() failed: %m");
		i_close_fd(&fd);
		return wret;
	}
	if ((err = net_geterror(fd)) != 0) {
		*error_r = t_strdup_printf("TCP connect() failed: %s",
					   strerror(err));
		i_close_fd(&fd);
		return -1;
	}
	e_debug(dns->event, "TXT %s: asking %s over TCP",
		lookup->qname, server->name);
	dns->query_count++;
	for (pos = 0; pos < out_size; ) {
		ret = write(fd, out + pos, out_size - pos);
		if (ret > 0) {
			pos += ret;
			continue;
		}
		if (ret < 0 && errno != EAGAIN && errno != EINTR) {
			*error_r = t_strdup_printf("TCP write() failed: %m");
			i_close_fd(&fd);
			return -1;
		}
		wret = vsmlist_dns_fd_wait(fd, POLLOUT, deadline_usecs);
		if (wret <= 0) {
			*error_r = wret == 0 ? "TCP write() timed out" :
				t_strdup_printf("poll() failed: %m");
			i_close_fd(&fd);
			return wret;
		}
	}

	/* The 2-byte length, then the message. Having the length is a state
	   of its own: no part of a message is ever read as a length. */
	have_length = FALSE;
	need = 2;
	for (pos = 0; pos < need; ) {
		if (vsmlist_dns_poll_msecs(deadline_usecs) == 0) {
			/* A server that streams never lets read() block */
			*error_r = "TCP read() timed out";
			i_close_fd(&fd);
			return 0;
		}
		ret = read(fd, dns->rbuf + pos, need - pos);
		if (ret > 0) {
			pos += ret;
			if (!have_length && pos == 2) {
				need = ((size_t)dns->rbuf[0] << 8) |
					dns->rbuf[1];
				if (need < VSMLIST_DNS_HEADER_SIZE) {
					*error_r = t_strdup_printf(
						"TCP reply length %zu is shorter "
						"than a DNS header", need);
					i_close_fd(&fd);
					return -1;
				}
				have_length = TRUE;
				pos = 0;
			}
			continue;
		}
		if (ret == 0) {
			*error_r = "TCP connection closed before the reply";
			i_close_fd(&fd);
			return -1;
		}
		if (errno != EAGAIN && errno != EINTR) {
			*error_r = t_strdup_printf("TCP read() failed: %m");
			i_close_fd(&fd);
			return -1;
		}
		wret = vsmlist_dns_fd_wait(fd, POLLIN, deadline_usecs);
		if (wret <= 0) {
			*error_r = wret == 0 ? "TCP read() timed out" :
				t_strdup_printf("poll() failed: %m");
			i_close_fd(&fd);
			return wret;
		}
	}
	i_close_fd(&fd);

	if (vsmlist_dns_reply_parse(lookup, dns->rbuf, need,
				    reply_r, error_r) == 0) {
		*error_r = t_strconcat("TCP: ", *error_r, NULL);
		return -1;
	}
	return 1;
}

/* A reply to our query from a server. Returns 1 when it is the answer,
   0 when the server failed. */
static int
vsmlist_dns_reply_handle(struct vsmlist_dns_lookup *lookup,
			 unsigned int idx, ldns_pkt *reply)
{
	const char *error;
	unsigned int rcode;
	int ret;

	if (ldns_pkt_tc(reply)) {
		ldns_pkt_free(reply);
		e_debug(lookup->dns->event, "TXT %s: truncated reply",
			lookup->qname);
		ret = vsmlist_dns_tcp_query(lookup, idx,
					    vsmlist_dns_try_deadline(lookup),
					    &reply, &error);
		if (ret <= 0) {
			vsmlist_dns_server_failed(lookup, idx, error);
			return 0;
		}
	}

	rcode = ldns_pkt_get_rcode(reply);
	if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
		lookup->states[idx].replied = TRUE;
		vsmlist_dns_server_failed(lookup, idx,
					  vsmlist_dns_rcode_name(rcode));
		ldns_pkt_free(reply);
		return 0;
	}
	if (vsmlist_dns_reply_is_referral(reply)) {
		lookup->states[idx].replied = TRUE;
		vsmlist_dns_server_failed(lookup, idx,
			"referral (the server does not recurse)");
		ldns_pkt_free(reply);
		return 0;
	}
	lookup->reply = reply;
	lookup->reply_server = idx;
	return 1;
}

/* Read the datagrams waiting on a server's socket. Returns 1 when one was
   the answer, else 0. */
static int
vsmlist_dns_udp_read(struct vsmlist_dns_lookup *lookup, unsigned int idx,
		     uint64_t deadline_usecs)
{
	struct vsmlist_dns *dns = lookup->dns;
	struct vsmlist_dns_server_state *state = &lookup->states[idx];
	const struct vsmlist_dns_server *server =
		array_idx(&dns->servers, idx);
	ldns_pkt *reply;
	const char *error;
	ssize_t ret;

	while (state->fd != -1) {
		/* A flood of stray datagrams never lets recv() block */
		if (vsmlist_dns_poll_msecs(deadline_usecs) == 0)
			return 0;
		ret = recv(state->fd, dns->rbuf, VSMLIST_DNS_MAX_MSG_SIZE, 0);
		if (ret < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			vsmlist_dns_server_failed(lookup, idx,
				t_strdup_printf("recv() failed: %m"));
			return 0;
		}
		if (vsmlist_dns_reply_parse(lookup, dns->rbuf, ret,
					    &reply, &error) == 0) {
			/* Stray or spoofed: keep waiting */
			e_debug(dns->event, "TXT %s: %s: %s (ignored)",
				lookup->qname, server->name, error);
			continue;
		}
		return vsmlist_dns_reply_handle(lookup, idx, reply);
	}
	return 0;
}

/* Wait until the deadline for replies on the sockets of all the servers
   asked. Returns 1 when there is an answer, 0 when the time is up or the
   server of the current try failed, -1 on internal error. */
static int
vsmlist_dns_udp_wait(struct vsmlist_dns_lookup *lookup, unsigned int current,
		     uint64_t deadline_usecs)
{
	struct pollfd *pfds;
	unsigned int *idxs, i, count;
	int msecs, ret;

	pfds = t_new(struct pollfd, lookup->server_count);
	idxs = t_new(unsigned int, lookup->server_count);
	while (!lookup->states[current].failed) {
		count = 0;
		for (i = 0; i < lookup->server_count; i++) {
			if (lookup->states[i].fd == -1 ||
			    lookup->states[i].failed)
				continue;
			pfds[count].fd = lookup->states[i].fd;
			pfds[count].events = POLLIN;
			pfds[count].revents = 0;
			idxs[count++] = i;
		}
		msecs = vsmlist_dns_poll_msecs(deadline_usecs);
		if (count == 0 || msecs == 0)
			return 0;
		ret = poll(pfds, count, msecs);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			e_error(lookup->dns->event, "poll() failed: %m");
			return -1;
		}
		for (i = 0; i < count; i++) {
			if (pfds[i].revents == 0)
				continue;
			if (vsmlist_dns_udp_read(lookup, idxs[i],
						 deadline_usecs) > 0)
				return 1;
		}
	}
	return 0;
}

static int
vsmlist_dns_udp_send(struct vsmlist_dns_lookup *lookup, unsigned int idx)
{
	struct vsmlist_dns *dns = lookup->dns;
	struct vsmlist_dns_server_state *state = &lookup->states[idx];
	const struct vsmlist_dns_server *server =
		array_idx(&dns->servers, idx);
	ssize_t ret;

	if (state->fd == -1) {
		state->fd = net_connect_udp(&server->ip, server->port, NULL);
		if (state->fd == -1) {
			vsmlist_dns_server_failed(lookup, idx,
				t_strdup_printf("connect() failed: %m"));
			return -1;
		}
		fd_close_on_exec(state->fd, TRUE);
	}
	e_debug(dns->event, "TXT %s: asking %s%s", lookup->qname,
		server->name, state->asked ? " again" : "");
	ret = send(state->fd, lookup->wire, lookup->wire_size, 0);
	if (ret < 0) {
		vsmlist_dns_server_failed(lookup, idx,
			t_strdup_printf("send() failed: %m"));
		return -1;
	}
	if ((size_t)ret != lookup->wire_size) {
		vsmlist_dns_server_failed(lookup, idx,
					  "send() sent a partial query");
		return -1;
	}
	state->asked = TRUE;
	dns->query_count++;
	return 0;
}

/* Returns 1 when lookup->reply is the answer, 0 when there is none,
   -1 on internal error */
static int vsmlist_dns_exchange(struct vsmlist_dns_lookup *lookup)
{
	struct vsmlist_dns *dns = lookup->dns;
	unsigned int count = lookup->server_count;
	unsigned int try, total = count * VSMLIST_DNS_ROUNDS;
	unsigned int i, idx;
	uint64_t now, deadline;
	int ret;

	for (try = 0; try < total; try++) {
		idx = (dns->first_server + try) % count;
		if (lookup->states[idx].failed)
			continue;
		now = vsmlist_dns_now();
		if (now + VSMLIST_DNS_MIN_TRY_USECS > dns->deadline_usecs)
			break;
		lookup->tries_left = 0;
		for (i = try; i < total; i++) {
			if (!lookup->states[(dns->first_server + i) %
					    count].failed)
				lookup->tries_left++;
		}
		deadline = vsmlist_dns_try_deadline(lookup);
		if (vsmlist_dns_udp_send(lookup, idx) < 0)
			continue;
		ret = vsmlist_dns_udp_wait(lookup, idx, deadline);
		if (ret != 0)
			return ret;
		if (!lookup->states[idx].failed) {
			e_debug(dns->event, "TXT %s: %s: no reply yet",
				lookup->qname,
				vsmlist_dns_server_name(dns, idx));
		}
	}
	return 0;
}

/*
 * Answers
 */

static const ldns_rr *
vsmlist_dns_find_rr(const ldns_rr_list *list, ldns_rr_type type,
		    const ldns_rdf *owner)
{
	unsigned int i, count = ldns_rr_list_rr_count(list);
	const ldns_rr *rr;

	for (i = 0; i < count; i++) {
		rr = ldns_rr_list_rr(list, i);
		if (ldns_rr_get_type(rr) == type &&
		    ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
		    (owner == NULL ||
		     ldns_dname_compare(ldns_rr_owner(rr), owner) == 0))
			return rr;
	}
	return NULL;
}

/* The character-strings of a TXT RR, joined */
static const char *vsmlist_dns_txt_join(pool_t pool, const ldns_rr *rr)
{
	string_t *str = t_str_new(256);
	const ldns_rdf *rdf;
	const uint8_t *data;
	size_t i, count = ldns_rr_rd_count(rr), size, len;

	for (i = 0; i < count; i++) {
		rdf = ldns_rr_rdf(rr, i);
		data = ldns_rdf_data(rdf);
		size = ldns_rdf_size(rdf);
		if (size == 0)
			continue;
		len = I_MIN(data[0], size - 1);
		str_append_data(str, data + 1, len);
	}
	/* A NUL byte ends the string: no valid record has one */
	return p_strdup(pool, str_c(str));
}

/* min(SOA TTL, SOA MINIMUM) of the authority section (RFC 2308) */
static bool
vsmlist_dns_negative_ttl(const ldns_pkt *reply, unsigned int *ttl_r)
{
	const ldns_rr *soa;

	soa = vsmlist_dns_find_rr(ldns_pkt_authority(reply),
				  LDNS_RR_TYPE_SOA, NULL);
	if (soa == NULL || ldns_rr_rd_count(soa) < 7)
		return FALSE;
	*ttl_r = I_MIN(ldns_rr_ttl(soa),
		       ldns_rdf2native_int32(ldns_rr_rdf(soa, 6)));
	return TRUE;
}

static void
vsmlist_dns_answer_fill(struct vsmlist_dns_lookup *lookup, pool_t pool,
			struct vsmlist_dns_answer *answer_r)
{
	const ldns_pkt *reply = lookup->reply;
	const ldns_rr_list *answers = ldns_pkt_answer(reply);
	const ldns_rdf *target = lookup->qname_rdf;
	const ldns_rr *rr;
	unsigned int i, count, hops, ttl = UINT_MAX, neg_ttl;
	const char *txt;

	for (hops = 0;; hops++) {
		rr = vsmlist_dns_find_rr(answers, LDNS_RR_TYPE_CNAME, target);
		if (rr == NULL || ldns_rr_rd_count(rr) < 1)
			break;
		if (hops == VSMLIST_DNS_MAX_CNAMES) {
			answer_r->status = VSMLIST_DNS_TEMPERROR;
			answer_r->error = p_strdup_printf(pool,
				"%s: more than %u CNAMEs (a loop?)",
				vsmlist_dns_server_name(lookup->dns,
							lookup->reply_server),
				VSMLIST_DNS_MAX_CNAMES);
			return;
		}
		ttl = I_MIN(ttl, ldns_rr_ttl(rr));
		target = ldns_rr_rdf(rr, 0);
	}

	if (ldns_pkt_get_rcode(reply) == LDNS_RCODE_NOERROR) {
		count = ldns_rr_list_rr_count(answers);
		for (i = 0; i < count; i++) {
			rr = ldns_rr_list_rr(answers, i);
			if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT ||
			    ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
			    ldns_dname_compare(ldns_rr_owner(rr),
					       target) != 0)
				continue;
			txt = vsmlist_dns_txt_join(pool, rr);
			array_push_back(&answer_r->txts, &txt);
			ttl = I_MIN(ttl, ldns_rr_ttl(rr));
		}
		answer_r->status = VSMLIST_DNS_OK;
	} else {
		answer_r->status = VSMLIST_DNS_NXDOMAIN;
	}

	if (array_count(&answer_r->txts) == 0) {
		/* NXDOMAIN or NODATA */
		if (vsmlist_dns_negative_ttl(reply, &neg_ttl))
			ttl = I_MIN(ttl, neg_ttl);
		else
			ttl = 0;
	}
	answer_r->ttl_secs = ttl;
}

int vsmlist_dns_lookup_txt(struct vsmlist_dns *dns, const char *qname,
			   pool_t pool, struct vsmlist_dns_answer *answer_r)
{
	struct vsmlist_dns_lookup lookup;
	ldns_pkt *query;
	ldns_status status;
	const char *name, *error;
	unsigned int i;
	int ret;

	i_assert(dns->deadline_usecs != 0);

	i_zero(answer_r);
	p_array_init(&answer_r->txts, pool, 2);
	answer_r->status = VSMLIST_DNS_TEMPERROR;

	i_zero(&lookup);
	lookup.dns = dns;
	lookup.qname = qname;
	name = qname[0] != '\0' && qname[strlen(qname) - 1] == '.' ?
		qname : t_strconcat(qname, ".", NULL);
	lookup.qname_rdf = ldns_dname_new_frm_str(name);
	if (lookup.qname_rdf == NULL) {
		answer_r->error = p_strdup_printf(pool,
			"Invalid DNS name '%s'", qname);
		e_debug(dns->event, "TXT %s: %s", qname, answer_r->error);
		return 0;
	}
	random_fill(&lookup.id, sizeof(lookup.id));
	query = ldns_pkt_query_new(ldns_rdf_clone(lookup.qname_rdf),
				   LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN,
				   LDNS_RD);
	if (query == NULL) {
		ldns_rdf_deep_free(lookup.qname_rdf);
		e_error(dns->event, "TXT %s: ldns_pkt_query_new() failed",
			qname);
		return -1;
	}
	ldns_pkt_set_id(query, lookup.id);
	status = ldns_pkt2wire(&lookup.wire, query, &lookup.wire_size);
	ldns_pkt_free(query);
	if (status != LDNS_STATUS_OK) {
		ldns_rdf_deep_free(lookup.qname_rdf);
		e_error(dns->event, "TXT %s: ldns_pkt2wire() failed: %s",
			qname, ldns_get_errorstr_by_id(status));
		return -1;
	}

	lookup.server_count = array_count(&dns->servers);
	lookup.states = t_new(struct vsmlist_dns_server_state,
			      lookup.server_count);
	for (i = 0; i < lookup.server_count; i++)
		lookup.states[i].fd = -1;
	lookup.errors = t_str_new(128);

	ret = vsmlist_dns_exchange(&lookup);
	for (i = 0; i < lookup.server_count; i++)
		i_close_fd(&lookup.states[i].fd);

	if (ret > 0) {
		dns->first_server = lookup.reply_server;
		answer_r->from_server = TRUE;
		vsmlist_dns_answer_fill(&lookup, pool, answer_r);
		ldns_pkt_free(lookup.reply);
		if (answer_r->status == VSMLIST_DNS_TEMPERROR) {
			e_debug(dns->event, "TXT %s: temporary error: %s",
				qname, answer_r->error);
		} else {
			e_debug(dns->event, "TXT %s: %s from %s, "
				"%u TXT, TTL %u", qname,
				answer_r->status == VSMLIST_DNS_OK ?
				"NOERROR" : "NXDOMAIN",
				vsmlist_dns_server_name(dns,
							lookup.reply_server),
				array_count(&answer_r->txts),
				answer_r->ttl_secs);
		}
	} else if (ret == 0) {
		/* The servers asked that neither failed nor answered */
		for (i = 0; i < lookup.server_count; i++) {
			if (lookup.states[i].replied)
				answer_r->from_server = TRUE;
			if (!lookup.states[i].asked ||
			    lookup.states[i].failed)
				continue;
			if (str_len(lookup.errors) > 0)
				str_append(lookup.errors, ", ");
			str_printfa(lookup.errors, "%s: timed out",
				    vsmlist_dns_server_name(dns, i));
		}
		error = str_len(lookup.errors) > 0 ? str_c(lookup.errors) :
			"timed out: the discovery's deadline has passed";
		answer_r->error = p_strdup(pool, error);
		e_debug(dns->event, "TXT %s: temporary error: %s",
			qname, answer_r->error);
	}
	free(lookup.wire);
	ldns_rdf_deep_free(lookup.qname_rdf);
	return ret < 0 ? -1 : 0;
}

static int
vsmlist_dns_resolver_lookup_txt(void *context, const char *qname,
				pool_t pool,
				struct vsmlist_dns_answer *answer_r)
{
	struct vsmlist_dns *dns = context;

	return vsmlist_dns_lookup_txt(dns, qname, pool, answer_r);
}

void vsmlist_dns_get_resolver(struct vsmlist_dns *dns,
			      struct vsmlist_dns_resolver *resolver_r)
{
	i_zero(resolver_r);
	resolver_r->lookup_txt = vsmlist_dns_resolver_lookup_txt;
	resolver_r->context = dns;
}
