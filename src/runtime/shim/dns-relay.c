/*
 * The DNS relay (see dns-relay.h and README.md, "DNS relay").
 *
 * Every query gets a slot in a fixed table until its answer comes back, and goes to the agent under
 * an id of the relay's own making (slot number and a per-slot generation), so that two clients
 * using the same DNS id are never confused, and an answer that comes after its slot was given up
 * (timed out, agent reconnected) is dropped instead of reaching someone else. The client's own id
 * goes back into the answer. What a SERVFAIL or a truncated reply needs of the query (its header
 * and first question) is kept in the slot, so they can be built when the agent cannot answer.
 */
#define _GNU_SOURCE
#include "dns-relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define RELAY_ADDRESS "127.0.0.11"
#define MAX_MESSAGE 65535
#define FRAME (2 + MAX_MESSAGE)
#define HEADER 12
/* A question: a name of at most 255 bytes, type and class. */
#define MAX_QUESTION (255 + 4)
#define SLOTS 256
/* Bytes waiting to go to the agent; a query that does not fit is answered SERVFAIL. */
#define AGENT_QUEUE (64 * 1024)
/* Answers waiting to go to one TCP client; a client that lets more pile up is closed. */
#define TCP_QUEUE (2 * FRAME)
/* Queries of one TCP client in the table at once; its socket is not read while it has this many. */
#define TCP_IN_FLIGHT 16
/* Under the 5 s resolvers wait by default, so a client hears SERVFAIL before it gives up. */
#define QUERY_TIMEOUT_MS 4000
#define TCP_IDLE_MS 10000
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000

#define RCODE_SERVFAIL 2

struct slot {
  bool used;
  uint16_t id;        /* the id the agent sees: generation << 8 | slot number */
  uint8_t generation; /* bumped at each use */
  uint16_t client_id;
  int tcp;            /* the TCP client's index, or -1 for UDP */
  uint32_t tcp_serial; /* the TCP client's serial: a later client in the same place is not it */
  struct sockaddr_in from;
  uint16_t udp_limit; /* the largest UDP answer the client takes */
  int64_t deadline;
  uint16_t len;       /* of query: the header and the first question */
  unsigned char query[HEADER + MAX_QUESTION];
};

struct tcp_client {
  int fd; /* -1: free */
  uint32_t serial;
  int64_t idle_deadline;
  unsigned in_flight;
  unsigned char *in, *out; /* FRAME and TCP_QUEUE bytes */
  size_t in_len, out_len;
};

enum role { ROLE_AGENT, ROLE_UDP, ROLE_LISTENER, ROLE_TCP };

struct dns_relay {
  int udp, listener, agent; /* agent: -1 while away */
  char *agent_path, *hello;
  int64_t next_connect;
  int backoff_ms;
  unsigned char agent_in[FRAME];
  size_t agent_in_len;
  unsigned char agent_out[AGENT_QUEUE];
  size_t agent_out_len;
  struct slot slots[SLOTS];
  unsigned next_slot;
  struct tcp_client tcp[DNS_RELAY_TCP_CLIENTS];
  uint32_t tcp_serial;
  /* What each pollfd dns_relay_prepare filled stands for: a role, plus the client's index. */
  int polled[DNS_RELAY_POLLFDS];
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void put16(unsigned char *p, uint16_t v) {
  p[0] = (unsigned char)(v >> 8);
  p[1] = (unsigned char)v;
}

/* ---- reading queries ---- */

/* The end of the name at msg[off], or 0 if it runs past len or is malformed. */
static size_t skip_name(const unsigned char *msg, size_t len, size_t off) {
  size_t start = off;
  while (off < len) {
    unsigned char l = msg[off];
    if (l == 0) return off + 1 - start <= 255 ? off + 1 : 0;
    if ((l & 0xc0) == 0xc0) return off + 2 <= len ? off + 2 : 0; /* a pointer ends the name */
    if (l & 0xc0) return 0;
    off += 1 + (size_t)l;
  }
  return 0;
}

/*
 * Keeps what answers built here need of a query: its header and first question (counts left as
 * they are: the builders set them). Also reads the largest UDP answer the client takes: 512, or
 * what its EDNS OPT record says when that is the only record after the question.
 */
static void keep_query(struct slot *s, const unsigned char *msg, size_t len) {
  size_t end = HEADER;
  s->udp_limit = 512;
  if (get16(msg + 4) > 0) {
    size_t name_end = skip_name(msg, len, HEADER);
    if (name_end && name_end + 4 <= len) end = name_end + 4;
  }
  memcpy(s->query, msg, end);
  s->len = (uint16_t)end;
  if (end > HEADER && get16(msg + 4) == 1 && get16(msg + 6) == 0 && get16(msg + 8) == 0 && get16(msg + 10) >= 1 &&
      end + 11 <= len && msg[end] == 0 && get16(msg + end + 1) == 41) {
    uint16_t size = get16(msg + end + 3);
    if (size > 512) s->udp_limit = size;
  }
}

/*
 * A reply of header and question only, from what the slot kept: SERVFAIL, or (truncated) the
 * agent's answer's flags with TC set, which tells the client to ask again over TCP.
 */
static size_t short_reply(const struct slot *s, const unsigned char *answer, unsigned char *out) {
  memcpy(out, s->query, s->len);
  put16(out, s->client_id);
  if (answer) {
    out[2] = answer[2] | 0x02; /* TC */
    out[3] = answer[3];
  } else {
    out[2] = (unsigned char)(0x80 | (s->query[2] & 0x79)); /* QR, the query's opcode and RD */
    out[3] = 0x80 | RCODE_SERVFAIL;                         /* RA */
  }
  put16(out + 4, s->len > HEADER ? 1 : 0);
  memset(out + 6, 0, 6);
  return s->len;
}

/* ---- answering clients ---- */

static void tcp_close(struct tcp_client *c) {
  close(c->fd);
  free(c->in);
  free(c->out);
  *c = (struct tcp_client){.fd = -1};
}

/* Queues one framed message for a TCP client; a client that does not read is let go. */
static void tcp_send(struct tcp_client *c, const unsigned char *msg, size_t len) {
  if (c->out_len + 2 + len > TCP_QUEUE) {
    tcp_close(c);
    return;
  }
  put16(c->out + c->out_len, (uint16_t)len);
  memcpy(c->out + c->out_len + 2, msg, len);
  c->out_len += 2 + len;
}

/* The client the slot's query came from is still there: UDP, or the same TCP connection. */
static struct tcp_client *slot_client(struct dns_relay *r, const struct slot *s) {
  if (s->tcp < 0) return NULL;
  struct tcp_client *c = &r->tcp[s->tcp];
  return c->fd >= 0 && c->serial == s->tcp_serial ? c : NULL;
}

/* Sends msg (with the client's id already in it) to the slot's client and frees the slot. */
static void reply(struct dns_relay *r, struct slot *s, const unsigned char *msg, size_t len) {
  s->used = false;
  if (s->tcp < 0) {
    /* A full socket buffer drops the reply, as a lost datagram would: the client asks again. */
    sendto(r->udp, msg, len, MSG_DONTWAIT, (const struct sockaddr *)&s->from, sizeof s->from);
    return;
  }
  struct tcp_client *c = slot_client(r, s);
  if (!c) return;
  c->in_flight--;
  tcp_send(c, msg, len);
}

static void fail_slot(struct dns_relay *r, struct slot *s) {
  unsigned char msg[HEADER + MAX_QUESTION];
  reply(r, s, msg, short_reply(s, NULL, msg));
}

/* ---- the agent ---- */

/* The next attempt to reach the agent, each one further off (it may be restarting). */
static void retry_later(struct dns_relay *r) {
  r->next_connect = now_ms() + r->backoff_ms;
  r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
}

static void agent_disconnect(struct dns_relay *r) {
  if (r->agent >= 0) close(r->agent);
  r->agent = -1;
  r->agent_in_len = r->agent_out_len = 0;
  retry_later(r);
  /* What was sent will get no answer now: say so at once rather than let clients wait. */
  for (size_t i = 0; i < SLOTS; i++)
    if (r->slots[i].used) fail_slot(r, &r->slots[i]);
}

/* A unix stream connect completes at once or not at all, so there is no connecting state. */
static void agent_connect(struct dns_relay *r) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", r->agent_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, (const struct sockaddr *)&addr, sizeof addr) == 0) {
    r->agent = fd;
    r->backoff_ms = BACKOFF_MIN_MS;
    size_t n = strlen(r->hello);
    memcpy(r->agent_out, r->hello, n);
    r->agent_out_len = n;
    return;
  }
  if (fd >= 0) close(fd);
  retry_later(r);
}

static void agent_flush(struct dns_relay *r) {
  while (r->agent >= 0 && r->agent_out_len > 0) {
    ssize_t n = send(r->agent, r->agent_out, r->agent_out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      agent_disconnect(r);
      return;
    }
    memmove(r->agent_out, r->agent_out + n, r->agent_out_len - (size_t)n);
    r->agent_out_len -= (size_t)n;
  }
}

/*
 * Passes a query on to the agent under a slot's id; answers SERVFAIL itself when the agent is away
 * and cannot be reached now, the table is full or the queue to the agent is.
 */
static void forward(struct dns_relay *r, const unsigned char *msg, size_t len, const struct sockaddr_in *from,
                    struct tcp_client *c) {
  if (len < HEADER || (msg[2] & 0x80)) return; /* not a query */
  struct slot *s = NULL;
  for (unsigned k = 0; k < SLOTS && !s; k++) {
    unsigned i = (r->next_slot + k) % SLOTS;
    if (!r->slots[i].used) s = &r->slots[i], r->next_slot = (i + 1) % SLOTS;
  }
  struct slot overflow;
  bool queued = s != NULL;
  if (!s) s = &overflow;
  keep_query(s, msg, len);
  s->used = true;
  s->client_id = get16(msg);
  s->tcp = c ? (int)(c - r->tcp) : -1;
  s->tcp_serial = c ? c->serial : 0;
  if (from) s->from = *from;
  if (c) c->in_flight++;
  if (queued && r->agent < 0 && now_ms() >= r->next_connect) agent_connect(r);
  if (!queued || r->agent < 0 || r->agent_out_len + 2 + len > AGENT_QUEUE) {
    fail_slot(r, s);
    return;
  }
  s->generation++;
  s->id = (uint16_t)(s->generation << 8 | (unsigned)(s - r->slots));
  s->deadline = now_ms() + QUERY_TIMEOUT_MS;
  unsigned char *frame = r->agent_out + r->agent_out_len;
  put16(frame, (uint16_t)len);
  memcpy(frame + 2, msg, len);
  put16(frame + 2, s->id);
  r->agent_out_len += 2 + len;
  agent_flush(r);
}

/* One answer from the agent, back to whoever asked, if the slot is still theirs. */
static void answer(struct dns_relay *r, unsigned char *msg, size_t len) {
  if (len < HEADER) return;
  uint16_t id = get16(msg);
  struct slot *s = &r->slots[id & 0xff];
  if (!s->used || s->id != id) return;
  put16(msg, s->client_id);
  if (s->tcp < 0 && len > s->udp_limit) {
    unsigned char short_msg[HEADER + MAX_QUESTION];
    reply(r, s, short_msg, short_reply(s, msg, short_msg));
  } else {
    reply(r, s, msg, len);
  }
}

static void agent_read(struct dns_relay *r) {
  ssize_t n = recv(r->agent, r->agent_in + r->agent_in_len, sizeof r->agent_in - r->agent_in_len, MSG_DONTWAIT);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    agent_disconnect(r);
    return;
  }
  r->agent_in_len += (size_t)n;
  size_t off = 0;
  while (r->agent_in_len - off >= 2 && r->agent_in_len - off >= 2 + (size_t)get16(r->agent_in + off)) {
    size_t len = get16(r->agent_in + off);
    answer(r, r->agent_in + off + 2, len);
    off += 2 + len;
  }
  memmove(r->agent_in, r->agent_in + off, r->agent_in_len - off);
  r->agent_in_len -= off;
}

/* ---- the container's side ---- */

static void udp_read(struct dns_relay *r) {
  static unsigned char msg[MAX_MESSAGE + 1];
  /* A bounded batch, so a flood cannot keep the supervisor from its other work. */
  for (int i = 0; i < 64; i++) {
    struct sockaddr_in from;
    socklen_t fromlen = sizeof from;
    ssize_t n = recvfrom(r->udp, msg, sizeof msg, MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;
    if ((size_t)n > MAX_MESSAGE || fromlen != sizeof from) continue;
    forward(r, msg, (size_t)n, &from, NULL);
  }
}

static void tcp_accept(struct dns_relay *r) {
  int fd = accept4(r->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return;
  for (size_t i = 0; i < DNS_RELAY_TCP_CLIENTS; i++) {
    struct tcp_client *c = &r->tcp[i];
    if (c->fd >= 0) continue;
    *c = (struct tcp_client){
        .fd = fd,
        .serial = ++r->tcp_serial,
        .idle_deadline = now_ms() + TCP_IDLE_MS,
        .in = xmalloc(FRAME),
        .out = xmalloc(TCP_QUEUE),
    };
    return;
  }
  /* Full: closed at once, so the client fails fast instead of waiting in the backlog. */
  close(fd);
}

static void tcp_read(struct dns_relay *r, struct tcp_client *c) {
  ssize_t n = recv(c->fd, c->in + c->in_len, FRAME - c->in_len, MSG_DONTWAIT);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    tcp_close(c);
    return;
  }
  c->idle_deadline = now_ms() + TCP_IDLE_MS;
  c->in_len += (size_t)n;
  size_t off = 0;
  uint32_t serial = c->serial;
  while (c->fd >= 0 && c->serial == serial && c->in_len - off >= 2 && c->in_len - off >= 2 + (size_t)get16(c->in + off)) {
    size_t len = get16(c->in + off);
    forward(r, c->in + off + 2, len, NULL, c);
    off += 2 + len;
  }
  if (c->fd < 0 || c->serial != serial) return; /* closed while answering (it was not reading) */
  memmove(c->in, c->in + off, c->in_len - off);
  c->in_len -= off;
}

static void tcp_write(struct tcp_client *c) {
  ssize_t n = send(c->fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    tcp_close(c);
    return;
  }
  c->idle_deadline = now_ms() + TCP_IDLE_MS;
  memmove(c->out, c->out + n, c->out_len - (size_t)n);
  c->out_len -= (size_t)n;
}

/* ---- the poll loop's side ---- */

static void lower_timeout(int *timeout_ms, int64_t now, int64_t when) {
  int64_t ms = when > now ? when - now : 0;
  if (ms > 60000) ms = 60000;
  if (*timeout_ms < 0 || ms < *timeout_ms) *timeout_ms = (int)ms;
}

size_t dns_relay_prepare(struct dns_relay *r, struct pollfd *fds, int *timeout_ms) {
  int64_t now = now_ms();
  for (size_t i = 0; i < SLOTS; i++) {
    struct slot *s = &r->slots[i];
    if (!s->used) continue;
    if (s->deadline <= now) fail_slot(r, s);
    else lower_timeout(timeout_ms, now, s->deadline);
  }
  if (r->agent < 0 && now >= r->next_connect) agent_connect(r);
  if (r->agent < 0) lower_timeout(timeout_ms, now, r->next_connect);
  size_t n = 0;
  if (r->agent >= 0) {
    fds[n] = (struct pollfd){r->agent, (short)(POLLIN | (r->agent_out_len ? POLLOUT : 0)), 0};
    r->polled[n++] = ROLE_AGENT;
  }
  fds[n] = (struct pollfd){r->udp, POLLIN, 0};
  r->polled[n++] = ROLE_UDP;
  fds[n] = (struct pollfd){r->listener, POLLIN, 0};
  r->polled[n++] = ROLE_LISTENER;
  for (size_t i = 0; i < DNS_RELAY_TCP_CLIENTS; i++) {
    struct tcp_client *c = &r->tcp[i];
    if (c->fd >= 0 && c->idle_deadline <= now && c->in_flight == 0) tcp_close(c);
    if (c->fd < 0) continue;
    /* One with queries out waits for them; their deadlines are in the timeout already. */
    if (c->in_flight == 0) lower_timeout(timeout_ms, now, c->idle_deadline);
    short events = (short)((c->in_flight < TCP_IN_FLIGHT ? POLLIN : 0) | (c->out_len ? POLLOUT : 0));
    fds[n] = (struct pollfd){c->fd, events, 0};
    r->polled[n++] = ROLE_TCP + (int)i;
  }
  return n;
}

void dns_relay_handle(struct dns_relay *r, const struct pollfd *fds, size_t n) {
  /* The agent first: a connection it closed is noticed before new queries are queued on it. */
  for (size_t k = 0; k < n; k++) {
    if (!fds[k].revents) continue;
    int role = r->polled[k];
    if (role == ROLE_AGENT) {
      if (r->agent != fds[k].fd) continue;
      if (fds[k].revents & (POLLIN | POLLHUP | POLLERR)) agent_read(r);
      if (r->agent >= 0 && (fds[k].revents & POLLOUT)) agent_flush(r);
    } else if (role == ROLE_UDP) {
      udp_read(r);
    } else if (role == ROLE_LISTENER) {
      tcp_accept(r);
    } else {
      struct tcp_client *c = &r->tcp[role - ROLE_TCP];
      if (c->fd != fds[k].fd) continue;
      if (fds[k].revents & (POLLIN | POLLHUP | POLLERR)) tcp_read(r, c);
      if (c->fd == fds[k].fd && (fds[k].revents & POLLOUT) && c->out_len) tcp_write(c);
    }
  }
}

/* ---- setting up in the container's network namespace ---- */

/* 127.0.0.11/32 on lo through rtnetlink (ioctl cannot add a second address without an alias). */
static int add_address(int ifindex) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -1;
  struct {
    struct nlmsghdr nh;
    struct ifaddrmsg ifa;
    struct rtattr local_attr;
    struct in_addr local;
    struct rtattr address_attr;
    struct in_addr address;
  } req = {
      .nh = {.nlmsg_len = sizeof req, .nlmsg_type = RTM_NEWADDR,
             .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, .nlmsg_seq = 1},
      .ifa = {.ifa_family = AF_INET, .ifa_prefixlen = 32, .ifa_scope = RT_SCOPE_HOST, .ifa_index = (unsigned)ifindex},
      .local_attr = {.rta_len = RTA_LENGTH(sizeof(struct in_addr)), .rta_type = IFA_LOCAL},
      .address_attr = {.rta_len = RTA_LENGTH(sizeof(struct in_addr)), .rta_type = IFA_ADDRESS},
  };
  inet_pton(AF_INET, RELAY_ADDRESS, &req.local);
  req.address = req.local;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    close(fd);
    return -1;
  }
  char buf[1024];
  ssize_t n;
  do n = recv(fd, buf, sizeof buf, 0);
  while (n < 0 && errno == EINTR);
  int e = errno;
  close(fd);
  const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
  if (n < 0) return errno = e, -1;
  if ((size_t)n < sizeof *h + sizeof(struct nlmsgerr) || h->nlmsg_type != NLMSG_ERROR) return errno = EPROTO, -1;
  const struct nlmsgerr *ack = NLMSG_DATA(h);
  if (ack->error) return errno = -ack->error, -1;
  return 0;
}

static int bound_socket(int type, const struct sockaddr_in *addr) {
  int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  if ((type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) ||
      bind(fd, (const struct sockaddr *)addr, sizeof *addr) < 0 || (type == SOCK_STREAM && listen(fd, 16) < 0)) {
    int e = errno;
    close(fd);
    return errno = e, -1;
  }
  return fd;
}

/* In the container's namespace: lo up with the address, both sockets bound. */
static int open_sockets(struct dns_relay *r, char *err, size_t errlen) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return snprintf(err, errlen, "dns relay: socket: %s", strerror(errno)), -1;
  struct ifreq ifr = {0};
  strcpy(ifr.ifr_name, "lo");
  /* Up already in a namespace of its own (the init saw to it); perhaps not in one it joined. */
  int r1 = ioctl(fd, SIOCGIFFLAGS, &ifr);
  ifr.ifr_flags |= IFF_UP;
  if (r1 < 0 || ioctl(fd, SIOCSIFFLAGS, &ifr) < 0 || ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
    snprintf(err, errlen, "dns relay: loopback: %s", strerror(errno));
    close(fd);
    return -1;
  }
  close(fd);
  if (add_address(ifr.ifr_ifindex) < 0)
    return snprintf(err, errlen, "dns relay: add %s to lo: %s", RELAY_ADDRESS, strerror(errno)), -1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(53)};
  inet_pton(AF_INET, RELAY_ADDRESS, &addr.sin_addr);
  r->udp = bound_socket(SOCK_DGRAM, &addr);
  if (r->udp < 0) return snprintf(err, errlen, "dns relay: udp %s:53: %s", RELAY_ADDRESS, strerror(errno)), -1;
  r->listener = bound_socket(SOCK_STREAM, &addr);
  if (r->listener < 0) return snprintf(err, errlen, "dns relay: tcp %s:53: %s", RELAY_ADDRESS, strerror(errno)), -1;
  return 0;
}

struct dns_relay *dns_relay_open(pid_t init, const char *agent_path, const char *container_id, char *err,
                                 size_t errlen) {
  struct dns_relay *r = xcalloc(1, sizeof *r);
  r->udp = r->listener = r->agent = -1;
  for (size_t i = 0; i < DNS_RELAY_TCP_CLIENTS; i++) r->tcp[i].fd = -1;
  r->agent_path = xstrdup(agent_path);
  r->hello = xasprintf("shoal-dns 1 %s\n", container_id);
  r->backoff_ms = BACKOFF_MIN_MS;

  /* Sockets belong to the namespace they are made in, wherever they are used from: so this
     process goes in, makes them, and comes back (it is single-threaded; setns moves just it). */
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/net", (int)init);
  int own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = own < 0 ? -1 : open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0 || setns(target, CLONE_NEWNET) < 0) {
    snprintf(err, errlen, "dns relay: enter %s: %s", path, strerror(errno));
    if (own >= 0) close(own);
    if (target >= 0) close(target);
    dns_relay_close(r);
    return NULL;
  }
  close(target);
  int opened = open_sockets(r, err, errlen);
  if (setns(own, CLONE_NEWNET) < 0) {
    /* Left in the container's namespace, this process must not go on: the caller ends it. */
    snprintf(err, errlen, "dns relay: back to the runtime's network namespace: %s", strerror(errno));
    opened = -1;
  }
  close(own);
  if (opened < 0) {
    dns_relay_close(r);
    return NULL;
  }
  agent_connect(r);
  return r;
}

void dns_relay_close(struct dns_relay *r) {
  if (!r) return;
  for (size_t i = 0; i < DNS_RELAY_TCP_CLIENTS; i++)
    if (r->tcp[i].fd >= 0) tcp_close(&r->tcp[i]);
  if (r->udp >= 0) close(r->udp);
  if (r->listener >= 0) close(r->listener);
  if (r->agent >= 0) close(r->agent);
  free(r->agent_path);
  free(r->hello);
  free(r);
}
