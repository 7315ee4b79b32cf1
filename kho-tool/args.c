// SPDX-License-Identifier: GPL-2.0
/* Command-line parsing the commands share: one getopt_long() loop. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"

/* Long options with no one-letter form get a value above any char. */
#define ARG_LONG_ONLY 0x100
#define ARG_MAX 16

int parse_args(const char *cmd, int argc, char **argv,
	       const struct arg_opt *opts, int operands,
	       int (*usage)(FILE *out, int code))
{
	struct option longopts[ARG_MAX + 2];
	char shortopts[2 * ARG_MAX + 2];
	size_t i, n = 0, s = 0;
	int c;

	for (i = 0; opts[i].name; i++) {
		if (i == ARG_MAX)
			abort();	/* a command table bug */
		longopts[i] = (struct option){
			opts[i].name,
			opts[i].kind == ARG_FLAG ? no_argument :
						   required_argument,
			NULL,
			opts[i].short_name ? opts[i].short_name :
					     ARG_LONG_ONLY + (int)i,
		};
		if (opts[i].short_name) {
			shortopts[s++] = opts[i].short_name;
			if (opts[i].kind != ARG_FLAG)
				shortopts[s++] = ':';
		}
	}
	n = i;
	longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };
	shortopts[s++] = 'h';
	shortopts[s] = '\0';

	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct arg_opt *o = NULL;

		if (c == 'h')
			return usage(stdout, KHO_EXIT_OK);
		for (i = 0; opts[i].name && !o; i++)
			if (c == opts[i].short_name ||
			    c == ARG_LONG_ONLY + (int)i)
				o = &opts[i];
		if (!o)
			return usage(stderr, KHO_EXIT_USAGE);
		switch (o->kind) {
		case ARG_FLAG:
			*(bool *)o->dst = true;
			break;
		case ARG_STRING:
			*(const char **)o->dst = optarg;
			break;
		case ARG_PID:
			if (parse_pid_arg(cmd, optarg, o->dst))
				return KHO_EXIT_USAGE;
			break;
		}
	}
	if (operands >= 0 && argc - optind != operands)
		return usage(stderr, KHO_EXIT_USAGE);
	return -1;
}

int parse_pid_arg(const char *cmd, const char *arg, pid_t *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || *end || end == arg || v <= 0 || v > 0x7fffffff) {
		fprintf(stderr, "kho-tool %s: --pid '%s': not a process id\n",
			cmd, arg);
		return -EINVAL;
	}
	*pid = v;
	return 0;
}
