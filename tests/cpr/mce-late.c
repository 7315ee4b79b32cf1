// SPDX-License-Identifier: GPL-2.0
/*
 * LD_PRELOAD shim for 110's poisoned-RAM test: QEMU asks the kernel for
 * early memory-failure kills (prctl(PR_MCE_KILL, PR_MCE_KILL_SET,
 * PR_MCE_KILL_EARLY) in qemu_init_sigbus()), so a failure on any page of
 * its guest RAM sends it SIGBUS BUS_MCEERR_AO at once.  Under KVM it
 * forwards that to the guest as a machine check and runs on; under TCG,
 * the rig's only accelerator, QEMU 11.1.3 aborts ("qemu_mutex_lock_impl:
 * Assertion `mutex->initialized' failed", observed 2026-12-07).  With
 * this shim the request is declined, the kernel's default (late kill)
 * applies, and a QEMU whose guest never touches the page runs on with it
 * poisoned: the state kho-tool must refuse to carry.
 */
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int prctl(int option, ...)
{
	unsigned long a[4];
	va_list ap;
	int i;

	va_start(ap, option);
	for (i = 0; i < 4; i++)
		a[i] = va_arg(ap, unsigned long);
	va_end(ap);
	if (option == PR_MCE_KILL && a[0] == PR_MCE_KILL_SET)
		return 0;
	return (int)syscall(SYS_prctl, option, a[0], a[1], a[2], a[3]);
}
