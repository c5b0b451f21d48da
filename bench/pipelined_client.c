/* A raw pipelined SMTP client: the relay's own bound for the fan-out
   benchmark (bench/fanout_bench.py compiles and runs it).

     pipelined-client HOST PORT BATCH MAIL_FROM MEMBERS MESSAGE

   Sends MESSAGE (a file, CRLF line ends) to every address of MEMBERS (a
   file, one a line) over one connection, BATCH recipients per
   transaction. Each transaction's MAIL FROM, RCPTs, DATA, the
   dot-stuffed message and the final dot are written in one go, then its
   replies are read: no round trip but one per transaction, nothing
   allocated per recipient. (Writing the message before the 354 is more
   than RFC 2920 allows a client; smtp-sink takes it, and it makes this
   the fastest a client could be.)

   Exits 0 when every transaction was taken (its MAIL, every RCPT and the
   DATA answered 2xx/354/2xx), 1 otherwise, 2 on a usage or I/O error;
   prints "<transactions> transaction(s), <recipients> recipient(s)" and
   on stderr "elapsed <seconds>": from connecting to the reply to QUIT
   (reading the files and starting the process are not counted). */

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct reader {
	int fd;
	char buf[65536];
	size_t start, end;
};

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *read_file(const char *path, size_t *size_r)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t size = 0, n;

	if (f == NULL)
		die(path);
	for (;;) {
		data = realloc(data, size + 65536 + 1);
		if (data == NULL)
			die("realloc");
		n = fread(data + size, 1, 65536, f);
		size += n;
		if (n < 65536)
			break;
	}
	if (ferror(f))
		die(path);
	fclose(f);
	data[size] = '\0';
	*size_r = size;
	return data;
}

/* The message as DATA carries it: lines starting with '.' doubled, the
   final CRLF "." CRLF appended */
static char *dot_stuff(const char *msg, size_t size, size_t *size_r)
{
	char *out = malloc(size * 2 + 5), *p = out;
	size_t i;
	int line_start = 1;

	if (out == NULL)
		die("malloc");
	for (i = 0; i < size; i++) {
		if (line_start && msg[i] == '.')
			*p++ = '.';
		*p++ = msg[i];
		line_start = (msg[i] == '\n');
	}
	if (!line_start) {
		*p++ = '\r';
		*p++ = '\n';
	}
	memcpy(p, ".\r\n", 3);
	p += 3;
	*size_r = p - out;
	return out;
}

static int connect_to(const char *host, const char *port)
{
	struct addrinfo hints, *ai;
	int fd, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &ai) != 0) {
		fprintf(stderr, "cannot resolve %s\n", host);
		exit(2);
	}
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("connect");
	freeaddrinfo(ai);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void write_all(int fd, const char *data, size_t size)
{
	ssize_t n;

	while (size > 0) {
		n = write(fd, data, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write");
		data += n;
		size -= n;
	}
}

/* The status code of the next reply (its last line: "NNN " ...) */
static int read_reply(struct reader *r)
{
	char *line, *nl;
	ssize_t n;

	for (;;) {
		line = r->buf + r->start;
		nl = memchr(line, '\n', r->end - r->start);
		if (nl != NULL) {
			r->start = nl + 1 - r->buf;
			if (nl - line >= 3 && (nl - line == 3 || line[3] != '-'))
				return atoi(line);
			continue;
		}
		if (r->start > 0) {
			memmove(r->buf, line, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		if (r->end == sizeof(r->buf)) {
			fprintf(stderr, "reply line too long\n");
			exit(2);
		}
		n = read(r->fd, r->buf + r->end, sizeof(r->buf) - r->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "connection closed by the relay\n");
			exit(2);
		}
		r->end += n;
	}
}

static void append(char **buf, size_t *size, size_t *alloc,
		   const char *data, size_t len)
{
	if (*size + len > *alloc) {
		*alloc = (*size + len) * 2;
		*buf = realloc(*buf, *alloc);
		if (*buf == NULL)
			die("realloc");
	}
	memcpy(*buf + *size, data, len);
	*size += len;
}

int main(int argc, char *argv[])
{
	static struct reader r;
	char *members, *msg, *data, *line, *next, *out = NULL;
	size_t members_size, msg_size, data_size, out_size, out_alloc = 0;
	unsigned int batch, n, i, transactions = 0, recipients = 0;
	double start;
	int ok = 1;
	char cmd[1100];

	if (argc != 7) {
		fprintf(stderr, "usage: %s HOST PORT BATCH MAIL_FROM "
			"MEMBERS MESSAGE\n", argv[0]);
		return 2;
	}
	batch = (unsigned int)atoi(argv[3]);
	if (batch == 0)
		return 2;
	members = read_file(argv[5], &members_size);
	msg = read_file(argv[6], &msg_size);
	data = dot_stuff(msg, msg_size, &data_size);

	start = now();
	r.fd = connect_to(argv[1], argv[2]);
	if (read_reply(&r) / 100 != 2)
		return 1;
	write_all(r.fd, "EHLO bench.test\r\n", 17);
	if (read_reply(&r) / 100 != 2)
		return 1;

	line = members;
	while (*line != '\0') {
		out_size = 0;
		snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>\r\n", argv[4]);
		append(&out, &out_size, &out_alloc, cmd, strlen(cmd));
		for (n = 0; n < batch && *line != '\0'; line = next) {
			next = strchr(line, '\n');
			next = (next == NULL ? line + strlen(line) : next + 1);
			if (next - line <= 1)
				continue;
			append(&out, &out_size, &out_alloc, "RCPT TO:<", 9);
			append(&out, &out_size, &out_alloc, line,
			       next - line - (next[-1] == '\n'));
			append(&out, &out_size, &out_alloc, ">\r\n", 3);
			n++;
		}
		if (n == 0)
			break;
		append(&out, &out_size, &out_alloc, "DATA\r\n", 6);
		append(&out, &out_size, &out_alloc, data, data_size);
		write_all(r.fd, out, out_size);

		transactions++;
		if (read_reply(&r) / 100 != 2)
			ok = 0;
		for (i = 0; i < n; i++) {
			if (read_reply(&r) / 100 == 2)
				recipients++;
			else
				ok = 0;
		}
		if (read_reply(&r) != 354 || read_reply(&r) / 100 != 2)
			ok = 0;
	}
	write_all(r.fd, "QUIT\r\n", 6);
	(void)read_reply(&r);
	fprintf(stderr, "elapsed %.6f\n", now() - start);
	close(r.fd);
	printf("%u transaction(s), %u recipient(s)\n", transactions,
	       recipients);
	return ok ? 0 : 1;
}
