/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Command-line parsing the commands share: each command declares its
 * options in a table, and one getopt_long() loop fills them in, answers
 * --help and refuses a usage error the same way everywhere.
 */
#ifndef KHO_TOOL_ARGS_H
#define KHO_TOOL_ARGS_H

#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>	/* optind: the operands start at argv[optind] */

enum arg_kind {
	ARG_FLAG,	/* bool *: set when given */
	ARG_STRING,	/* const char **: the argument */
	ARG_PID,	/* pid_t *: the argument, parse_pid_arg()'d */
};

/* One option; a table of them ends with a NULL name. */
struct arg_opt {
	const char *name;	/* the long option, without "--" */
	char short_name;	/* its one-letter form, or 0 for none */
	enum arg_kind kind;
	void *dst;
};

/*
 * parse_args() - parse a command's options and count its operands
 * @cmd:      the command, as its messages name it ("validate")
 * @argc:     as the command got it
 * @argv:     as the command got it; the operands start at argv[optind]
 * @opts:     the options, besides --help/-h which every command takes
 * @operands: how many operands the command takes, or -1 for any number
 * @usage:    prints the command's usage to a stream, returns the code
 *
 * Return: -1 to go on; otherwise the exit code to return: KHO_EXIT_OK
 * after --help (usage on stdout), KHO_EXIT_USAGE after an unknown option,
 * a bad --pid or the wrong number of operands (usage on stderr).
 */
int parse_args(const char *cmd, int argc, char **argv,
	       const struct arg_opt *opts, int operands,
	       int (*usage)(FILE *out, int code));

/*
 * parse_pid_arg() - @arg of `CMD --pid` as a process id into *@pid; on
 * failure says so on stderr as "kho-tool CMD: --pid 'ARG': not a process
 * id", @cmd naming the command.
 * Return: 0 or -EINVAL.
 */
int parse_pid_arg(const char *cmd, const char *arg, pid_t *pid);

#endif /* KHO_TOOL_ARGS_H */
