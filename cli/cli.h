/* cli.h — entry points of the `p2psip` sub-commands, dispatched from cli/main.c.
 * Each takes the sub-command's own argv (argv[0] is the sub-command name) and returns the
 * process exit code: 0 success, 1 "not found" (fetch), 2 usage or scenario error,
 * 3 failed expectations (reserved for sim).
 */
#ifndef P2PSIP_CLI_H
#define P2PSIP_CLI_H

int sim_cli_main(int argc, char **argv);   /* sim/cli.c */
int net_cli_peer(int argc, char **argv);   /* net/cli.c */
int net_cli_store(int argc, char **argv);  /* net/cli.c */
int net_cli_fetch(int argc, char **argv);  /* net/cli.c */
int net_cli_bootstrap_server(int argc, char **argv); /* net/bootserver.c */
int plot_cli_main(int argc, char **argv);  /* analysis/plot.c */
int compare_cli_main(int argc, char **argv); /* analysis/compare.c */
int sec_cli_ca(int argc, char **argv);     /* sec/cli.c */

#endif
