/* graph.h — overlay snapshots as graphs (igraph): every peer's routing entries (neighbours
 * and fingers) as directed edges, written as GraphML, with connectivity metrics.
 *
 * graph_snapshot() computes weakly and strongly connected components, the diameter and the
 * mean shortest-path length (unweighted, directed, over reachable pairs; sampled from at most
 * `sources` source vertices on large graphs, documented in the output), and the in- and
 * out-degree distributions.  It writes DIR/graph-TAG.graphml and appends rows to
 * DIR/graph.tsv (long format: snapshot, time_s, metric, value) and DIR/degree.tsv (snapshot,
 * direction, degree, count).
 */
#ifndef P2PSIP_ANALYSIS_GRAPH_H
#define P2PSIP_ANALYSIS_GRAPH_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

struct graph_edges {
    uint32_t n_vertices; /* vertex i = peer index i */
    const uint8_t *alive; /* n_vertices flags: 1 when the peer is up (others are isolated) */
    size_t n_edges;
    const uint32_t *from, *to;
};

struct graph_metrics {
    uint32_t vertices, alive, edges;
    uint32_t weak_components, strong_components, largest_strong;
    double diameter;          /* longest shortest path (hops) in the largest strong component */
    double mean_path;         /* mean shortest path (hops) over reachable ordered pairs */
    uint32_t path_sources;    /* sources used for mean_path (all or a sample) */
    double in_degree_mean, out_degree_mean;
    uint32_t in_degree_max, out_degree_max;
};

/* Analyses one snapshot and writes the files; measured_hops_mean (< 0: unknown) is written
 * next to the graph's mean shortest path.  Returns FALSE and sets err on I/O errors. */
gboolean graph_snapshot(const char *dir, const char *tag, double time_s,
                        const struct graph_edges *g, double measured_hops_mean, uint32_t sources,
                        uint64_t seed, struct graph_metrics *out, GError **err);

#endif
