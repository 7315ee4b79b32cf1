/* SPDX-License-Identifier: GPL-2.0 */
/* Command-line arguments more than one command takes: a VMM's pid. */
#ifndef KHO_TOOL_ARGS_H
#define KHO_TOOL_ARGS_H

#include <sys/types.h>

/*
 * parse_pid_arg() - @arg of `CMD --pid` as a process id into *@pid; on
 * failure says so on stderr as "kho-tool CMD: --pid 'ARG': not a process
 * id", @cmd naming the command.
 * Return: 0 or -EINVAL.
 */
int parse_pid_arg(const char *cmd, const char *arg, pid_t *pid);

#endif /* KHO_TOOL_ARGS_H */
