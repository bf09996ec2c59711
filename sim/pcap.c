/* pcap.c — classic libpcap file writer (savefile format 2.4, LINKTYPE_RAW) with hand-built
 * IPv4 (RFC 791) and UDP (RFC 768) headers; see pcap.h. */
#include "pcap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PCAP_MAGIC 0xa1b2c3d4u /* microsecond timestamps */
#define PCAP_LINKTYPE_RAW 101  /* the record starts with the IP header */
#define PCAP_SNAPLEN 65535
#define IPV4_HEADER 20
#define UDP_HEADER 8

struct pcap_writer {
    FILE *f;
    char *path;
    uint16_t ip_id; /* IPv4 identification: a counter, so output stays deterministic */
    uint64_t written, skipped;
    int error; /* errno of the first failed write, or 0 */
};

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, (uint16_t)(v >> 16));
    put_be16(p + 2, (uint16_t)v);
}

static void pcap_put(struct pcap_writer *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->f) != n && !w->error)
        w->error = errno ? errno : EIO;
}

/* The Internet checksum (RFC 1071) of an IPv4 header whose checksum field is zero. */
static uint16_t ipv4_checksum(const uint8_t *h, size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)h[i] << 8 | h[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

struct pcap_writer *pcap_open(const char *path, GError **err)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        int e = errno;
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(e), "cannot create %s: %s", path,
                    g_strerror(e));
        return NULL;
    }
    struct pcap_writer *w = g_new0(struct pcap_writer, 1);
    w->f = f;
    w->path = g_strdup(path);
    uint8_t h[24];
    put_le32(h, PCAP_MAGIC);
    put_le16(h + 4, 2); /* version 2.4 */
    put_le16(h + 6, 4);
    put_le32(h + 8, 0);  /* thiszone: UTC */
    put_le32(h + 12, 0); /* sigfigs */
    put_le32(h + 16, PCAP_SNAPLEN);
    put_le32(h + 20, PCAP_LINKTYPE_RAW);
    pcap_put(w, h, sizeof h);
    return w;
}

void pcap_write_udp(struct pcap_writer *w, env_time t_us, const struct env_addr *src,
                    const struct env_addr *dst, const uint8_t *payload, size_t len)
{
    if (len > PCAP_MAX_UDP_PAYLOAD) {
        w->skipped++;
        return;
    }
    size_t total = IPV4_HEADER + UDP_HEADER + len;
    uint8_t rec[16], hdr[IPV4_HEADER + UDP_HEADER];
    put_le32(rec, (uint32_t)(t_us / 1000000));
    put_le32(rec + 4, (uint32_t)(t_us % 1000000));
    put_le32(rec + 8, (uint32_t)total);  /* captured */
    put_le32(rec + 12, (uint32_t)total); /* on the wire */

    memset(hdr, 0, sizeof hdr);
    hdr[0] = 0x45; /* version 4, header of 5 words */
    put_be16(hdr + 2, (uint16_t)total);
    put_be16(hdr + 4, w->ip_id++);
    put_be16(hdr + 6, 0x4000); /* don't fragment */
    hdr[8] = 64;               /* TTL */
    hdr[9] = 17;               /* UDP */
    put_be32(hdr + 12, src->ip);
    put_be32(hdr + 16, dst->ip);
    put_be16(hdr + 10, ipv4_checksum(hdr, IPV4_HEADER));
    put_be16(hdr + 20, src->port);
    put_be16(hdr + 22, dst->port);
    put_be16(hdr + 24, (uint16_t)(UDP_HEADER + len));
    /* hdr[26..27]: UDP checksum 0, "no checksum" */

    pcap_put(w, rec, sizeof rec);
    pcap_put(w, hdr, sizeof hdr);
    pcap_put(w, payload, len);
    w->written++;
}

uint64_t pcap_written(const struct pcap_writer *w)
{
    return w->written;
}

uint64_t pcap_skipped(const struct pcap_writer *w)
{
    return w->skipped;
}

void pcap_close(struct pcap_writer *w)
{
    if (!w)
        return;
    if (fclose(w->f) != 0 && !w->error)
        w->error = errno ? errno : EIO;
    if (w->error)
        g_warning("pcap: writing %s failed: %s", w->path, g_strerror(w->error));
    g_free(w->path);
    g_free(w);
}
