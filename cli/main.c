/* main.c — the `p2psip` command: dispatches to the simulator (sim/cli.c) and to the real
 * peer and its client commands (net/cli.c). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifndef P2PSIP_VERSION
#define P2PSIP_VERSION "0.1.0"
#endif

static const char usage[] =
    "p2psip " P2PSIP_VERSION " — a P2PSIP overlay simulator and reference RELOAD peer\n"
    "\n"
    "Usage: p2psip COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  sim SCENARIO.yaml [--seed N] [--set KEY=VALUE]... [--out DIR] [--pcap FILE]\n"
    "      [--jobs N] [--run K] [--collect] [--emit slurm|parallel] [--quiet]\n"
    "        run a discrete-event experiment (or a sweep) described by a YAML scenario\n"
    "  peer --listen ADDR:PORT [--bootstrap ADDR:PORT] [--cache FILE] [--discover]\n"
    "       [--announce] [--bootstrap-server ADDR:PORT] [--sip ADDR:PORT]\n"
    "        run one RELOAD peer over UDP until SIGINT/SIGTERM (then leave cleanly);\n"
    "        with --sip also the SIP proxy/registrar of phones on that UDP address\n"
    "  bootstrap-server --listen ADDR:PORT --peer ADDR:PORT...\n"
    "        relay joining peers' first messages to a bootstrap peer (not itself a peer)\n"
    "  store --peer ADDR:PORT NAME VALUE\n"
    "        store VALUE under NAME in the overlay through a running peer\n"
    "  fetch --peer ADDR:PORT NAME\n"
    "        print the value stored under NAME (exit 0), or exit 1 when there is none\n"
    "  plot RUN_DIR...\n"
    "        (re)render a run's or a sweep's gnuplot figures (PNG and SVG)\n"
    "  compare RUN_DIR...\n"
    "        print runs' summaries side by side and write overlaid plots\n"
    "  ca init|enroll|self-sign|show|sign-config|verify-config ...\n"
    "        the overlay certificate authority: make a CA, enroll users, show certificates,\n"
    "        sign and check overlay configuration documents\n"
    "\n"
    "Run 'p2psip COMMAND --help' for a command's options.\n"
    "Exit codes: 0 success, 1 not found, 2 usage or scenario error, 3 failed expectations.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        puts("p2psip " P2PSIP_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "sim"))
        return sim_cli_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "peer"))
        return net_cli_peer(argc - 1, argv + 1);
    if (!strcmp(cmd, "store"))
        return net_cli_store(argc - 1, argv + 1);
    if (!strcmp(cmd, "fetch"))
        return net_cli_fetch(argc - 1, argv + 1);
    if (!strcmp(cmd, "bootstrap-server"))
        return net_cli_bootstrap_server(argc - 1, argv + 1);
    if (!strcmp(cmd, "plot"))
        return plot_cli_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "compare"))
        return compare_cli_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "ca"))
        return sec_cli_ca(argc - 1, argv + 1);
    fprintf(stderr, "p2psip: unknown command '%s'\n\n%s", cmd, usage);
    return 2;
}
