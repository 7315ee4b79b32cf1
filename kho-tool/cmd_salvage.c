// SPDX-License-Identifier: GPL-2.0
/*
 * kho-tool salvage: after a failed restore, save the guest RAM of the
 * held session to files by starting `restore-agent --salvage`.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "kho.h"

/* What a successful salvage's held status starts with (restore-agent). */
#define SALVAGED "held salvage: guest RAM saved to "

static int usage(FILE *out, int code)
{
	fprintf(out,
		"usage: kho-tool salvage DIR [--handoff FILE]\n"
		"  save every guest-RAM memfd of the kho-tool LUO session to\n"
		"  DIR/ram-<token>.raw (list in DIR/manifest), taking the session from\n"
		"  the restore-agent that failed and holds it, or retrieving it.  The\n"
		"  new agent keeps holding the session: a `restore-agent --retry` or\n"
		"  another salvage can follow.\n"
		"  --handoff FILE  the hand-off to read the memfd tokens from, when the\n"
		"                  preserved one is unreadable\n"
		"  The agent is $KHO_RESTORE_AGENT, /usr/lib/kho-tool/restore-agent, or\n"
		"  restore-agent in PATH.\n");
	return code;
}

static void exec_agent(char **args)
{
	const char *env = getenv("KHO_RESTORE_AGENT");

	if (env && *env)
		execv(env, args);
	else
		execv("/usr/lib/kho-tool/restore-agent", args);
	execvp("restore-agent", args);
}

int cmd_salvage(int argc, char **argv)
{
	const char *handoff = NULL, *dir;
	const struct arg_opt opts[] = {
		{ "handoff", 0, ARG_STRING, &handoff },
		{ NULL },
	};
	char *args[8], status[800];
	int p[2], n = 0, st;
	size_t len = 0;
	ssize_t r;
	pid_t pid;

	st = parse_args("salvage", argc, argv, opts, 1, usage);
	if (st >= 0)
		return st;
	dir = argv[optind];
	/* The agent's first status past "running" tells how it went. */
	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "kho-tool salvage: pipe: %s\n", strerror(errno));
		return KHO_EXIT_FAILED;
	}
	args[n++] = "restore-agent";
	args[n++] = "--salvage";
	args[n++] = (char *)dir;
	args[n++] = "--notify-fd";
	args[n++] = "3";
	if (handoff) {
		args[n++] = "--handoff";
		args[n++] = (char *)handoff;
	}
	args[n] = NULL;
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "kho-tool salvage: fork: %s\n", strerror(errno));
		return KHO_EXIT_FAILED;
	}
	if (pid == 0) {
		/* It outlives us, holding the session: its own session. */
		setsid();
		if (dup2(p[1], 3) < 0)
			_exit(127);
		exec_agent(args);
		fprintf(stderr, "kho-tool salvage: exec restore-agent: %s\n",
			strerror(errno));
		_exit(127);
	}
	close(p[1]);
	while (len < sizeof(status) - 1 &&
	       (r = read(p[0], status + len, sizeof(status) - 1 - len)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += r;
	}
	close(p[0]);
	status[len] = '\0';
	if (len && status[len - 1] == '\n')
		status[--len] = '\0';
	if (!strncmp(status, SALVAGED, strlen(SALVAGED))) {
		printf("kho-tool salvage: %s (agent pid %d holds the session)\n",
		       status + strlen("held "), (int)pid);
		return KHO_EXIT_OK;
	}
	/* No status at all: the agent died or never ran. */
	if (!len && waitpid(pid, &st, WNOHANG) == pid)
		snprintf(status, sizeof(status),
			 "restore-agent exited with status %d before reporting",
			 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	fprintf(stderr, "kho-tool salvage: guest RAM not saved to %s: %s\n",
		dir, len || status[0] ? status : "restore-agent reported nothing");
	return KHO_EXIT_FAILED;
}
