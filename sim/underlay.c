/* underlay.c — the simulated network between peers (sim/underlay.h): base latency models,
 * jitter, random loss, per-peer access links with a drop-tail FIFO, and partitions.
 *
 * The coordinates model is the "height vector" model of Vivaldi (Dabek, Cox, Kaashoek and
 * Morris, "Vivaldi: A Decentralized Network Coordinate System", SIGCOMM 2004, §5.3): a host is
 * a point in a Euclidean core plus a height, the delay of its access link, so that
 * latency(a, b) = |x_a - x_b| + h_a + h_b.  Here the points are drawn uniformly in a cube of
 * side latency.side_ms and the heights from an exponential of mean latency.height_ms.  The
 * matrix model replays measured (or synthetic, see scenarios/data/) one-way delays, as p2psim
 * replays the King data set (Gummadi, Saroiu and Gribble, IMW 2002).  docs/underlay.md
 * describes every model and its keys.
 *
 * A datagram goes through, in this order:
 *   1. the sender's upload link (when network.upload is set): FIFO, serialisation delay
 *      bytes * 8 / bandwidth; dropped (UNDERLAY_QUEUE_FULL) when the bytes not yet sent,
 *      counting its own, would exceed network.queue;
 *   2. the partition: peers in different groups never reach each other (UNDERLAY_PARTITIONED);
 *   3. random loss with probability network.loss (UNDERLAY_LOST);
 *   4. the base one-way latency plus jitter (exponential, mean latency.jitter_ms);
 *   5. the receiver's download link (when network.download is set), as in 1.
 * A datagram dropped after step 1 has still used the sender's upload link, as on a real
 * access link.  Draws from the sender's rng, in order: loss (if network.loss > 0), latency (if
 * uniform with max > min), jitter (if latency.jitter_ms > 0); a datagram dropped early makes
 * fewer draws.
 *
 * The download link is computed when the datagram is sent, from the time it will reach the
 * link: datagrams are therefore served in the order they were *sent*, not the order in which
 * they reach the receiver.  A datagram that overtakes an earlier one in the core (a shorter
 * path, less jitter) waits behind it on a busy download link instead of going first.  The
 * error is zero when the link is idle and at most the serialisation time of the datagrams it
 * should have overtaken; the gain is that a datagram costs one event, not two.
 *
 * Memory: link state is one env_time (the time the link becomes idle) per peer and per
 * limited direction, allocated only when that direction has a bandwidth; coordinates are
 * dims + 1 floats per peer, only for the coordinates model; the matrix is hosts^2 uint32.
 * The bytes queued on a link are not stored: on a FIFO link of constant rate they are
 * (busy_until - now) * bandwidth / 8.
 */
#include "underlay.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

/* The static stream (coordinates) of the run seed: "underlay" in ASCII, far from the peers'
 * streams (0 .. peers-1) and the world's (2^32 + small). */
#define UNDERLAY_STREAM_STATIC UINT64_C(0x756e6465726c6179)

#define UNDERLAY_DIMS_MAX 64
/* A matrix of more hosts would take more than 1.6 GB. */
#define UNDERLAY_HOSTS_MAX 20000

__extension__ typedef unsigned __int128 underlay_u128;

/* One direction of every peer's access link. */
struct underlay_link {
    uint64_t bps;   /* 0 = unlimited: busy is NULL */
    env_time *busy; /* per peer: when the link has sent everything queued so far */
};

struct underlay {
    enum scenario_latency_model model;
    uint32_t max_peers;
    env_time const_us;        /* constant */
    env_time min_us, span_us; /* uniform: [min, min + span] */
    uint32_t dims;            /* coordinates */
    float *coord;             /* coordinates: max_peers * dims, ms */
    float *height;            /* coordinates: max_peers, ms */
    uint32_t hosts;           /* matrix */
    uint32_t *matrix;         /* matrix: hosts * hosts, us, row = sender */
    double jitter_us;
    double loss;
    uint32_t queue_bytes;
    struct underlay_link up, down;
    uint32_t groups; /* 1 = whole */
    uint64_t count[UNDERLAY_PARTITIONED + 1];
};

static env_time underlay_ms_to_us(double ms)
{
    return (env_time)llround(ms * 1000.0);
}

static bool underlay_ms_ok(double ms)
{
    return ms >= 0 && ms <= 1e9; /* also false for NaN */
}

/* ---- the latency-matrix file --------------------------------------------------------------- */

struct underlay_reader {
    const char *path;
    unsigned line;     /* 1-based number of the current line */
    const char *start; /* first byte of the current line */
    GError **err;
};

G_GNUC_PRINTF(3, 4)
static bool underlay_reader_fail(const struct underlay_reader *rd, const char *at, const char *fmt,
                                 ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(rd->err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE, "%s:%u:%u: latency.matrix: %s",
                rd->path, rd->line, (unsigned)(at - rd->start) + 1, msg);
    g_free(msg);
    return false;
}

/* The next whitespace-separated token of the line at *p (stopping at '#' or the end), or NULL;
 * *len receives its length and *p moves past it. */
static const char *underlay_token(const char **p, size_t *len)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f')
        s++;
    if (*s == '\0' || *s == '#') {
        *p = s;
        return NULL;
    }
    const char *e = s;
    while (*e && *e != ' ' && *e != '\t' && *e != '\r' && *e != '\v' && *e != '\f' && *e != '#')
        e++;
    *p = e;
    *len = (size_t)(e - s);
    return s;
}

static bool underlay_parse_hosts(const struct underlay_reader *rd, const char *tok, size_t len,
                                 uint32_t *hosts)
{
    char *copy = g_strndup(tok, len);
    bool ok = len > 0 && len <= 9;
    for (size_t i = 0; ok && i < len; i++)
        ok = g_ascii_isdigit(copy[i]);
    unsigned long n = ok ? strtoul(copy, NULL, 10) : 0;
    if (!ok || n == 0)
        underlay_reader_fail(rd, tok, "expected the number of hosts (a positive integer), got '%s'",
                             copy);
    else if (n > UNDERLAY_HOSTS_MAX)
        underlay_reader_fail(rd, tok, "%lu hosts is more than the %u supported", n,
                             UNDERLAY_HOSTS_MAX);
    g_free(copy);
    *hosts = (uint32_t)n;
    return ok && n > 0 && n <= UNDERLAY_HOSTS_MAX;
}

static bool underlay_parse_ms(const struct underlay_reader *rd, const char *tok, size_t len,
                              uint32_t *us)
{
    char *copy = g_strndup(tok, len);
    char *end = NULL;
    errno = 0;
    double ms = g_ascii_strtod(copy, &end);
    bool ok = false;
    if (end != copy + len || errno == ERANGE || !isfinite(ms))
        underlay_reader_fail(rd, tok, "expected a latency in milliseconds, got '%s'", copy);
    else if (ms < 0)
        underlay_reader_fail(rd, tok, "a latency must be >= 0 ms, got %s", copy);
    else if (ms * 1000.0 > (double)UINT32_MAX)
        underlay_reader_fail(rd, tok, "latency %s ms is too large (at most %.0f ms)", copy,
                             (double)UINT32_MAX / 1000.0);
    else
        ok = true;
    if (ok)
        *us = (uint32_t)llround(ms * 1000.0);
    g_free(copy);
    return ok;
}

/* Reads the H x H matrix: see underlay.h and docs/underlay.md for the format. */
static bool underlay_read_matrix(struct underlay *u, const char *path, GError **err)
{
    char *text = NULL;
    gsize size = 0;
    GError *io = NULL;
    if (!g_file_get_contents(path, &text, &size, &io)) {
        g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_IO, "%s: latency.matrix: %s", path,
                    io->message);
        g_error_free(io);
        return false;
    }
    if (memchr(text, '\0', size)) {
        g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE,
                    "%s: latency.matrix: not a text file (contains a NUL byte)", path);
        g_free(text);
        return false;
    }
    struct underlay_reader rd = {.path = path, .err = err};
    uint32_t row = 0; /* rows read so far */
    bool ok = true;
    char *line = text;
    for (rd.line = 1; ok; rd.line++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        rd.start = line;
        const char *p = line;
        size_t len;
        const char *tok = underlay_token(&p, &len);
        if (!tok) {
            /* a blank or comment line */
        } else if (u->hosts == 0) {
            ok = underlay_parse_hosts(&rd, tok, len, &u->hosts);
            if (ok && (tok = underlay_token(&p, &len)) != NULL)
                ok = underlay_reader_fail(&rd, tok,
                                          "the host count must be alone on its line; "
                                          "rows start on the next line");
            if (ok)
                u->matrix = g_new(uint32_t, (size_t)u->hosts * u->hosts);
        } else if (row == u->hosts) {
            ok = underlay_reader_fail(&rd, tok, "extra data after the %u rows", u->hosts);
        } else {
            uint32_t *dst = u->matrix + (size_t)row * u->hosts;
            uint32_t col = 0;
            for (; ok && tok; tok = underlay_token(&p, &len)) {
                if (col == u->hosts)
                    ok = underlay_reader_fail(&rd, tok, "row %u has more than %u values", row + 1,
                                              u->hosts);
                else
                    ok = underlay_parse_ms(&rd, tok, len, &dst[col++]);
            }
            if (ok && col < u->hosts)
                ok = underlay_reader_fail(&rd, p, "row %u: expected %u values, found %u", row + 1,
                                          u->hosts, col);
            row++;
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    /* At the end of the file, errors point just past its last character. */
    rd.start = line;
    const char *eof = line + strlen(line);
    if (ok && u->hosts == 0)
        ok = underlay_reader_fail(&rd, eof, "no host count: the file has no data");
    else if (ok && row < u->hosts)
        ok = underlay_reader_fail(&rd, eof, "the file ends after %u of %u rows", row, u->hosts);
    g_free(text);
    return ok;
}

/* ---- construction -------------------------------------------------------------------------- */

/* The loader checks these already; a struct filled by hand (tests, the world's defaults) is
 * checked again here so that nothing below sees a nonsense value. */
static bool underlay_check(const struct scenario *sc, GError **err)
{
    const char *f = sc->file ? sc->file : "scenario";
    switch (sc->latency.model) {
    case SCENARIO_LATENCY_CONSTANT:
        if (!underlay_ms_ok(sc->latency.ms))
            return scenario_fail(err, "%s: latency.ms: expected 0 to 1e9 ms, got %g", f,
                                 sc->latency.ms);
        break;
    case SCENARIO_LATENCY_UNIFORM:
        if (!underlay_ms_ok(sc->latency.min_ms) || !underlay_ms_ok(sc->latency.max_ms) ||
            sc->latency.min_ms > sc->latency.max_ms)
            return scenario_fail(err,
                                 "%s: latency.min_ms (%g) and latency.max_ms (%g): expected "
                                 "0 <= min_ms <= max_ms <= 1e9",
                                 f, sc->latency.min_ms, sc->latency.max_ms);
        break;
    case SCENARIO_LATENCY_COORDINATES:
        if (sc->latency.dims < 1 || sc->latency.dims > UNDERLAY_DIMS_MAX)
            return scenario_fail(err, "%s: latency.dims: expected 1 to %d, got %u", f,
                                 UNDERLAY_DIMS_MAX, sc->latency.dims);
        if (!underlay_ms_ok(sc->latency.side_ms) || !underlay_ms_ok(sc->latency.height_ms))
            return scenario_fail(err,
                                 "%s: latency.side_ms (%g) and latency.height_ms (%g): expected "
                                 "0 to 1e9 ms",
                                 f, sc->latency.side_ms, sc->latency.height_ms);
        break;
    case SCENARIO_LATENCY_MATRIX:
        if (!sc->latency.matrix || !*sc->latency.matrix)
            return scenario_fail(err, "%s: latency.matrix: the matrix model needs a file name", f);
        break;
    default:
        return scenario_fail(err, "%s: latency.model: unknown model %d", f, (int)sc->latency.model);
    }
    if (!underlay_ms_ok(sc->latency.jitter_ms))
        return scenario_fail(err, "%s: latency.jitter_ms: expected 0 to 1e9 ms, got %g", f,
                             sc->latency.jitter_ms);
    if (!(sc->network.loss >= 0 && sc->network.loss <= 1))
        return scenario_fail(err, "%s: network.loss: expected a probability in [0, 1], got %g", f,
                             sc->network.loss);
    return true;
}

/* Each peer in index order draws dims coordinates then its height, so a peer's position does
 * not depend on how many peers there are. */
static void underlay_place(struct underlay *u, const struct scenario *sc, uint64_t seed)
{
    struct sim_rng r;
    sim_rng_init(&r, seed, UNDERLAY_STREAM_STATIC);
    u->dims = sc->latency.dims;
    u->coord = g_new(float, (size_t)u->max_peers * u->dims);
    u->height = g_new(float, u->max_peers);
    for (uint32_t i = 0; i < u->max_peers; i++) {
        for (uint32_t k = 0; k < u->dims; k++)
            u->coord[(size_t)i * u->dims + k] = (float)(sim_rng_unit(&r) * sc->latency.side_ms);
        u->height[i] = (float)sim_rng_exp(&r, sc->latency.height_ms);
    }
}

static void underlay_link_init(struct underlay_link *l, uint64_t bps, uint32_t max_peers)
{
    l->bps = bps;
    l->busy = bps ? g_new0(env_time, max_peers) : NULL;
}

struct underlay *underlay_new(const struct scenario *sc, uint32_t max_peers, uint64_t seed,
                              GError **err)
{
    if (!underlay_check(sc, err))
        return NULL;
    struct underlay *u = g_new0(struct underlay, 1);
    u->model = sc->latency.model;
    u->max_peers = max_peers;
    u->groups = 1;
    switch (u->model) {
    case SCENARIO_LATENCY_CONSTANT:
        u->const_us = underlay_ms_to_us(sc->latency.ms);
        break;
    case SCENARIO_LATENCY_UNIFORM:
        u->min_us = underlay_ms_to_us(sc->latency.min_ms);
        u->span_us = underlay_ms_to_us(sc->latency.max_ms) - u->min_us;
        break;
    case SCENARIO_LATENCY_COORDINATES:
        underlay_place(u, sc, seed);
        break;
    case SCENARIO_LATENCY_MATRIX: {
        char *path = scenario_data_path(sc, sc->latency.matrix);
        bool ok = underlay_read_matrix(u, path, err);
        g_free(path);
        if (!ok) {
            underlay_free(u);
            return NULL;
        }
        break;
    }
    }
    u->jitter_us = sc->latency.jitter_ms * 1000.0;
    u->loss = sc->network.loss;
    u->queue_bytes = sc->network.queue_bytes;
    underlay_link_init(&u->up, sc->network.upload_bps, max_peers);
    underlay_link_init(&u->down, sc->network.download_bps, max_peers);
    return u;
}

void underlay_free(struct underlay *u)
{
    if (!u)
        return;
    g_free(u->coord);
    g_free(u->height);
    g_free(u->matrix);
    g_free(u->up.busy);
    g_free(u->down.busy);
    g_free(u);
}

/* ---- sending ------------------------------------------------------------------------------- */

env_time underlay_latency(const struct underlay *u, uint32_t src, uint32_t dst)
{
    g_assert(src < u->max_peers && dst < u->max_peers);
    switch (u->model) {
    case SCENARIO_LATENCY_CONSTANT:
        return u->const_us;
    case SCENARIO_LATENCY_UNIFORM:
        return u->min_us + u->span_us / 2; /* the mean of the per-message draw */
    case SCENARIO_LATENCY_COORDINATES: {
        if (src == dst)
            return 0;
        const float *a = u->coord + (size_t)src * u->dims;
        const float *b = u->coord + (size_t)dst * u->dims;
        double sum = 0;
        for (uint32_t k = 0; k < u->dims; k++) {
            double d = (double)a[k] - (double)b[k];
            sum += d * d;
        }
        return underlay_ms_to_us(sqrt(sum) + (double)u->height[src] + (double)u->height[dst]);
    }
    case SCENARIO_LATENCY_MATRIX:
        return u->matrix[(size_t)(src % u->hosts) * u->hosts + dst % u->hosts];
    }
    g_assert_not_reached();
}

/* A datagram reaches link direction l of peer at time t: on success *done is when its last
 * bit has left the link.  The bytes still queued at t are (busy - t) * bps / 8, rounded up;
 * a datagram is dropped when they plus its own would exceed the queue, except on an idle
 * link (so that a datagram larger than the whole queue is not dropped forever). */
static bool underlay_link_pass(struct underlay_link *l, uint32_t peer, size_t bytes, env_time t,
                               uint32_t queue_bytes, env_time *done)
{
    if (!l->bps) {
        *done = t;
        return true;
    }
    env_time busy = l->busy[peer];
    if (busy > t) {
        underlay_u128 queued = ((underlay_u128)(busy - t) * l->bps + 8 * ENV_S - 1) / (8 * ENV_S);
        if (queued + bytes > queue_bytes)
            return false;
    }
    underlay_u128 tx = ((underlay_u128)bytes * 8 * ENV_S + l->bps - 1) / l->bps;
    *done = MAX(t, busy) + (env_time)tx;
    l->busy[peer] = *done;
    return true;
}

static enum underlay_verdict underlay_verdict(struct underlay *u, enum underlay_verdict v)
{
    u->count[v]++;
    return v;
}

enum underlay_verdict underlay_send(struct underlay *u, uint32_t src, uint32_t dst, size_t bytes,
                                    env_time now, struct sim_rng *rng, env_time *arrive)
{
    g_assert(src < u->max_peers && dst < u->max_peers);
    env_time t;
    if (!underlay_link_pass(&u->up, src, bytes, now, u->queue_bytes, &t))
        return underlay_verdict(u, UNDERLAY_QUEUE_FULL);
    if (u->groups > 1 && src % u->groups != dst % u->groups)
        return underlay_verdict(u, UNDERLAY_PARTITIONED);
    if (u->loss > 0 && sim_rng_unit(rng) < u->loss)
        return underlay_verdict(u, UNDERLAY_LOST);
    if (u->model == SCENARIO_LATENCY_UNIFORM)
        t += u->min_us + (u->span_us ? sim_rng_below(rng, u->span_us + 1) : 0);
    else
        t += underlay_latency(u, src, dst);
    if (u->jitter_us > 0)
        t += (env_time)llround(sim_rng_exp(rng, u->jitter_us));
    *arrive = t;
    if (!u->down.bps)
        return underlay_verdict(u, UNDERLAY_DELIVER);
    return UNDERLAY_DELIVER; /* counted when it has passed the downlink (underlay_arrive) */
}

bool underlay_has_downlinks(const struct underlay *u)
{
    return u->down.bps != 0;
}

/* The downlink runs when the datagram reaches it, in arrival order: the world calls this from
 * the arrival event, so the backlog (busy - now) is exactly the bytes that arrived earlier. */
enum underlay_verdict underlay_arrive(struct underlay *u, uint32_t dst, size_t bytes, env_time now,
                                      env_time *deliver)
{
    g_assert(dst < u->max_peers);
    if (!underlay_link_pass(&u->down, dst, bytes, now, u->queue_bytes, deliver))
        return underlay_verdict(u, UNDERLAY_QUEUE_FULL);
    return underlay_verdict(u, UNDERLAY_DELIVER);
}

/* ---- partitions and figures ---------------------------------------------------------------- */

void underlay_partition(struct underlay *u, uint32_t groups)
{
    u->groups = groups > 1 ? groups : 1;
}

uint32_t underlay_groups(const struct underlay *u)
{
    return u->groups;
}

uint64_t underlay_count(const struct underlay *u, enum underlay_verdict v)
{
    g_assert((unsigned)v < G_N_ELEMENTS(u->count));
    return u->count[v];
}

size_t underlay_memory(const struct underlay *u)
{
    size_t bytes = sizeof *u;
    if (u->coord)
        bytes += (size_t)u->max_peers * (u->dims + 1) * sizeof(float);
    if (u->matrix)
        bytes += (size_t)u->hosts * u->hosts * sizeof(uint32_t);
    if (u->up.busy)
        bytes += (size_t)u->max_peers * sizeof(env_time);
    if (u->down.busy)
        bytes += (size_t)u->max_peers * sizeof(env_time);
    return bytes;
}
