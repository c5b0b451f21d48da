/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "ioloop.h"
#include "net.h"
#include "fd-util.h"
#include "randgen.h"
#include "istream.h"
#include "ostream.h"

#include <time.h>
#include <ldns/ldns.h>

#include "vsmlist-dns-reply.h"
#include "vsmlist-dns.h"

/* The network exchange is ours, on a private Dovecot ioloop (an io per
   socket, one timeout for the try under way), bounded by the discovery's
   deadline; ldns builds the query and vsmlist-dns-reply.c reads the
   replies. ldns's own resolver cannot be bounded that way: it waits its
   timeout per server and per retry, and marks a server dead for the life
   of the resolver after one timeout.

   One lookup follows a plan of VSMLIST_DNS_ROUNDS rounds over the servers,
   starting with the one that answered last in this discovery. Each try
   sends the query over UDP to its server and then waits, for its share of
   the time left (the time left divided by the tries left), for a reply on
   the sockets of all the servers asked so far: a slow server's late answer
   is still taken. A server that gave an error (rcode, referral, unusable
   reply) is not asked again in this lookup. A truncated reply is asked
   again over TCP, for the share of a try. Nothing is sent once the
   deadline has passed, and every handler looks at the deadline each time
   it reads: a server that streams, or a flood of stray datagrams, never
   lets a read block, so the deadline must not depend on one blocking. */

#define VSMLIST_DNS_PORT 53
#define VSMLIST_DNS_RESOLV_CONF "/etc/resolv.conf"
/* As many resolv.conf nameservers as glibc uses (MAXNS) */
#define VSMLIST_DNS_MAX_RESOLV_SERVERS 3
/* Each server is tried this many times over UDP in one lookup */
#define VSMLIST_DNS_ROUNDS 2
/* A query is not sent with less time than this left */
#define VSMLIST_DNS_MIN_TRY_USECS 1000
#define VSMLIST_DNS_MAX_MSG_SIZE 65535
/* Datagrams read per wakeup: then the ioloop runs the try's timeout */
#define VSMLIST_DNS_MAX_DATAGRAMS_PER_READ 32

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
	/* UDP receive buffer, VSMLIST_DNS_MAX_MSG_SIZE bytes */
	uint8_t *rbuf;

	/* CLOCK_MONOTONIC in usecs; 0 before vsmlist_dns_begin() */
	uint64_t deadline_usecs;
	unsigned int query_count;
	/* The server that answered last in this discovery: asked first */
	unsigned int first_server;
};

struct vsmlist_dns_lookup;

struct vsmlist_dns_server_state {
	struct vsmlist_dns_lookup *lookup;
	unsigned int idx;
	/* The UDP socket to the server, -1 when not open */
	int fd;
	struct io *io;
	/* Sent the query at least once */
	bool asked:1;
	/* Gave an error: not asked again in this lookup */
	bool failed:1;
	/* The error was its reply (an rcode, a referral) */
	bool replied:1;
};

/* The query over TCP after a truncated reply: one at a time */
struct vsmlist_dns_tcp {
	unsigned int idx;
	/* -1 when there is no TCP exchange */
	int fd;
	struct io *io;
	struct istream *input;
	struct ostream *output;
	/* The length the server announced; 0 until its two octets came.
	   A state of its own: no part of a reply is read as a length. */
	size_t reply_length;
};

struct vsmlist_dns_lookup {
	struct vsmlist_dns *dns;
	const char *qname;
	uint16_t id;
	uint8_t *wire;
	size_t wire_size;

	struct ioloop *ioloop;
	/* The end of the try (or TCP exchange) under way */
	struct timeout *to;

	struct vsmlist_dns_server_state *states;
	unsigned int server_count;
	/* The next try of the plan (0 .. server_count * ROUNDS) */
	unsigned int next_try;
	/* The server of the try under way; UINT_MAX when only waiting */
	unsigned int current;
	struct vsmlist_dns_tcp tcp;
	/* "server: error" of the servers that failed (heap: it grows in
	   the handlers' data stack frames) */
	string_t *errors;
	unsigned int foreign_replies;

	/* The answer, in a pool of the lookup's own: the handlers run in
	   data stack frames of their own, where the caller's pool (often a
	   data stack pool) cannot be used */
	pool_t answer_pool;
	struct vsmlist_dns_answer answer;
	unsigned int answer_server;
	bool answered:1;
	bool finished:1;
};

static uint64_t vsmlist_dns_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		i_fatal("clock_gettime(CLOCK_MONOTONIC) failed: %m");
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *
vsmlist_dns_server_name(const struct vsmlist_dns *dns, unsigned int idx)
{
	const struct vsmlist_dns_server *server =
		array_idx(&dns->servers, idx);

	return server->name;
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
 * The lookup's state
 */

static void vsmlist_dns_try_next(struct vsmlist_dns_lookup *lookup);

static void vsmlist_dns_finish(struct vsmlist_dns_lookup *lookup)
{
	lookup->finished = TRUE;
	io_loop_stop(lookup->ioloop);
}

static bool vsmlist_dns_deadline_passed(struct vsmlist_dns_lookup *lookup)
{
	if (vsmlist_dns_now() < lookup->dns->deadline_usecs)
		return FALSE;
	vsmlist_dns_finish(lookup);
	return TRUE;
}

static void vsmlist_dns_udp_close(struct vsmlist_dns_server_state *state)
{
	io_remove(&state->io);
	i_close_fd(&state->fd);
}

static void vsmlist_dns_tcp_close(struct vsmlist_dns_tcp *tcp)
{
	io_remove(&tcp->io);
	i_stream_destroy(&tcp->input);
	o_stream_destroy(&tcp->output);
	i_close_fd(&tcp->fd);
	tcp->reply_length = 0;
}

static void
vsmlist_dns_server_failed(struct vsmlist_dns_lookup *lookup,
			  unsigned int idx, const char *error)
{
	struct vsmlist_dns_server_state *state = &lookup->states[idx];
	const char *name = vsmlist_dns_server_name(lookup->dns, idx);

	e_debug(lookup->dns->event, "TXT %s: %s: %s",
		lookup->qname, name, error);
	state->failed = TRUE;
	vsmlist_dns_udp_close(state);
	if (str_len(lookup->errors) > 0)
		str_append(lookup->errors, ", ");
	str_printfa(lookup->errors, "%s: %s", name, error);
}

/* A UDP server failed: the plan goes on if it was the try under way (a
   TCP exchange goes on in any case) */
static void
vsmlist_dns_udp_failed(struct vsmlist_dns_lookup *lookup, unsigned int idx,
		       const char *error)
{
	vsmlist_dns_server_failed(lookup, idx, error);
	if (lookup->tcp.fd == -1 && idx == lookup->current)
		vsmlist_dns_try_next(lookup);
}

static void
vsmlist_dns_tcp_failed(struct vsmlist_dns_lookup *lookup, const char *error)
{
	unsigned int idx = lookup->tcp.idx;

	vsmlist_dns_tcp_close(&lookup->tcp);
	vsmlist_dns_server_failed(lookup, idx, error);
	vsmlist_dns_try_next(lookup);
}

/* The msecs until deadline_usecs, rounded up; 0 when it has passed */
static unsigned int vsmlist_dns_msecs_until(uint64_t deadline_usecs)
{
	uint64_t now = vsmlist_dns_now();

	if (deadline_usecs <= now)
		return 0;
	return (unsigned int)((deadline_usecs - now + 999) / 1000);
}

/* src with its strings in pool */
static void
vsmlist_dns_answer_copy(pool_t pool, const struct vsmlist_dns_answer *src,
			struct vsmlist_dns_answer *dest_r)
{
	const char *txt;

	*dest_r = *src;
	p_array_init(&dest_r->txts, pool, array_count(&src->txts));
	array_foreach_elem(&src->txts, txt) {
		txt = p_strdup(pool, txt);
		array_push_back(&dest_r->txts, &txt);
	}
	dest_r->error = p_strdup(pool, src->error);
}

/* The server's answer: the lookup's, or for an error one the server
   failed */
static void
vsmlist_dns_answer_taken(struct vsmlist_dns_lookup *lookup, unsigned int idx,
			 const struct vsmlist_dns_answer *answer)
{
	i_assert(!lookup->answered);
	if (answer->status == VSMLIST_DNS_TEMPERROR) {
		lookup->states[idx].replied = TRUE;
		if (lookup->tcp.fd != -1 && lookup->tcp.idx == idx)
			vsmlist_dns_tcp_failed(lookup, answer->error);
		else
			vsmlist_dns_udp_failed(lookup, idx, answer->error);
		return;
	}
	/* It was parsed in the handler's data stack frame */
	lookup->answer_pool = pool_alloconly_create("vsmlist dns answer",
						    1024);
	vsmlist_dns_answer_copy(lookup->answer_pool, answer, &lookup->answer);
	lookup->answered = TRUE;
	lookup->answer_server = idx;
	vsmlist_dns_finish(lookup);
}

/*
 * TCP
 */

static void vsmlist_dns_tcp_timeout(struct vsmlist_dns_lookup *lookup)
{
	if (lookup->finished)
		return;
	vsmlist_dns_tcp_failed(lookup, lookup->tcp.output == NULL ?
			       "TCP connect() timed out" :
			       "TCP read() timed out");
}

/* Returns the reply when it is complete, NULL while it is not or when
   the exchange failed */
static const unsigned char *
vsmlist_dns_tcp_read(struct vsmlist_dns_lookup *lookup)
{
	struct vsmlist_dns_tcp *tcp = &lookup->tcp;
	const unsigned char *data;
	size_t size;
	int ret;

	if (tcp->reply_length == 0) {
		ret = i_stream_read_bytes(tcp->input, &data, &size, 2);
		if (ret <= 0)
			goto not_yet;
		tcp->reply_length = ((size_t)data[0] << 8) | data[1];
		if (tcp->reply_length < VSMLIST_DNS_HEADER_SIZE) {
			vsmlist_dns_tcp_failed(lookup, t_strdup_printf(
				"TCP reply length %zu is shorter than a DNS "
				"header", tcp->reply_length));
			return NULL;
		}
		i_stream_skip(tcp->input, 2);
	}
	ret = i_stream_read_bytes(tcp->input, &data, &size, tcp->reply_length);
	if (ret > 0)
		return data;
not_yet:
	if (ret == 0)
		return NULL;
	i_assert(ret == -1);
	vsmlist_dns_tcp_failed(lookup, tcp->input->stream_errno == 0 ?
		"TCP connection closed before the reply" :
		t_strdup_printf("TCP read() failed: %s",
				i_stream_get_error(tcp->input)));
	return NULL;
}

static void vsmlist_dns_tcp_input(struct vsmlist_dns_lookup *lookup)
{
	struct vsmlist_dns_answer answer;
	const unsigned char *data;
	const char *error;

	if (lookup->finished || vsmlist_dns_deadline_passed(lookup))
		return;
	T_BEGIN {
		data = vsmlist_dns_tcp_read(lookup);
		if (data == NULL) {
			/* Not yet, or the exchange failed */
		} else if (vsmlist_dns_reply_parse(data,
				lookup->tcp.reply_length, lookup->id,
				lookup->qname, pool_datastack_create(),
				&answer, &error) == VSMLIST_DNS_REPLY_ANSWER) {
			vsmlist_dns_answer_taken(lookup, lookup->tcp.idx,
						 &answer);
		} else {
			/* Truncated again, or another query's: the
			   connection had one chance */
			vsmlist_dns_tcp_failed(lookup,
					       t_strconcat("TCP: ", error, NULL));
		}
	} T_END;
}

static void vsmlist_dns_tcp_connected(struct vsmlist_dns_lookup *lookup)
{
	struct vsmlist_dns_tcp *tcp = &lookup->tcp;
	struct vsmlist_dns *dns = lookup->dns;
	unsigned char length[2];
	int err;

	io_remove(&tcp->io);
	if (lookup->finished)
		return;
	if ((err = net_geterror(tcp->fd)) != 0) {
		vsmlist_dns_tcp_failed(lookup, t_strdup_printf(
			"TCP connect() failed: %s", strerror(err)));
		return;
	}
	e_debug(dns->event, "TXT %s: asking %s over TCP", lookup->qname,
		vsmlist_dns_server_name(dns, tcp->idx));
	dns->query_count++;

	/* The reply: its length and at most that many octets */
	tcp->input = i_stream_create_fd(tcp->fd, 2 + VSMLIST_DNS_MAX_MSG_SIZE);
	tcp->output = o_stream_create_fd(tcp->fd, 0);
	length[0] = lookup->wire_size >> 8;
	length[1] = lookup->wire_size & 0xff;
	o_stream_nsend(tcp->output, length, sizeof(length));
	o_stream_nsend(tcp->output, lookup->wire, lookup->wire_size);
	/* What does not go now is sent by the stream's own io */
	if (o_stream_flush(tcp->output) < 0) {
		vsmlist_dns_tcp_failed(lookup, t_strdup_printf(
			"TCP write() failed: %s",
			o_stream_get_error(tcp->output)));
		return;
	}
	tcp->io = io_add_istream(tcp->input, vsmlist_dns_tcp_input, lookup);
}

static unsigned int vsmlist_dns_tries_left(struct vsmlist_dns_lookup *lookup)
{
	unsigned int i, count = lookup->server_count, tries_left = 0;
	unsigned int first = lookup->dns->first_server;

	for (i = lookup->next_try; i < count * VSMLIST_DNS_ROUNDS; i++) {
		if (!lookup->states[(first + i) % count].failed)
			tries_left++;
	}
	return tries_left;
}

/* Ask the server that gave a truncated reply again over TCP, for the
   share of a try */
static void
vsmlist_dns_tcp_start(struct vsmlist_dns_lookup *lookup, unsigned int idx)
{
	struct vsmlist_dns *dns = lookup->dns;
	const struct vsmlist_dns_server *server =
		array_idx(&dns->servers, idx);
	struct vsmlist_dns_tcp *tcp = &lookup->tcp;
	uint64_t now = vsmlist_dns_now(), deadline;

	if (tcp->fd != -1) {
		e_debug(dns->event, "TXT %s: %s: truncated reply while "
			"asking %s over TCP (ignored)", lookup->qname,
			server->name, vsmlist_dns_server_name(dns, tcp->idx));
		return;
	}
	e_debug(dns->event, "TXT %s: %s: truncated reply", lookup->qname,
		server->name);
	if (now + VSMLIST_DNS_MIN_TRY_USECS > dns->deadline_usecs) {
		vsmlist_dns_udp_failed(lookup, idx, "timed out before TCP");
		return;
	}
	tcp->fd = net_connect_ip(&server->ip, server->port, NULL);
	if (tcp->fd == -1) {
		vsmlist_dns_udp_failed(lookup, idx, t_strdup_printf(
			"TCP connect() failed: %m"));
		return;
	}
	fd_close_on_exec(tcp->fd, TRUE);
	tcp->idx = idx;
	tcp->io = io_add(tcp->fd, IO_WRITE, vsmlist_dns_tcp_connected,
			 lookup);
	/* The try under way, if any, gives way to the TCP exchange */
	deadline = now + (dns->deadline_usecs - now) /
		(vsmlist_dns_tries_left(lookup) + 1);
	timeout_remove(&lookup->to);
	lookup->to = timeout_add_short(vsmlist_dns_msecs_until(deadline),
				       vsmlist_dns_tcp_timeout, lookup);
}

/*
 * UDP
 */

static void
vsmlist_dns_udp_reply(struct vsmlist_dns_lookup *lookup, unsigned int idx,
		      const unsigned char *data, size_t size)
{
	struct vsmlist_dns_answer answer;
	const char *error;

	switch (vsmlist_dns_reply_parse(data, size, lookup->id, lookup->qname,
					pool_datastack_create(), &answer,
					&error)) {
	case VSMLIST_DNS_REPLY_FOREIGN:
		/* Stray or spoofed: keep waiting. Logged once, a flood
		   would flood the log. */
		if (lookup->foreign_replies++ == 0) {
			e_debug(lookup->dns->event, "TXT %s: %s: %s (ignored)",
				lookup->qname,
				vsmlist_dns_server_name(lookup->dns, idx),
				error);
		}
		break;
	case VSMLIST_DNS_REPLY_TRUNCATED:
		vsmlist_dns_tcp_start(lookup, idx);
		break;
	case VSMLIST_DNS_REPLY_ANSWER:
		vsmlist_dns_answer_taken(lookup, idx, &answer);
		break;
	}
}

static void vsmlist_dns_udp_input(struct vsmlist_dns_server_state *state)
{
	struct vsmlist_dns_lookup *lookup = state->lookup;
	struct vsmlist_dns *dns = lookup->dns;
	unsigned int i;
	ssize_t ret;

	for (i = 0; i < VSMLIST_DNS_MAX_DATAGRAMS_PER_READ; i++) {
		if (lookup->finished || state->fd == -1 ||
		    vsmlist_dns_deadline_passed(lookup))
			return;
		ret = recv(state->fd, dns->rbuf, VSMLIST_DNS_MAX_MSG_SIZE, 0);
		if (ret < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			vsmlist_dns_udp_failed(lookup, state->idx,
				t_strdup_printf("recv() failed: %m"));
			return;
		}
		T_BEGIN {
			vsmlist_dns_udp_reply(lookup, state->idx,
					      dns->rbuf, ret);
		} T_END;
	}
	/* More may be waiting: the ioloop calls again after its timeouts */
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
		state->io = io_add(state->fd, IO_READ, vsmlist_dns_udp_input,
				   state);
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

/*
 * The plan
 */

static bool vsmlist_dns_have_pending(struct vsmlist_dns_lookup *lookup)
{
	unsigned int i;

	for (i = 0; i < lookup->server_count; i++) {
		if (lookup->states[i].asked && !lookup->states[i].failed)
			return TRUE;
	}
	return FALSE;
}

static void vsmlist_dns_try_timeout(struct vsmlist_dns_lookup *lookup)
{
	if (lookup->finished)
		return;
	if (lookup->current != UINT_MAX &&
	    !lookup->states[lookup->current].failed) {
		e_debug(lookup->dns->event, "TXT %s: %s: no reply yet",
			lookup->qname,
			vsmlist_dns_server_name(lookup->dns,
						lookup->current));
	}
	vsmlist_dns_try_next(lookup);
}

/* Send the next try of the plan and wait for its share of the time;
   with nothing left to send, wait for the servers asked until the
   deadline, or finish */
static void vsmlist_dns_try_next(struct vsmlist_dns_lookup *lookup)
{
	struct vsmlist_dns *dns = lookup->dns;
	unsigned int count = lookup->server_count;
	unsigned int idx, total = count * VSMLIST_DNS_ROUNDS;
	uint64_t now = vsmlist_dns_now(), deadline;

	timeout_remove(&lookup->to);
	lookup->current = UINT_MAX;
	while (lookup->next_try < total) {
		idx = (dns->first_server + lookup->next_try) % count;
		if (lookup->states[idx].failed) {
			lookup->next_try++;
			continue;
		}
		now = vsmlist_dns_now();
		if (now + VSMLIST_DNS_MIN_TRY_USECS > dns->deadline_usecs)
			break;
		deadline = now + (dns->deadline_usecs - now) /
			vsmlist_dns_tries_left(lookup);
		lookup->next_try++;
		if (vsmlist_dns_udp_send(lookup, idx) < 0)
			continue;
		lookup->current = idx;
		lookup->to = timeout_add_short(
			vsmlist_dns_msecs_until(deadline),
			vsmlist_dns_try_timeout, lookup);
		return;
	}
	if (vsmlist_dns_have_pending(lookup) && now < dns->deadline_usecs) {
		lookup->to = timeout_add_short(
			vsmlist_dns_msecs_until(dns->deadline_usecs),
			vsmlist_dns_try_timeout, lookup);
		return;
	}
	vsmlist_dns_finish(lookup);
}

/*
 * Lookups
 */

static int
vsmlist_dns_query_build(struct vsmlist_dns_lookup *lookup,
			const char **error_r)
{
	ldns_rdf *qname_rdf;
	ldns_pkt *query;
	ldns_status status;
	const char *name, *qname = lookup->qname;

	name = qname[0] != '\0' && qname[strlen(qname) - 1] == '.' ?
		qname : t_strconcat(qname, ".", NULL);
	qname_rdf = ldns_dname_new_frm_str(name);
	if (qname_rdf == NULL) {
		*error_r = t_strdup_printf("Invalid DNS name '%s'", qname);
		return 0;
	}
	random_fill(&lookup->id, sizeof(lookup->id));
	query = ldns_pkt_query_new(qname_rdf, LDNS_RR_TYPE_TXT,
				   LDNS_RR_CLASS_IN, LDNS_RD);
	if (query == NULL) {
		ldns_rdf_deep_free(qname_rdf);
		*error_r = "ldns_pkt_query_new() failed";
		return -1;
	}
	ldns_pkt_set_id(query, lookup->id);
	status = ldns_pkt2wire(&lookup->wire, query, &lookup->wire_size);
	ldns_pkt_free(query);
	if (status != LDNS_STATUS_OK) {
		*error_r = t_strdup_printf("ldns_pkt2wire() failed: %s",
					   ldns_get_errorstr_by_id(status));
		return -1;
	}
	return 1;
}

/* Run the plan on a private ioloop until there is an answer, every
   server failed or the deadline passed */
static void vsmlist_dns_exchange(struct vsmlist_dns_lookup *lookup)
{
	unsigned int i;

	lookup->server_count = array_count(&lookup->dns->servers);
	lookup->states = i_new(struct vsmlist_dns_server_state,
			       lookup->server_count);
	for (i = 0; i < lookup->server_count; i++) {
		lookup->states[i].lookup = lookup;
		lookup->states[i].idx = i;
		lookup->states[i].fd = -1;
	}
	lookup->tcp.fd = -1;
	lookup->errors = str_new(default_pool, 128);

	lookup->ioloop = io_loop_create();
	vsmlist_dns_try_next(lookup);
	if (!lookup->finished)
		io_loop_run(lookup->ioloop);

	timeout_remove(&lookup->to);
	vsmlist_dns_tcp_close(&lookup->tcp);
	for (i = 0; i < lookup->server_count; i++)
		vsmlist_dns_udp_close(&lookup->states[i]);
	io_loop_destroy(&lookup->ioloop);
}

/* The temporary error of a lookup without an answer */
static void
vsmlist_dns_no_answer(struct vsmlist_dns_lookup *lookup, pool_t pool,
		      struct vsmlist_dns_answer *answer_r)
{
	struct vsmlist_dns *dns = lookup->dns;
	unsigned int i;

	/* The servers asked that neither failed nor answered */
	for (i = 0; i < lookup->server_count; i++) {
		if (lookup->states[i].replied)
			answer_r->from_server = TRUE;
		if (!lookup->states[i].asked || lookup->states[i].failed)
			continue;
		if (str_len(lookup->errors) > 0)
			str_append(lookup->errors, ", ");
		str_printfa(lookup->errors, "%s: timed out",
			    vsmlist_dns_server_name(dns, i));
	}
	answer_r->error = p_strdup(pool,
		str_len(lookup->errors) > 0 ? str_c(lookup->errors) :
		"timed out: the discovery's deadline has passed");
	e_debug(dns->event, "TXT %s: temporary error: %s",
		lookup->qname, answer_r->error);
}

int vsmlist_dns_lookup_txt(struct vsmlist_dns *dns, const char *qname,
			   pool_t pool, struct vsmlist_dns_answer *answer_r)
{
	struct vsmlist_dns_lookup lookup;
	const char *error;
	int ret;

	i_assert(dns->deadline_usecs != 0);

	i_zero(answer_r);
	p_array_init(&answer_r->txts, pool, 2);
	answer_r->status = VSMLIST_DNS_TEMPERROR;

	i_zero(&lookup);
	lookup.dns = dns;
	lookup.qname = qname;
	ret = vsmlist_dns_query_build(&lookup, &error);
	if (ret <= 0) {
		if (ret < 0) {
			e_error(dns->event, "TXT %s: %s", qname, error);
			free(lookup.wire);
			return -1;
		}
		answer_r->error = p_strdup(pool, error);
		e_debug(dns->event, "TXT %s: %s", qname, error);
		return 0;
	}

	vsmlist_dns_exchange(&lookup);
	if (lookup.foreign_replies > 1) {
		e_debug(dns->event, "TXT %s: %u replies ignored in all",
			qname, lookup.foreign_replies);
	}
	if (lookup.answered) {
		vsmlist_dns_answer_copy(pool, &lookup.answer, answer_r);
		pool_unref(&lookup.answer_pool);
		dns->first_server = lookup.answer_server;
		e_debug(dns->event, "TXT %s: %s from %s, %u TXT, TTL %u",
			qname, answer_r->status == VSMLIST_DNS_OK ?
			"NOERROR" : "NXDOMAIN",
			vsmlist_dns_server_name(dns, lookup.answer_server),
			array_count(&answer_r->txts), answer_r->ttl_secs);
	} else {
		vsmlist_dns_no_answer(&lookup, pool, answer_r);
	}
	str_free(&lookup.errors);
	i_free(lookup.states);
	free(lookup.wire);
	return 0;
}

static int
vsmlist_dns_resolver_lookup_txt(void *context, const char *qname,
				pool_t pool,
				struct vsmlist_dns_answer *answer_r)
{
	struct vsmlist_dns *dns = context;

	return vsmlist_dns_lookup_txt(dns, qname, pool, answer_r);
}

static bool vsmlist_dns_resolver_deadline_passed(void *context)
{
	struct vsmlist_dns *dns = context;

	return vsmlist_dns_now() >= dns->deadline_usecs;
}

void vsmlist_dns_get_resolver(struct vsmlist_dns *dns,
			      struct vsmlist_dns_resolver *resolver_r)
{
	i_zero(resolver_r);
	resolver_r->lookup_txt = vsmlist_dns_resolver_lookup_txt;
	resolver_r->deadline_passed = vsmlist_dns_resolver_deadline_passed;
	resolver_r->context = dns;
}
