/* Copyright (c) 2026 vsmlist authors, see the included COPYING file */

/* The lib-smtp fan-out client against a scripted SMTP server in a child
   process: per-recipient results, one connection for all transactions,
   BODY=8BITMIME, transaction failures and the bounds on every wait. */

#include "lib.h"
#include "array.h"
#include "ioloop.h"
#include "net.h"
#include "str.h"
#include "istream.h"
#include "smtp-address.h"
#include "test-common.h"
#include "vsmlist-smtp.h"

#include <stdio.h>
#include <time.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

struct test_server_config {
	bool no_8bitmime;
	/* Offer DSN (RFC 3461) */
	bool dsn;
	bool no_pipelining;
	/* Wait before answering each RCPT */
	unsigned int rcpt_delay_msecs;
	/* Close the connection instead of answering this RCPT of it */
	unsigned int drop_at_rcpt;
	/* Close the connection after this many transactions */
	unsigned int drop_after;
	/* Wait before answering the end of DATA */
	unsigned int data_delay_secs;
	/* Replies instead of 250 */
	const char *mail_reply, *data_reply;
	/* RCPTs taken per transaction (452 4.5.3 for the rest) */
	unsigned int rcpt_limit;
};

struct test_server {
	pid_t pid;
	in_port_t port;
	const char *log_path;
};

static const char *test_log_dir;
static unsigned int test_server_counter;

/*
 * The server (child process, plain blocking I/O)
 */

static void test_server_reply(FILE *out, const char *reply)
{
	fprintf(out, "%s\r\n", reply);
	fflush(out);
}

/* Whether the client has sent more before it got the reply to the
   command just read (the input is unbuffered) */
static bool test_server_client_pipelined(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

static void ATTR_NORETURN
test_server_run(int listen_fd, const struct test_server_config *config,
		const char *log_path)
{
	FILE *log = fopen(log_path, "a");
	char line[1024];
	unsigned int conn_no = 0, trans, rcpts = 0, rcpt_no;
	int fd;

	if (log == NULL)
		_exit(1);
	setvbuf(log, NULL, _IOLBF, 0);
	for (;;) {
		FILE *in, *out;

		fd = accept(listen_fd, NULL, NULL);
		if (fd < 0)
			_exit(1);
		conn_no++;
		trans = rcpt_no = 0;
		in = fdopen(fd, "r");
		/* Unbuffered: what the client sent ahead stays in the
		   socket, where test_server_client_pipelined() sees it */
		setvbuf(in, NULL, _IONBF, 0);
		out = fdopen(dup(fd), "w");
		fprintf(log, "open %u\n", conn_no);
		test_server_reply(out, "220 test ESMTP");
		while (fgets(line, sizeof(line), in) != NULL) {
			line[strcspn(line, "\r\n")] = '\0';
			fprintf(log, "%u %s\n", conn_no, line);
			if (test_server_client_pipelined(fd))
				fprintf(log, "%u pipelined\n", conn_no);
			if (strncasecmp(line, "EHLO", 4) == 0) {
				fprintf(out, "250-test\r\n");
				if (!config->no_pipelining)
					fprintf(out, "250-PIPELINING\r\n");
				if (!config->no_8bitmime)
					fprintf(out, "250-8BITMIME\r\n");
				if (config->dsn)
					fprintf(out, "250-DSN\r\n");
				test_server_reply(out,
					"250 ENHANCEDSTATUSCODES");
			} else if (strncasecmp(line, "MAIL", 4) == 0) {
				rcpts = 0;
				test_server_reply(out,
					config->mail_reply != NULL ?
					config->mail_reply : "250 2.1.0 ok");
			} else if (strncasecmp(line, "RCPT", 4) == 0) {
				if (++rcpt_no == config->drop_at_rcpt)
					break;
				if (config->rcpt_delay_msecs > 0)
					usleep(config->rcpt_delay_msecs * 1000);
				if (config->rcpt_limit > 0 &&
				    rcpts >= config->rcpt_limit)
					test_server_reply(out,
						"452 4.5.3 too many recipients");
				else if (strstr(line, "<full") != NULL)
					test_server_reply(out,
						"452 4.2.2 mailbox full");
				else if (strstr(line, "<reject") != NULL)
					test_server_reply(out,
						"550 5.1.1 no such user");
				else if (strstr(line, "<defer") != NULL)
					test_server_reply(out,
						"450 4.2.1 mailbox busy");
				else {
					rcpts++;
					test_server_reply(out, "250 2.1.5 ok");
				}
			} else if (strcasecmp(line, "DATA") == 0 &&
				   rcpts == 0) {
				/* As real servers do (the client pipelines
				   DATA before it knows) */
				test_server_reply(out,
					"554 5.5.1 no valid recipients");
			} else if (strcasecmp(line, "DATA") == 0) {
				test_server_reply(out, "354 go ahead");
				while (fgets(line, sizeof(line), in) != NULL &&
				       strcmp(line, ".\r\n") != 0) ;
				if (config->data_delay_secs > 0)
					sleep(config->data_delay_secs);
				test_server_reply(out,
					config->data_reply != NULL ?
					config->data_reply :
					"250 2.0.0 queued");
				fprintf(log, "%u message\n", conn_no);
				if (++trans == config->drop_after)
					break;
			} else if (strcasecmp(line, "QUIT") == 0) {
				test_server_reply(out, "221 2.0.0 bye");
				break;
			} else {
				test_server_reply(out, "250 2.0.0 ok");
			}
		}
		fprintf(log, "close %u\n", conn_no);
		fclose(in);
		fclose(out);
	}
}

static void
test_server_start(const struct test_server_config *config,
		  struct test_server *server_r)
{
	struct ip_addr ip;
	in_port_t port = 0;
	int fd;

	i_zero(server_r);
	server_r->log_path = t_strdup_printf("%s/server%u.log", test_log_dir,
					     ++test_server_counter);
	if (net_addr2ip("127.0.0.1", &ip) < 0)
		i_unreached();
	fd = net_listen(&ip, &port, 8);
	if (fd < 0)
		i_fatal("net_listen() failed: %m");
	/* The child accepts with blocking I/O */
	fd_set_nonblock(fd, FALSE);
	server_r->port = port;

	server_r->pid = fork();
	if (server_r->pid < 0)
		i_fatal("fork() failed: %m");
	if (server_r->pid == 0) {
		/* Never outlive the test */
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
		test_server_run(fd, config, server_r->log_path);
	}
	i_close_fd(&fd);
}

static const char *test_server_stop(struct test_server *server)
{
	struct istream *input;
	const unsigned char *data;
	string_t *log = t_str_new(256);
	size_t size;
	int fd, status;

	if (kill(server->pid, SIGTERM) < 0)
		i_fatal("kill(%ld) failed: %m", (long)server->pid);
	if (waitpid(server->pid, &status, 0) < 0)
		i_fatal("waitpid() failed: %m");
	fd = open(server->log_path, O_RDONLY);
	if (fd < 0)
		return "";
	input = i_stream_create_fd_autoclose(&fd, SIZE_MAX);
	while (i_stream_read_more(input, &data, &size) > 0) {
		str_append_data(log, data, size);
		i_stream_skip(input, size);
	}
	i_stream_unref(&input);
	i_unlink(server->log_path);
	return str_c(log);
}

static unsigned int test_count(const char *log, const char *what)
{
	unsigned int count = 0;

	while ((log = strstr(log, what)) != NULL) {
		count++;
		log++;
	}
	return count;
}

/*
 * The client
 */

static struct vsmlist_smtp *
test_client(in_port_t port, unsigned int timeout_msecs)
{
	struct vsmlist_smtp_settings set;
	struct vsmlist_smtp *smtp;
	const char *error;

	i_zero(&set);
	set.host = "127.0.0.1";
	set.port = port;
	set.my_hostname = "client.test";
	set.timeout_msecs = timeout_msecs;
	if (vsmlist_smtp_init(&set, NULL, &smtp, &error) < 0)
		i_fatal("vsmlist_smtp_init() failed: %s", error);
	return smtp;
}

static int
test_send(struct vsmlist_smtp *smtp, const char *const *locals,
	  bool body_8bit, struct vsmlist_rcpt_result *results,
	  const char **error_r)
{
	ARRAY(const struct smtp_address *) rcpts;
	struct vsmlist_transaction trans;
	unsigned int i;
	int ret;

	t_array_init(&rcpts, 8);
	for (i = 0; locals[i] != NULL; i++) {
		const struct smtp_address *addr = smtp_address_create(
			pool_datastack_create(), locals[i], "example.net");
		array_push_back(&rcpts, &addr);
		i_zero(&results[i]);
	}
	i_zero(&trans);
	trans.mail_from = smtp_address_create_temp("l+bounces",
						   "lists.example");
	trans.rcpts = array_get(&rcpts, &trans.rcpt_count);
	trans.body_8bit = body_8bit;
	trans.envid = "post1@example.com";
	trans.input = test_istream_create(
		"Subject: test\r\n\r\nK\xc3\xa4se\r\n.dot\r\n");
	struct vsmlist_transaction_result result;

	i_zero(&result);
	ret = vsmlist_smtp_send(smtp, &trans, results, &result);
	*error_r = result.error;
	i_stream_unref(&trans.input);
	return ret;
}

static void test_smtp_reuse(void)
{
	static const char *const rcpts[] = { "a", "b", NULL };
	struct test_server_config config;
	struct test_server server;
	struct vsmlist_rcpt_result results[2];
	struct vsmlist_smtp *smtp;
	const char *error, *log;
	unsigned int i;

	test_begin("smtp: one connection for every transaction");
	i_zero(&config);
	test_server_start(&config, &server);
	smtp = test_client(server.port, 5000);
	for (i = 0; i < 3; i++) {
		test_assert_idx(test_send(smtp, rcpts, FALSE, results,
					  &error) == 1, i);
		test_assert_idx(results[0].status == VSMLIST_RCPT_SENT &&
				results[1].status == VSMLIST_RCPT_SENT, i);
	}
	test_assert(vsmlist_smtp_get_connections(smtp) == 1);
	test_assert_strcmp(vsmlist_smtp_get_relay(smtp), t_strdup_printf(
		"127.0.0.1:%u", server.port));
	vsmlist_smtp_deinit(&smtp);
	log = test_server_stop(&server);
	test_assert(test_count(log, "open ") == 1);
	test_assert(test_count(log, "1 message") == 3);
	test_assert(test_count(log, "1 QUIT") == 1);
	/* 7-bit said nothing about the body */
	test_assert(strstr(log, "BODY=") == NULL);
	test_end();
}

static void test_smtp_8bitmime(void)
{
	static const char *const rcpts[] = { "a", NULL };
	struct test_server_config config;
	struct test_server server;
	struct vsmlist_rcpt_result results[1];
	struct vsmlist_smtp *smtp;
	const char *error, *log;

	test_begin("smtp: BODY=8BITMIME for an 8-bit message");
	i_zero(&config);
	test_server_start(&config, &server);
	smtp = test_client(server.port, 5000);
	test_assert(test_send(smtp, rcpts, TRUE, results, &error) == 1);
	vsmlist_smtp_deinit(&smtp);
	log = test_server_stop(&server);
	test_assert(strstr(log, "MAIL FROM:<l+bounces@lists.example> "
			   "BODY=8BITMIME") != NULL);
	test_end();

	test_begin("smtp: no BODY= where the relay lacks 8BITMIME");
	i_zero(&config);
	config.no_8bitmime = TRUE;
	test_server_start(&config, &server);
	smtp = test_client(server.port, 5000);
	test_assert(test_send(smtp, rcpts, TRUE, results, &error) == 1);
	vsmlist_smtp_deinit(&smtp);
	log = test_server_stop(&server);
	test_assert(strstr(log, "BODY=") == NULL);
	test_assert(test_count(log, "message") == 1);
	test_end();
}

static void test_smtp_dsn(void)
{
	static const char *const rcpts[] = { "a", "b+x", NULL };
	struct test_server_config config;
	struct test_server server;
	struct vsmlist_rcpt_result results[2];
	struct vsmlist_smtp *smtp;
	const char *error, *log;

	test_begin("smtp: DSN parameters where the relay offers DSN");
	i_zero(&config);
	config.dsn = TRUE;
	test_server_start(&config, &server);
	smtp = test_client(server.port, 5000);
	test_assert(test_send(smtp, rcpts, FALSE, results, &error) == 1);
	vsmlist_smtp_deinit(&smtp);
	log = test_server_stop(&server);
	test_assert(strstr(log, "MAIL FROM:<l+bounces@lists.example> "
			   "ENVID=post1@example.com RET=HDRS") != NULL);
	test_assert(strstr(log, "RCPT TO:<a@example.net> "
			   "NOTIFY=FAILURE,DELAY ORCPT=rfc822;a@example.net") != NULL);
	/* xtext: '+' is +2B */
	test_assert(strstr(log, "RCPT TO:<b+x@example.net> "
			   "NOTIFY=FAILURE,DELAY ORCPT=rfc822;b+2Bx@example.net") != NULL);
	test_end();

	test_begin("smtp: no DSN parameters where the relay lacks DSN");
	i_zero(&config);
	test_server_start(&config, &server);
	smtp = test_client(server.port, 5000);
	test_assert(test_send(smtp, rcpts, FALSE, results, &error) == 1);
	vsmlist_smtp_deinit(&smtp);
	log = test_server_stop(&server);
	test_assert(strstr(log, "ENVID=") == NULL);
	test_assert(strstr(log, "NOTIFY=") == NULL);
	test_end();
}

static void test_smtp_rcpt_results(void)
{
	static const char *const rcpts[] = {
		"a", "reject1", "b", "defer1", "reject2", NULL
	};
	static const char *const refused[] = { "reject1", "defer1", NULL };
	struct test_server_config config;
	struct test_server server;
	struct vsmlist_rcpt_result results[5];
	struct vsmlist_smtp *smtp;
	const char *error, *log;

	test_begin("smtp: a result per recipient");
	i_zero(&config);
	test_server_start(&config, &server);
	smtp = test_client(server.port, 5000);
	test_assert(test_send(smtp, rcpts, FALSE, results, &error) == 1);
	test_assert(results[0].status == VSMLIST_RCPT_SENT);
	test_assert(results[1].status == VSMLIST_RCPT_REJECTED);
	test_assert(results[1].reply != NULL &&
		    strstr(results[1].reply, "550 5.1.1") != NULL);
	test_assert(results[2].status == VSMLIST_RCPT_SENT);
	test_assert(results[3].status == VSMLIST_RCPT_DEFERRED);
	test_assert(results[3].reply != NULL &&
		    strstr(results[3].reply, "450 4.2.1") != NULL);
	test_assert(results[4].status == VSMLIST_RCPT_REJECTED);

	/* Nobody accepted: no DATA, and the connection stays usable */
	test_assert(test_send(smtp, refused, FALSE, results, &error) == 1);
	test_assert(results[0].status == VSMLIST_RCPT_REJECTED);
	test_assert(results[1].status == VSMLIST_RCPT_DEFERRED);
	test_assert(test_send(smtp, rcpts, FALSE, results, &error) == 1);
	test_assert(results[0].status == VSMLIST_RCPT_SENT);
	vsmlist_smtp_deinit(&smtp);
	log = test_server_stop(&server);
	test_assert(test_count(log, "open ") == 1);
	test_assert(test_count(log, "1 message") == 2);
	/* The relay took no message in the second one: it is reset before
	   the third */
	test_assert(test_count(log, "1 RSET") == 1);
	test_end();
}

static void test_smtp_many_rcpts(void)
{
	const unsigned int count = 250;
	const char **rcpts = t_new(const char *, count + 1);
	struct vsmlist_rcpt_result *results =
		t_new(struct vsmlist_rcpt_result, count);
	struct test_server_config config;
	struct test_server server;
	struct vsmlist_smtp *smtp;
	const char *error, *log;
	unsigned int i;

	test_begin("smtp: many recipients, pipelined, each with its result");
	for (i = 0; i < count; i++) {
		/* Refusals on both sides of every 100th recipient */
		if (i % 50 == 0 || i == 249)
			rcpts[i] = t_strdup_printf("reject%03u", i);
		else if (i == 99 || i == 101 || i == 199)
			rcpts[i] = t_strdup_printf("defer%03u", i);
		else
			rcpts[i] = t_strdup_printf("a%03u", i);
	}
	i_zero(&config);
	test_server_start(&config, &server);
	smtp = test_client(server.port, 5000);
	test_assert(test_send(smtp, rcpts, FALSE, results, &error) == 1);
	for (i = 0; i < count; i++) {
		enum vsmlist_rcpt_status status =
			(rcpts[i][0] == 'r' ? VSMLIST_RCPT_REJECTED :
			 rcpts[i][0] == 'd' ? VSMLIST_RCPT_DEFERRED :
			 VSMLIST_RCPT_SENT);

		test_assert_idx(results[i].status == status, i);
		test_assert_idx(status == VSMLIST_RCPT_SENT ||
				(results[i].reply != NULL &&
				 strstr(results[i].reply, "RCPT TO: ") != NULL),
				i);
	}
	vsmlist_smtp_deinit(&smtp);
	log = test_server_stop(&server);
	test_assert(test_count(log, "1 RCPT TO:<") == count);
	test_assert(test_count(log, "1 message") == 1);
	/* The RCPTs were sent before their replies came */
	test_assert(test_count(log, "1 pipelined") > 0);
	test_end();
}

static void test_smtp_no_pipelining(void)
{
	static const char *const rcpts[] = { "a", "reject1", "b", NULL };
	struct test_server_config config;
	struct test_server server;
	struct vsmlist_rcpt_result results[3];
	struct vsmlist_smtp *smtp;
	const char *error, *log;

	test_begin("smtp: a command at a time where the relay lacks PIPELINING");
	i_zero(&config);
	config.no_pipelining = TRUE;
	test_server_start(&config, &server);
	smtp = test_client(server.port, 5000);
	test_assert(test_send(smtp, rcpts, FALSE, results, &error) == 1);
	test_assert(results[0].status == VSMLIST_RCPT_SENT);
	test_assert(results[1].status == VSMLIST_RCPT_REJECTED);
	test_assert(results[2].status == VSMLIST_RCPT_SENT);
	vsmlist_smtp_deinit(&smtp);
	log = test_server_stop(&server);
	test_assert(test_count(log, "1 message") == 1);
	test_assert(test_count(log, "pipelined") == 0);
	test_end();
}

static void test_smtp_rcpt_limit(void)
{
	static const char *const rcpts[] = { "a", "full1", "b", "c", NULL };
	struct test_server_config config;
	struct test_server server;
	struct vsmlist_rcpt_result results[4];
	struct vsmlist_smtp *smtp;
	const char *error;

	test_begin("smtp: 452 4.5.3 marks the relay's recipient limit");
	i_zero(&config);
	config.rcpt_limit = 2;
	test_server_start(&config, &server);
	smtp = test_client(server.port, 5000);
	test_assert(test_send(smtp, rcpts, FALSE, results, &error) == 1);
	test_assert(results[0].status == VSMLIST_RCPT_SENT);
	/* a full mailbox is that member's own trouble */
	test_assert(results[1].status == VSMLIST_RCPT_DEFERRED &&
		    !results[1].too_many_rcpts);
	test_assert(results[2].status == VSMLIST_RCPT_SENT);
	test_assert(results[3].status == VSMLIST_RCPT_DEFERRED &&
		    results[3].too_many_rcpts);
	vsmlist_smtp_deinit(&smtp);
	(void)test_server_stop(&server);
	test_end();
}

static void test_smtp_transaction_failures(void)
{
	static const char *const rcpts[] = { "a", "b", NULL };
	struct test_server_config config;
	struct test_server server;
	struct vsmlist_rcpt_result results[2];
	struct vsmlist_smtp *smtp;
	const char *error;

	test_begin("smtp: DATA 5xx refuses the transaction permanently");
	i_zero(&config);
	config.data_reply = "554 5.7.1 content refused";
	test_server_start(&config, &server);
	smtp = test_client(server.port, 5000);
	test_assert(test_send(smtp, rcpts, FALSE, results, &error) == 0);
	test_assert(strstr(error, "554 5.7.1") != NULL);
	test_assert(results[0].status == VSMLIST_RCPT_REJECTED);
	vsmlist_smtp_deinit(&smtp);
	(void)test_server_stop(&server);
	test_end();

	test_begin("smtp: DATA 4xx fails the transaction temporarily");
	i_zero(&config);
	config.data_reply = "451 4.3.0 try later";
	test_server_start(&config, &server);
	smtp = test_client(server.port, 5000);
	test_assert(test_send(smtp, rcpts, FALSE, results, &error) == -1);
	test_assert(strstr(error, "451 4.3.0") != NULL);
	test_assert(results[0].status == VSMLIST_RCPT_DEFERRED &&
		    results[1].status == VSMLIST_RCPT_DEFERRED);
	vsmlist_smtp_deinit(&smtp);
	(void)test_server_stop(&server);
	test_end();

	test_begin("smtp: MAIL FROM 5xx refuses every recipient");
	i_zero(&config);
	config.mail_reply = "553 5.7.1 sender refused";
	test_server_start(&config, &server);
	smtp = test_client(server.port, 5000);
	test_assert(test_send(smtp, rcpts, FALSE, results, &error) == 0);
	test_assert(strstr(error, "MAIL FROM: 553") != NULL);
	test_assert(results[0].status == VSMLIST_RCPT_PENDING &&
		    results[1].status == VSMLIST_RCPT_PENDING);
	vsmlist_smtp_deinit(&smtp);
	(void)test_server_stop(&server);
	test_end();
}

static void test_smtp_connection_failures(void)
{
	static const char *const rcpts[] = { "a", NULL };
	static const char *const rcpts4[] = { "a", "b", "c", "d", NULL };
	struct test_server_config config;
	struct test_server server;
	struct vsmlist_rcpt_result results[1], results4[4];
	unsigned int i;
	struct vsmlist_smtp *smtp;
	const char *error;
	in_port_t port;
	time_t start;

	test_begin("smtp: relay unreachable");
	i_zero(&config);
	test_server_start(&config, &server);
	port = server.port;
	(void)test_server_stop(&server);
	smtp = test_client(port, 5000);
	test_expect_errors(1);	/* lib-smtp: connect() failed */
	test_assert(test_send(smtp, rcpts, FALSE, results, &error) == -1);
	test_assert(results[0].status == VSMLIST_RCPT_DEFERRED);
	vsmlist_smtp_deinit(&smtp);
	test_end();

	test_begin("smtp: connection dropped between transactions");
	i_zero(&config);
	config.drop_after = 1;
	test_server_start(&config, &server);
	smtp = test_client(server.port, 5000);
	test_assert(test_send(smtp, rcpts, FALSE, results, &error) == 1);
	/* The relay has closed the connection by now */
	usleep(200*1000);
	test_assert(test_send(smtp, rcpts, FALSE, results, &error) == -1);
	/* "connection to the relay lost" when noticed before the next
	   transaction, lib-smtp's own words when noticed in it */
	test_assert(strstr(error, "onnection") != NULL);
	test_assert(results[0].status == VSMLIST_RCPT_DEFERRED);
	vsmlist_smtp_deinit(&smtp);
	(void)test_server_stop(&server);
	test_end();

	test_begin("smtp: connection lost while the RCPTs are answered");
	i_zero(&config);
	config.drop_at_rcpt = 3;
	test_server_start(&config, &server);
	smtp = test_client(server.port, 5000);
	test_expect_errors(1);	/* lib-smtp: connection lost */
	test_assert(test_send(smtp, rcpts4, FALSE, results4, &error) == -1);
	test_assert(strstr(error, "onnection") != NULL);
	for (i = 0; i < N_ELEMENTS(results4); i++)
		test_assert_idx(results4[i].status == VSMLIST_RCPT_DEFERRED, i);
	vsmlist_smtp_deinit(&smtp);
	(void)test_server_stop(&server);
	test_end();

	test_begin("smtp: a transaction longer than the timeout, every reply "
		   "in time");
	i_zero(&config);
	config.rcpt_delay_msecs = 300;
	test_server_start(&config, &server);
	smtp = test_client(server.port, 1000);
	start = time(NULL);
	test_expect_errors(1);	/* lib-smtp's command timeout may come first */
	test_assert(test_send(smtp, rcpts4, FALSE, results4, &error) == -1);
	test_assert(time(NULL) - start <= 3);
	test_assert(strstr(error, "timed out") != NULL);
	for (i = 0; i < N_ELEMENTS(results4); i++)
		test_assert_idx(results4[i].status == VSMLIST_RCPT_DEFERRED, i);
	vsmlist_smtp_deinit(&smtp);
	(void)test_server_stop(&server);
	test_end();

	test_begin("smtp: a relay slower than the timeout");
	i_zero(&config);
	config.data_delay_secs = 5;
	test_server_start(&config, &server);
	smtp = test_client(server.port, 1000);
	start = time(NULL);
	test_expect_errors(1);	/* lib-smtp: command timed out */
	test_assert(test_send(smtp, rcpts, FALSE, results, &error) == -1);
	test_assert(time(NULL) - start <= 3);
	test_assert(results[0].status == VSMLIST_RCPT_DEFERRED);
	vsmlist_smtp_deinit(&smtp);
	(void)test_server_stop(&server);
	test_end();
}

static void test_smtp_settings(void)
{
	struct vsmlist_smtp_settings set;
	struct vsmlist_smtp *smtp;
	enum vsmlist_relay_ssl ssl;
	const char *error, *host;
	in_port_t port;

	test_begin("smtp: relay host and TLS mode as Dovecot writes them");
	test_assert(vsmlist_relay_host_parse("", &host, &port) < 0);
	test_assert(vsmlist_relay_host_parse("relay.example:notaport",
					     &host, &port) < 0);
	test_assert(vsmlist_relay_host_parse("[::1]:2525", &host, &port) == 0);
	test_assert_strcmp(host, "::1");
	test_assert(port == 2525);
	test_assert(vsmlist_relay_host_parse("relay.example", &host,
					     &port) == 0);
	test_assert(port == 25);
	test_assert(vsmlist_relay_ssl_parse("sometimes", &ssl) < 0);
	test_assert(vsmlist_relay_ssl_parse("yes", &ssl) < 0);
	test_assert(vsmlist_relay_ssl_parse("STARTTLS", &ssl) == 0 &&
		    ssl == VSMLIST_RELAY_SSL_STARTTLS);
	test_assert(vsmlist_relay_ssl_parse("submissions", &ssl) == 0 &&
		    ssl == VSMLIST_RELAY_SSL_IMMEDIATE);
	test_end();

	test_begin("smtp: settings");
	i_zero(&set);
	set.timeout_msecs = 1000;
	set.host = "";
	test_assert(vsmlist_smtp_init(&set, NULL, &smtp, &error) < 0);
	set.host = "::1";
	set.port = 2525;
	set.ssl = VSMLIST_RELAY_SSL_STARTTLS;
	test_assert(vsmlist_smtp_init(&set, NULL, &smtp, &error) == 0);
	test_assert_strcmp(vsmlist_smtp_get_relay(smtp), "[::1]:2525");
	vsmlist_smtp_deinit(&smtp);
	set.host = "relay.example";
	set.port = 25;
	set.ssl = VSMLIST_RELAY_SSL_UNSET;
	test_assert(vsmlist_smtp_init(&set, NULL, &smtp, &error) == 0);
	test_assert_strcmp(vsmlist_smtp_get_relay(smtp), "relay.example:25");
	vsmlist_smtp_deinit(&smtp);
	test_end();

	test_begin("smtp: AUTH only over TLS or to a relay on loopback");
	set.username = "list@lists.example";
	set.password = "secret";
	test_assert(vsmlist_smtp_init(&set, NULL, &smtp, &error) < 0);
	test_assert(strstr(error, "without TLS") != NULL);
	set.ssl = VSMLIST_RELAY_SSL_STARTTLS;
	test_assert(vsmlist_smtp_init(&set, NULL, &smtp, &error) == 0);
	vsmlist_smtp_deinit(&smtp);
	set.ssl = VSMLIST_RELAY_SSL_NO;
	set.host = "127.0.0.1";
	test_assert(vsmlist_smtp_init(&set, NULL, &smtp, &error) == 0);
	vsmlist_smtp_deinit(&smtp);
	test_assert(vsmlist_smtp_host_is_loopback("::1"));
	test_assert(vsmlist_smtp_host_is_loopback("127.5.6.7"));
	test_assert(vsmlist_smtp_host_is_loopback("LOCALHOST"));
	test_assert(!vsmlist_smtp_host_is_loopback("128.0.0.1"));
	test_assert(!vsmlist_smtp_host_is_loopback("relay.example"));
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_smtp_settings,
		test_smtp_reuse,
		test_smtp_dsn,
		test_smtp_8bitmime,
		test_smtp_rcpt_results,
		test_smtp_rcpt_limit,
		test_smtp_many_rcpts,
		test_smtp_no_pipelining,
		test_smtp_transaction_failures,
		test_smtp_connection_failures,
		NULL
	};
	char dir_template[] = "/tmp/test-vsmlist-smtp.XXXXXX";
	struct ioloop *ioloop;
	int ret;

	lib_init();
	(void)signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir_template) == NULL)
		i_fatal("mkdtemp() failed: %m");
	test_log_dir = dir_template;
	/* A process that delivers mail has a main ioloop */
	ioloop = io_loop_create();
	ret = test_run(test_functions);
	io_loop_destroy(&ioloop);
	if (rmdir(test_log_dir) < 0)
		i_error("rmdir(%s) failed: %m", test_log_dir);
	lib_deinit();
	return ret;
}
