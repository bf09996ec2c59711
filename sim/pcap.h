/* pcap.h — a small writer of classic libpcap capture files (the tcpdump/libpcap "savefile"
 * format, version 2.4, LINKTYPE_RAW: each record is an IPv4 packet) so that simulated and
 * test traffic can be read by Wireshark/tshark.  IPv4 (RFC 791) and UDP (RFC 768) headers are
 * built by hand; the IPv4 header checksum is computed, the UDP checksum is 0 ("not
 * computed", allowed for IPv4).  RELOAD datagrams go to UDP port 6084, where tshark's RELOAD
 * dissector listens.
 *
 * Output is deterministic: timestamps come only from the arguments and the file is written
 * little-endian whatever the host, so the same calls give the same bytes.
 */
#ifndef P2PSIP_SIM_PCAP_H
#define P2PSIP_SIM_PCAP_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/env.h"

/* Largest UDP payload one IPv4 datagram carries (65535 - 20 - 8). */
#define PCAP_MAX_UDP_PAYLOAD 65507

struct pcap_writer;

/* Creates (truncates) path and writes the file header; NULL with err set on failure. */
struct pcap_writer *pcap_open(const char *path, GError **err);
/* Appends one UDP datagram sent at t_us (microseconds) from src to dst (env_addr: IPv4 and
 * port in host order).  A payload over PCAP_MAX_UDP_PAYLOAD is skipped and counted. */
void pcap_write_udp(struct pcap_writer *w, env_time t_us, const struct env_addr *src,
                    const struct env_addr *dst, const uint8_t *payload, size_t len);
/* Records written and skipped so far. */
uint64_t pcap_written(const struct pcap_writer *w);
uint64_t pcap_skipped(const struct pcap_writer *w);
/* Flushes and closes the file and frees w (NULL is a no-op).  Write errors met since
 * pcap_open are reported once, as a GLib warning naming the file. */
void pcap_close(struct pcap_writer *w);

#endif
