/* churn.c — when peers come and go (sim/churn.h): the session model, trace replay and
 * scripted events, driven on the world's engine.
 *
 * Session model: the alternating up/down renewal process of the churn measurements
 * (Stutzbach & Rejaie, "Understanding churn in peer-to-peer networks", IMC 2006, §5: session
 * lengths and down times as independent draws) as used to stress DHTs by Rhea et al.,
 * "Handling churn in a DHT", USENIX 2004, §2.  Scripted failures reproduce Stoica et al.,
 * "Chord", SIGCOMM 2001, §6.4 (a fraction p of the peers fails at once); flash crowds place
 * their arrivals as the order statistics of uniform times, generated in increasing order
 * (Bentley & Saxe, "Generating sorted lists of random numbers", ACM TOMS 6(3), 1980).
 *
 * Decisions only: the world carries them out through struct churn_hooks.  This module keeps
 * no up/down state of its own; it asks hooks.is_up, and it calls hooks.up only for a peer that
 * is down and hooks.down only for a peer that is up (a trace line or a session end that finds
 * the peer already in that state does nothing and is not counted).
 *
 * Memory: the session model costs 16 bytes per peer slot (struct churn_peer: the engine
 * callback's argument, which leads back to the churn, and the handle of the peer's one pending
 * event) and no allocation per event.  A trace costs 24 bytes per line and a bit per peer.
 * Trace lines and scripted events are each walked by a single cursor event; a flash crowd has
 * one pending event at a time.
 *
 * Determinism: every draw comes from one stream of the run seed (CHURN_STREAM), in an order
 * fixed by the engine's (time, insertion) order: at churn.start the peers are visited in index
 * order; a departure draws "graceful?" then its down time; a rejoin draws the next session; a
 * scripted failure selects all its victims first, then crashes them in selection order.
 *
 * Scripted failures and the session model: a peer crashed by a "fail" event stays down for a
 * draw of churn.downtime and then rejoins, exactly as if its session had ended with a crash at
 * that instant (its pending session end is cancelled).  Under the trace model and with no
 * model, a crashed peer stays down unless a trace line brings it back.
 */
#include "churn.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"

/* The churn's random stream: above 2^32 like the world's own named streams, far from them. */
#define CHURN_STREAM (((uint64_t)1 << 32) + 0x100)

/* Session model: one per peer slot (initial peers and flash-crowd peers). */
struct churn_peer {
    struct churn *c;
    sim_handle pending; /* session end while up, rejoin while down; 0: none */
};

/* A trace line, kept sorted by (time, line). */
struct churn_move {
    env_time at;
    uint32_t peer;
    uint32_t line;
    bool up;
};

/* A flash crowd: peers first..first+count-1 arrive in index order at sorted uniform times. */
struct churn_crowd {
    struct churn *c;
    uint32_t first, count, arrived;
    env_time at, over;
    double x; /* time of the last arrival as a fraction of over */
    sim_handle pending;
};

struct churn {
    struct sim_engine *e;
    struct churn_hooks hooks;
    struct sim_rng rng;
    enum scenario_churn_model model;
    struct dist session, downtime;
    double graceful;
    env_time start;
    uint32_t initial, max_peers;
    bool started;     /* churn_start was called */
    bool sessions_on; /* session model: churn.start has passed */
    sim_handle sessions_pending;
    struct churn_peer *peers; /* session model: max_peers slots */

    GArray *moves; /* trace: struct churn_move */
    guint next_move;
    sim_handle move_pending;
    uint8_t *starts_down; /* trace: bit per initial peer whose first line is "up" */

    struct scenario_event *events; /* churn.events, sorted by time (file order on ties) */
    guint n_events, next_event;
    sim_handle event_pending;
    struct churn_crowd *crowds; /* one per flash_crowd event, in event order */
    guint n_crowds, next_crowd;

    uint64_t leaves, crashes, joins;
};

/* ---- carrying out a decision ---------------------------------------------------------------- */

static bool churn_is_up(const struct churn *c, uint32_t peer)
{
    return c->hooks.is_up(c->hooks.ud, peer);
}

static void churn_bring_up(struct churn *c, uint32_t peer)
{
    if (churn_is_up(c, peer))
        return;
    c->hooks.up(c->hooks.ud, peer);
    c->joins++;
}

static void churn_take_down(struct churn *c, uint32_t peer, bool graceful)
{
    if (!churn_is_up(c, peer))
        return;
    c->hooks.down(c->hooks.ud, peer, graceful);
    if (graceful)
        c->leaves++;
    else
        c->crashes++;
}

static bool churn_draw_graceful(struct churn *c)
{
    return sim_rng_unit(&c->rng) < c->graceful;
}

/* ---- the session model ---------------------------------------------------------------------- */

static void churn_session_end(void *arg);
static void churn_rejoin(void *arg);

/* Schedules the end of the peer's current state: a session if it is up, a down time if not. */
static void churn_plan(struct churn *c, uint32_t peer, bool up)
{
    struct churn_peer *cp = &c->peers[peer];
    g_assert(cp->pending == 0);
    env_time t = dist_sample(up ? &c->session : &c->downtime, &c->rng);
    cp->pending = sim_schedule(c->e, t, up ? churn_session_end : churn_rejoin, cp);
}

static void churn_session_end(void *arg)
{
    struct churn_peer *cp = arg;
    struct churn *c = cp->c;
    uint32_t peer = (uint32_t)(cp - c->peers);
    cp->pending = 0;
    if (churn_is_up(c, peer))
        churn_take_down(c, peer, churn_draw_graceful(c));
    churn_plan(c, peer, false);
}

static void churn_rejoin(void *arg)
{
    struct churn_peer *cp = arg;
    struct churn *c = cp->c;
    uint32_t peer = (uint32_t)(cp - c->peers);
    cp->pending = 0;
    churn_bring_up(c, peer);
    churn_plan(c, peer, true);
}

/* At churn.start every peer slot that exists (the initial peers and the flash-crowd peers
 * that arrived) enters the model: a session if it is up, a down time if it is not. */
static void churn_sessions_begin(void *arg)
{
    struct churn *c = arg;
    c->sessions_pending = 0;
    c->sessions_on = true;
    for (uint32_t p = 0; p < c->initial; p++)
        churn_plan(c, p, churn_is_up(c, p));
    for (guint i = 0; i < c->n_crowds; i++)
        for (uint32_t k = 0; k < c->crowds[i].arrived; k++)
            churn_plan(c, c->crowds[i].first + k, churn_is_up(c, c->crowds[i].first + k));
}

/* ---- scripted events ------------------------------------------------------------------------ */

/* A scripted crash; under a running session model the peer then follows its down time. */
static void churn_crash(struct churn *c, uint32_t peer)
{
    bool follow = c->model == SCENARIO_CHURN_SESSIONS && c->sessions_on;
    if (follow) {
        sim_cancel(c->e, c->peers[peer].pending);
        c->peers[peer].pending = 0;
    }
    churn_take_down(c, peer, false);
    if (follow)
        churn_plan(c, peer, false);
}

/* Crashes round(fraction x live) of the live peers, chosen uniformly: a partial Fisher-Yates
 * shuffle of the live indexes (listed in index order) picks them all before any is crashed. */
static void churn_fail(struct churn *c, double fraction)
{
    uint32_t *live = g_new(uint32_t, MAX(c->max_peers, 1));
    uint32_t n_live = 0;
    for (uint32_t p = 0; p < c->max_peers; p++)
        if (churn_is_up(c, p))
            live[n_live++] = p;
    double want = round(fraction * n_live);
    uint32_t n = want <= 0 ? 0 : want >= n_live ? n_live : (uint32_t)want;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = i + (uint32_t)sim_rng_below(&c->rng, n_live - i);
        uint32_t t = live[i];
        live[i] = live[j];
        live[j] = t;
    }
    for (uint32_t i = 0; i < n; i++)
        churn_crash(c, live[i]);
    g_free(live);
}

static void churn_crowd_arrive(void *arg);

/* Draws the next arrival: the smallest of the remaining r uniforms on (x, 1) is
 * 1 - (1 - x) v^(1/r), v uniform in (0, 1]. */
static void churn_crowd_next(struct churn_crowd *cw)
{
    if (cw->arrived == cw->count)
        return;
    struct churn *c = cw->c;
    double v = 1.0 - sim_rng_unit(&c->rng);
    cw->x = 1.0 - (1.0 - cw->x) * pow(v, 1.0 / (double)(cw->count - cw->arrived));
    env_time t = cw->at + (env_time)(cw->x * (double)cw->over);
    if (cw->over > 0 && t >= cw->at + cw->over)
        t = cw->at + cw->over - 1;
    cw->pending = sim_schedule_at(c->e, t, churn_crowd_arrive, cw);
}

static void churn_crowd_arrive(void *arg)
{
    struct churn_crowd *cw = arg;
    struct churn *c = cw->c;
    cw->pending = 0;
    uint32_t peer = cw->first + cw->arrived++;
    churn_bring_up(c, peer);
    if (c->model == SCENARIO_CHURN_SESSIONS && c->sessions_on)
        churn_plan(c, peer, churn_is_up(c, peer));
    churn_crowd_next(cw);
}

static void churn_script_run(struct churn *c, const struct scenario_event *ev)
{
    switch (ev->action) {
    case SCENARIO_EVENT_FAIL:
        churn_fail(c, ev->fraction);
        break;
    case SCENARIO_EVENT_PARTITION:
        c->hooks.partition(c->hooks.ud, ev->groups);
        break;
    case SCENARIO_EVENT_HEAL:
        c->hooks.partition(c->hooks.ud, 0);
        break;
    case SCENARIO_EVENT_FLASH_CROWD:
        g_assert(c->next_crowd < c->n_crowds);
        churn_crowd_next(&c->crowds[c->next_crowd++]);
        break;
    }
}

/* The scripted-event cursor: runs every event that is due, in order, then waits for the next. */
static void churn_script_next(void *arg)
{
    struct churn *c = arg;
    c->event_pending = 0;
    env_time now = sim_now(c->e);
    while (c->next_event < c->n_events && c->events[c->next_event].at <= now)
        churn_script_run(c, &c->events[c->next_event++]);
    if (c->next_event < c->n_events)
        c->event_pending = sim_schedule_at(c->e, c->events[c->next_event].at, churn_script_next, c);
}

/* ---- trace replay --------------------------------------------------------------------------- */

static void churn_trace_next(void *arg)
{
    struct churn *c = arg;
    c->move_pending = 0;
    env_time now = sim_now(c->e);
    const struct churn_move *m = (const struct churn_move *)c->moves->data;
    for (; c->next_move < c->moves->len && m[c->next_move].at <= now; c->next_move++) {
        uint32_t peer = m[c->next_move].peer;
        if (m[c->next_move].up)
            churn_bring_up(c, peer);
        else if (churn_is_up(c, peer))
            churn_take_down(c, peer, churn_draw_graceful(c));
    }
    if (c->next_move < c->moves->len)
        c->move_pending = sim_schedule_at(c->e, m[c->next_move].at, churn_trace_next, c);
}

/* ---- reading a trace ------------------------------------------------------------------------ */

G_GNUC_PRINTF(5, 6)
static bool churn_trace_fail(GError **err, const char *path, unsigned line, unsigned col,
                             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE, "%s:%u:%u: churn.trace: %s", path, line,
                col, msg);
    g_free(msg);
    return false;
}

static const struct {
    const char *name;
    env_time us;
} churn_units[] = {
    {"h", 3600 * ENV_S}, {"m", 60 * ENV_S}, {"s", ENV_S}, {"ms", ENV_MS}, {"us", 1},
};

/* TIME: digits, an optional fraction, an optional unit us|ms|s|m|h (none: seconds), as the
 * scenario's durations; rounded to the microsecond.  Returns false when malformed or too
 * large for env_time. */
static bool churn_parse_time(const char *s, size_t n, env_time *out)
{
    const char *p = s, *end = s + n;
    uint64_t whole = 0;
    bool overflow = false, digits = false;
    for (; p < end && g_ascii_isdigit(*p); p++, digits = true) {
        overflow |= whole > (UINT64_MAX - 9) / 10;
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    double frac = 0, scale = 0.1;
    if (p < end && *p == '.')
        for (p++; p < end && g_ascii_isdigit(*p); p++, digits = true, scale /= 10)
            frac += (*p - '0') * scale;
    if (!digits)
        return false;
    env_time unit = p == end ? ENV_S : 0;
    for (size_t i = 0; i < G_N_ELEMENTS(churn_units) && !unit; i++)
        if ((size_t)(end - p) == strlen(churn_units[i].name) &&
            memcmp(p, churn_units[i].name, (size_t)(end - p)) == 0)
            unit = churn_units[i].us;
    if (!unit)
        return false;
    overflow |= whole > UINT64_MAX / unit;
    env_time us = whole * unit;
    env_time part = (env_time)llround(frac * (double)unit);
    overflow |= us > UINT64_MAX - part;
    *out = us + part;
    return !overflow;
}

struct churn_token {
    const char *s;
    size_t n;
    unsigned col;
};

/* Parses one line (without its '\n') into c->moves. */
static bool churn_trace_line(struct churn *c, const char *path, unsigned line, const char *s,
                             const char *end, GError **err)
{
    struct churn_token tok[4];
    unsigned n = 0;
    const char *p = s;
    while (n < G_N_ELEMENTS(tok)) {
        while (p < end && g_ascii_isspace(*p))
            p++;
        if (p == end || *p == '#')
            break;
        tok[n].s = p;
        tok[n].col = (unsigned)(p - s) + 1;
        while (p < end && !g_ascii_isspace(*p) && *p != '#')
            p++;
        tok[n].n = (size_t)(p - tok[n].s);
        n++;
    }
    if (n == 0)
        return true;
    /* Fields are checked left to right, so the first problem on the line is the one named. */
    struct churn_move m = {.line = line};
    if (!churn_parse_time(tok[0].s, tok[0].n, &m.at))
        return churn_trace_fail(err, path, line, tok[0].col,
                                "'%.*s' is not a time (expected a non-negative duration such as "
                                "12.5s, 250ms, 2m, 1h or plain seconds)",
                                (int)tok[0].n, tok[0].s);
    unsigned after = (unsigned)(tok[n - 1].s + tok[n - 1].n - s) + 1;
    if (n == 1)
        return churn_trace_fail(err, path, line, after,
                                "missing peer index and action (a line is TIME PEER up|down)");

    uint64_t peer = 0; /* saturates above UINT32_MAX: still out of range */
    bool digits = true;
    for (size_t i = 0; i < tok[1].n; i++) {
        digits &= g_ascii_isdigit(tok[1].s[i]) != 0;
        if (peer <= UINT32_MAX)
            peer = peer * 10 + (uint64_t)(tok[1].s[i] - '0');
    }
    if (!digits)
        return churn_trace_fail(err, path, line, tok[1].col,
                                "'%.*s' is not a peer index (expected 0..%u)", (int)tok[1].n,
                                tok[1].s, c->initial - 1);
    if (peer >= c->initial)
        return churn_trace_fail(err, path, line, tok[1].col,
                                "peer %.*s is out of range (the scenario has %u peers: 0..%u)",
                                (int)tok[1].n, tok[1].s, c->initial, c->initial - 1);
    m.peer = (uint32_t)peer;
    if (n == 2)
        return churn_trace_fail(err, path, line, after,
                                "missing action after the peer index (expected 'up' or 'down')");

    if (tok[2].n == 2 && memcmp(tok[2].s, "up", 2) == 0)
        m.up = true;
    else if (!(tok[2].n == 4 && memcmp(tok[2].s, "down", 4) == 0))
        return churn_trace_fail(err, path, line, tok[2].col,
                                "'%.*s' is not an action (expected 'up' or 'down')", (int)tok[2].n,
                                tok[2].s);
    if (n == 4)
        return churn_trace_fail(err, path, line, tok[3].col,
                                "unexpected '%.*s' after the action (a line is TIME PEER "
                                "up|down)",
                                (int)tok[3].n, tok[3].s);
    g_array_append_val(c->moves, m);
    return true;
}

static int churn_move_cmp(const void *a, const void *b)
{
    const struct churn_move *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static bool churn_trace_load(struct churn *c, const struct scenario *sc, GError **err)
{
    if (!sc->churn.trace || !sc->churn.trace[0]) {
        g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE,
                    "%s: churn.trace: a trace file is required when churn.model is 'trace'",
                    sc->file);
        return false;
    }
    char *path = scenario_data_path(sc, sc->churn.trace);
    char *buf = NULL;
    gsize len = 0;
    GError *ferr = NULL;
    if (!g_file_get_contents(path, &buf, &len, &ferr)) {
        g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_IO, "%s: churn.trace: %s", sc->file,
                    ferr->message);
        g_error_free(ferr);
        g_free(path);
        return false;
    }
    c->moves = g_array_new(FALSE, FALSE, sizeof(struct churn_move));
    bool ok = true;
    unsigned line = 1;
    for (const char *p = buf, *end = buf + len; ok && p < end; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        const char *nul = memchr(p, '\0', (size_t)(eol - p));
        if (nul)
            ok = churn_trace_fail(err, path, line, (unsigned)(nul - p) + 1,
                                  "a NUL byte (is this a text file?)");
        else
            ok = churn_trace_line(c, path, line, p, eol, err);
        p = eol + 1;
    }
    g_free(buf);
    g_free(path);
    if (!ok)
        return false;

    if (c->moves->len)
        qsort(c->moves->data, c->moves->len, sizeof(struct churn_move), churn_move_cmp);
    c->starts_down = g_new0(uint8_t, c->initial / 8 + 1);
    uint8_t *seen = g_new0(uint8_t, c->initial / 8 + 1);
    const struct churn_move *m = (const struct churn_move *)c->moves->data;
    for (guint i = 0; i < c->moves->len; i++) {
        uint32_t p = m[i].peer;
        uint8_t bit = (uint8_t)(1u << (p % 8));
        if (seen[p / 8] & bit)
            continue;
        seen[p / 8] |= bit;
        if (m[i].up)
            c->starts_down[p / 8] |= bit;
    }
    g_free(seen);
    return true;
}

/* ---- building ------------------------------------------------------------------------------- */

static bool churn_dists(struct churn *c, const struct scenario *sc, GError **err)
{
    if (!dist_init(&c->session, &sc->churn.session, err)) {
        g_prefix_error(err, "%s: churn.session: ", sc->file);
        return false;
    }
    if (!dist_init(&c->downtime, &sc->churn.downtime, err)) {
        g_prefix_error(err, "%s: churn.downtime: ", sc->file);
        return false;
    }
    return true;
}

/* Copies churn.events sorted by time, file order on ties (insertion sort: stable, and the
 * loader already sorts, so this is one pass), and lays out the flash crowds. */
static bool churn_script(struct churn *c, const struct scenario *sc, GError **err)
{
    const GArray *evs = sc->churn.events;
    c->n_events = evs ? evs->len : 0;
    c->events = g_new(struct scenario_event, MAX(c->n_events, 1));
    for (guint i = 0; i < c->n_events; i++) {
        struct scenario_event ev = g_array_index(evs, struct scenario_event, i);
        guint j = i;
        for (; j > 0 && c->events[j - 1].at > ev.at; j--)
            c->events[j] = c->events[j - 1];
        c->events[j] = ev;
    }
    for (guint i = 0; i < c->n_events; i++)
        c->n_crowds += c->events[i].action == SCENARIO_EVENT_FLASH_CROWD;
    c->crowds = g_new0(struct churn_crowd, MAX(c->n_crowds, 1));
    uint64_t next = c->initial;
    guint k = 0;
    for (guint i = 0; i < c->n_events; i++) {
        const struct scenario_event *ev = &c->events[i];
        if (ev->action != SCENARIO_EVENT_FLASH_CROWD)
            continue;
        c->crowds[k++] = (struct churn_crowd){
            .c = c, .first = (uint32_t)next, .count = ev->peers, .at = ev->at, .over = ev->over};
        next += ev->peers;
        if (next > UINT32_MAX) {
            g_set_error(err, SCENARIO_ERROR, SCENARIO_ERROR_VALUE,
                        "%s: churn.events: the flash crowds add too many peers (%" G_GUINT64_FORMAT
                        " in all)",
                        sc->file, next);
            return false;
        }
    }
    c->max_peers = (uint32_t)next;
    return true;
}

struct churn *churn_new(const struct scenario *sc, struct sim_engine *e, uint32_t initial_peers,
                        const struct churn_hooks *hooks, uint64_t seed, GError **err)
{
    g_assert(hooks && hooks->up && hooks->down && hooks->is_up && hooks->partition);
    struct churn *c = g_new0(struct churn, 1);
    c->e = e;
    c->hooks = *hooks;
    sim_rng_init(&c->rng, seed, CHURN_STREAM);
    c->model = sc->churn.model;
    c->graceful = sc->churn.graceful;
    c->start = sc->churn.start;
    c->initial = initial_peers;
    bool ok = churn_script(c, sc, err);
    if (ok && c->model == SCENARIO_CHURN_SESSIONS)
        ok = churn_dists(c, sc, err);
    if (ok && c->model == SCENARIO_CHURN_TRACE)
        ok = churn_trace_load(c, sc, err);
    if (!ok) {
        churn_free(c);
        return NULL;
    }
    if (c->model == SCENARIO_CHURN_SESSIONS) {
        c->peers = g_new(struct churn_peer, MAX(c->max_peers, 1));
        for (uint32_t p = 0; p < c->max_peers; p++)
            c->peers[p] = (struct churn_peer){.c = c};
    }
    return c;
}

void churn_free(struct churn *c)
{
    if (!c)
        return;
    sim_cancel(c->e, c->sessions_pending);
    sim_cancel(c->e, c->move_pending);
    sim_cancel(c->e, c->event_pending);
    for (guint i = 0; i < c->n_crowds; i++)
        sim_cancel(c->e, c->crowds[i].pending);
    if (c->peers)
        for (uint32_t p = 0; p < c->max_peers; p++)
            sim_cancel(c->e, c->peers[p].pending);
    g_free(c->peers);
    if (c->moves)
        g_array_unref(c->moves);
    g_free(c->starts_down);
    g_free(c->events);
    g_free(c->crowds);
    g_free(c);
}

uint32_t churn_max_peers(const struct churn *c)
{
    return c->max_peers;
}

bool churn_initially_up(const struct churn *c, uint32_t peer)
{
    if (peer >= c->initial)
        return false;
    return !(c->starts_down && c->starts_down[peer / 8] & (1u << (peer % 8)));
}

void churn_start(struct churn *c)
{
    g_assert(!c->started);
    c->started = true;
    if (c->n_events)
        c->event_pending = sim_schedule_at(c->e, c->events[0].at, churn_script_next, c);
    if (c->model == SCENARIO_CHURN_TRACE && c->moves->len)
        c->move_pending = sim_schedule_at(c->e, g_array_index(c->moves, struct churn_move, 0).at,
                                          churn_trace_next, c);
    if (c->model == SCENARIO_CHURN_SESSIONS)
        c->sessions_pending = sim_schedule_at(c->e, c->start, churn_sessions_begin, c);
}

uint64_t churn_leaves(const struct churn *c)
{
    return c->leaves;
}

uint64_t churn_crashes(const struct churn *c)
{
    return c->crashes;
}

uint64_t churn_joins(const struct churn *c)
{
    return c->joins;
}
