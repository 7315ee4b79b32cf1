// SPDX-License-Identifier: GPL-2.0
/*
 * libkho-idle-thread.so: preloaded into the bare runs of
 * bench/recorder-vm.sh as "bare+thread".  It only starts one thread that
 * sleeps forever, as the recorder's socket server thread does.
 *
 * Why: in a single-threaded process the kernel's fdget() takes no
 * reference on the file (its fd table is not shared), and a second
 * thread ends that for every ioctl.  Measured, that alone costs ~100
 * guest instructions per MAP/UNMAP pair.  A real VMM has vCPU and I/O
 * threads and pays it bare already; kho-rec-probe is single-threaded.
 * So the bench shows the recorder against both baselines.
 */
#include <pthread.h>
#include <unistd.h>

static void *idle_thread(void *unused)
{
	for (;;)
		pause();
	return unused;
}

__attribute__((constructor)) static void idle_thread_start(void)
{
	pthread_t t;

	pthread_create(&t, NULL, idle_thread, NULL);
}
