/* SPDX-License-Identifier: GPL-2.0 */
/* The kho-tool command table: one entry per command file in kho-tool/. */
#ifndef KHO_TOOL_COMMANDS_H
#define KHO_TOOL_COMMANDS_H

/* Exit codes shared by every command (see docs/man/kho-tool.8). */
enum {
	KHO_EXIT_OK = 0,	/* success */
	KHO_EXIT_FAILED = 1,	/* the operation failed, or the input is invalid */
	KHO_EXIT_USAGE = 2,	/* usage error, or the input cannot be read */
};

/* What a command needs before it can run; main.c checks it once. */
enum {
	KHO_NEEDS_ROOT = 1 << 0,
};

struct kho_cmd {
	const char *name;
	int (*run)(int argc, char **argv);	/* returns a KHO_EXIT_* code */
	unsigned int needs;
	const char *usage;	/* one line: arguments after the name */
	const char *summary;	/* one line: what it does */
};

int cmd_validate(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_journal(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_upgrade(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_salvage(int argc, char **argv);
int cmd_cpr_relay(int argc, char **argv);

#endif /* KHO_TOOL_COMMANDS_H */
