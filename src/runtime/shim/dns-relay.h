/*
 * The container's DNS relay (dns-relay.c), run by the supervisor when config.json names the agent's
 * resolver (org.shoal.dns.relay). Node cannot open a socket inside another network namespace, so
 * the supervisor does: it listens on 127.0.0.11:53 (UDP and TCP) inside the container's namespace
 * and passes every query, framed as DNS over TCP, to the agent over one unix stream socket that
 * starts with the hello line "shoal-dns 1 <container id>\n". It answers nothing itself but
 * SERVFAIL (agent away, queue full, no answer in time) and truncated replies too big for UDP, and
 * forwards nowhere else. Everything is non-blocking with bounded buffers, driven from the
 * supervisor's poll loop, so the relay can never hold up the log, the stop signal or the exit.
 */
#ifndef SHOAL_DNS_RELAY_H
#define SHOAL_DNS_RELAY_H

#include <poll.h>
#include <stddef.h>
#include <sys/types.h>

/* TCP clients served at once; one more is accepted and closed straight away. */
#define DNS_RELAY_TCP_CLIENTS 8
/* The most descriptors dns_relay_prepare asks poll about. */
#define DNS_RELAY_POLLFDS (3 + DNS_RELAY_TCP_CLIENTS)

struct dns_relay;

/*
 * Inside the network namespace of process `init`: adds 127.0.0.11/32 to `lo` (and brings `lo` up),
 * binds UDP and TCP port 53 there, and comes back to this process's own namespace. Then connects to
 * the agent at agent_path if it is there (it need not be yet). NULL with the reason in err.
 */
struct dns_relay *dns_relay_open(pid_t init, const char *agent_path, const char *container_id, char *err,
                                 size_t errlen);

/*
 * Before each poll: does what is due (expired queries answered SERVFAIL, idle TCP clients closed,
 * a reconnect to the agent), fills fds (DNS_RELAY_POLLFDS at most) and returns how many; lowers
 * *timeout_ms (-1: none) to when it next has something to do.
 */
size_t dns_relay_prepare(struct dns_relay *r, struct pollfd *fds, int *timeout_ms);

/* After poll: handles the fds dns_relay_prepare filled, with their revents. */
void dns_relay_handle(struct dns_relay *r, const struct pollfd *fds, size_t n);

/* Closes every socket and frees the relay. */
void dns_relay_close(struct dns_relay *r);

#endif
