#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The guests' own health command of tests/vm/130's fleet (the playbook's
# kho_health_command): the test VMM's guest checked its RAM pattern and
# DMA after adopting, and, on the host the test made sick, a failure.
if [ -e /run/khotest/guest-sick ]; then
	echo "guest-health: the edu guest is unhealthy: $(cat /run/khotest/guest-sick)" >&2
	exit 1
fi
journalctl -b -o cat -u kho-vmm@edu.service --no-pager | grep -q 'DMA check passed' || {
	echo "guest-health: kho-vmm@edu's guest reported no DMA check on this boot" >&2
	exit 1
}
echo "guest-health: the edu guest's RAM and DMA are intact"
