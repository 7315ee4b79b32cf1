#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# dracut pre-mount hook of the kho-tool module: start the restore-agent when
# this boot came through a live update.  dracut sources hooks into its own
# shell, so this one runs the start script as a child and never exits.
if [ -e /dev/liveupdate ]; then
	echo "kho-tool: starting the restore-agent (dracut pre-mount)"
	if command -v bash >/dev/null 2>&1; then
		bash /usr/lib/kho-tool/init.d/10-restore-agent
	else
		/usr/lib/kho-tool/init.d/10-restore-agent
	fi ||
		echo "kho-tool: restore-agent start script exited with status $?" >&2
fi
