/*
 * hello.c: the C reference for the benchmarks, a minimal single-threaded
 * epoll server for the hello and echo protocols. It is the line for "what
 * the kernel allows on one core": no framework, no allocation on the
 * request path, one write per connection per wake-up.
 *
 *   hello -proto hello|echo -addr 127.0.0.1:PORT
 *
 * hello: request = 4-byte little-endian length N + N bytes of payload;
 * reply = "Hi there, you just said: " + payload; N = 0 closes; N > 1 MiB
 * closes (after the replies already due). echo: bytes back unchanged.
 *
 * Design, the same choices simpleserver makes:
 *  - connections are registered once, edge-triggered, for
 *    EPOLLIN|EPOLLOUT|EPOLLRDHUP: no epoll_ctl on the request path;
 *  - every read goes into one shared 64 KiB buffer; only the tail of an
 *    incomplete frame is copied into the connection;
 *  - a read shorter than the buffer means the socket is drained (a later
 *    byte raises a new edge), unless EPOLLRDHUP said an EOF follows;
 *  - all replies of one wake-up are built in one shared output buffer and
 *    sent with one write(); what the socket does not take is copied into
 *    the connection and finished on EPOLLOUT;
 *  - above 4 MiB of unsent output the connection is not read until it
 *    drains (backpressure); an idle connection holds no buffer.
 *
 * Build: gcc -O2 -o hello hello.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BUF (64 * 1024)
#define MAX_FRAME (1u << 20)
#define HIGH_WATER (4u << 20)
#define PREFIX "Hi there, you just said: "
#define PREFIX_LEN (sizeof(PREFIX) - 1)

struct buf {
	char *p;
	size_t len, cap;
};

struct conn {
	int fd;
	int closing; /* close once the output is written */
	int peer_shut; /* EPOLLRDHUP seen: read to EOF */
	int paused; /* output above HIGH_WATER: not reading */
	struct buf in; /* start of an incomplete frame */
	struct buf out; /* output the socket did not take */
	size_t out_off;
};

static int echo_mode;
static struct conn **conns;
static size_t nconns_cap;
static char rbuf[READ_BUF];
static struct buf obuf; /* this wake-up's replies for one connection */

static void die(const char *what) {
	perror(what);
	exit(1);
}

static void reserve(struct buf *b, size_t extra) {
	if (b->len + extra <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + extra)
		cap *= 2;
	if (!(b->p = realloc(b->p, cap)))
		die("realloc");
	b->cap = cap;
}

static void append(struct buf *b, const void *p, size_t n) {
	reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void release(struct buf *b) {
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static void close_conn(struct conn *c) {
	close(c->fd); /* never dup'ed: closing removes it from epoll */
	conns[c->fd] = NULL;
	release(&c->in);
	release(&c->out);
	free(c);
}

/* parse consumes complete frames of data[0..n) and appends their replies
 * to obuf; it returns the bytes consumed and sets c->closing on a close
 * request or an oversized frame. */
static size_t parse(struct conn *c, const char *data, size_t n) {
	if (echo_mode) {
		append(&obuf, data, n);
		return n;
	}
	size_t off = 0;
	while (n - off >= 4) {
		uint32_t len;
		memcpy(&len, data + off, 4); /* little-endian host (x86) */
		if (len == 0 || len > MAX_FRAME) {
			if (len)
				fprintf(stderr, "closing fd %d: frame of %u bytes\n", c->fd, len);
			c->closing = 1;
			return n;
		}
		if (n - off - 4 < len)
			break;
		reserve(&obuf, PREFIX_LEN + len);
		memcpy(obuf.p + obuf.len, PREFIX, PREFIX_LEN);
		memcpy(obuf.p + obuf.len + PREFIX_LEN, data + off + 4, len);
		obuf.len += PREFIX_LEN + len;
		off += 4 + len;
	}
	return off;
}

/* on_data handles one read's bytes, prefixed by any kept partial frame. */
static void on_data(struct conn *c, const char *data, size_t n) {
	if (c->in.len) {
		append(&c->in, data, n);
		data = c->in.p;
		n = c->in.len;
	}
	size_t used = parse(c, data, n);
	if (c->closing || used == n) {
		c->in.len = 0;
		if (c->in.cap > READ_BUF)
			release(&c->in);
	} else if (c->in.len) {
		memmove(c->in.p, c->in.p + used, n - used);
		c->in.len = n - used;
	} else {
		append(&c->in, data + used, n - used);
	}
}

/* flush writes pending output, then this wake-up's obuf, with at most one
 * write each (one in the common case: nothing pending). Returns -1 if the
 * connection was closed. */
static int flush(struct conn *c) {
	if (c->out.len > c->out_off) {
		if (obuf.len) {
			append(&c->out, obuf.p, obuf.len);
			obuf.len = 0;
		}
		ssize_t w = write(c->fd, c->out.p + c->out_off, c->out.len - c->out_off);
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			close_conn(c);
			return -1;
		}
		if (w > 0)
			c->out_off += w;
		if (c->out_off == c->out.len) {
			c->out_off = 0;
			c->out.len = 0;
			if (c->out.cap > READ_BUF)
				release(&c->out);
		}
	} else if (obuf.len) {
		ssize_t w = write(c->fd, obuf.p, obuf.len);
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			obuf.len = 0;
			close_conn(c);
			return -1;
		}
		if (w < 0)
			w = 0;
		if ((size_t)w < obuf.len)
			append(&c->out, obuf.p + w, obuf.len - w);
		obuf.len = 0;
	}
	size_t pending = c->out.len - c->out_off;
	if (pending == 0 && c->closing) {
		close_conn(c);
		return -1;
	}
	c->paused = pending >= HIGH_WATER;
	return 0;
}

/* on_readable reads until the socket is drained, then flushes once. */
static void on_readable(struct conn *c) {
	while (!c->closing && !c->paused) {
		ssize_t n = read(c->fd, rbuf, sizeof rbuf);
		if (n > 0) {
			on_data(c, rbuf, n);
			if (obuf.len >= HIGH_WATER && flush(c) < 0)
				return;
			if ((size_t)n < sizeof rbuf && !c->peer_shut)
				break;
			continue;
		}
		if (n == 0) { /* EOF: answer what came, then close */
			c->closing = 1;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			break;
		obuf.len = 0;
		close_conn(c);
		return;
	}
	flush(c);
}

static void on_event(struct conn *c, uint32_t ev) {
	if (ev & EPOLLERR) {
		close_conn(c);
		return;
	}
	if (ev & (EPOLLRDHUP | EPOLLHUP))
		c->peer_shut = 1;
	if ((ev & (EPOLLOUT | EPOLLHUP)) && c->out.len > c->out_off) {
		int was_paused = c->paused;
		if (flush(c) < 0)
			return;
		if (was_paused && !c->paused) { /* edges passed while paused */
			on_readable(c);
			return;
		}
	}
	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
		on_readable(c);
}

static void accept_all(int lfd, int ep) {
	for (int i = 0; i < 64; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				perror("accept4");
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if ((size_t)fd >= nconns_cap) {
			size_t cap = nconns_cap ? nconns_cap : 1024;
			while (cap <= (size_t)fd)
				cap *= 2;
			if (!(conns = realloc(conns, cap * sizeof *conns)))
				die("realloc");
			memset(conns + nconns_cap, 0, (cap - nconns_cap) * sizeof *conns);
			nconns_cap = cap;
		}
		struct conn *c = calloc(1, sizeof *c);
		if (!c)
			die("calloc");
		c->fd = fd;
		conns[fd] = c;
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = fd};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			perror("epoll_ctl");
			close_conn(c);
		}
		/* Data that arrived before the ADD is reported by the ADD itself. */
	}
}

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv) {
	const char *proto = "hello", *addr = "127.0.0.1:19926";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] == '-' && a[1] == '-')
			a++;
		if (!strcmp(a, "-proto") && i + 1 < argc)
			proto = argv[++i];
		else if (!strcmp(a, "-addr") && i + 1 < argc)
			addr = argv[++i];
		else {
			fprintf(stderr, "usage: %s [-proto hello|echo] [-addr host:port]\n", argv[0]);
			return 2;
		}
	}
	if (!strcmp(proto, "echo"))
		echo_mode = 1;
	else if (strcmp(proto, "hello")) {
		fprintf(stderr, "unknown -proto %s\n", proto);
		return 2;
	}
	char host[256];
	const char *colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof host) {
		fprintf(stderr, "bad -addr %s\n", addr);
		return 2;
	}
	memcpy(host, addr, colon - addr);
	host[colon - addr] = 0;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "bad -addr host %s\n", host);
		return 2;
	}

	signal(SIGPIPE, SIG_IGN);
	struct sigaction act = {.sa_handler = on_signal};
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);

	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	int one = 1, defer = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(lfd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer); /* as simpleserver */
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("bind");
	if (listen(lfd, 1024) < 0)
		die("listen");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd}; /* level-triggered */
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0)
		die("epoll_ctl");
	fprintf(stderr, "c %s listening on %s\n", proto, addr);

	struct epoll_event evs[1024];
	while (!stop) {
		int n = epoll_wait(ep, evs, 1024, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd)
				accept_all(lfd, ep);
			else if ((size_t)fd < nconns_cap && conns[fd])
				on_event(conns[fd], evs[i].events);
		}
	}
	return 0;
}
