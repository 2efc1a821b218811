/* The subcommands.  Each lives in its own cmd_NAME.c and returns the process exit code
 * (LC_EXIT_*).  argv[0] is the subcommand's name. */
#ifndef LABCTL_CMDS_H
#define LABCTL_CMDS_H

int cmd_check(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_ss(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_ladder(int argc, char **argv);
int cmd_impair(int argc, char **argv);
int cmd_step(int argc, char **argv);
int cmd_expect(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

/* True when argv holds -h or --help before a "--". */
int cmd_wants_help(int argc, char **argv);

#endif
