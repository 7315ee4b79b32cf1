// SPDX-License-Identifier: GPL-2.0
/*
 * The L2 guest of the cpr-transfer tests: a bare-metal multiboot program
 * (QEMU -kernel loads it; no firmware setup beyond SeaBIOS) that fills
 * PATTERN_LEN bytes of its RAM with a pattern derived from each word's
 * address, then loops forever printing "hb N ok" on COM1, re-checking the
 * whole pattern before every line.  A hand-off that loses RAM prints
 * "hb N BAD ..."; one that reboots the guest prints "L2 boot" again and
 * restarts N at 1.  Everything it needs is in RAM and CPU state, which is
 * what a migration carries.
 */
#include <stdint.h>

#define COM1 0x3f8
#define PATTERN_BASE 0x1000000u	/* 16 MiB: above the program and stack */
#define PATTERN_LEN (4u << 20)
#define SEED 0x5a17c0deu

__attribute__((section(".multiboot"), used, aligned(4)))
static const uint32_t mb_header[3] = {
	0x1badb002, 0, -(0x1badb002u + 0),
};

extern uint8_t payload_stack[16384];
uint8_t payload_stack[16384] __attribute__((aligned(16)));
static volatile uint32_t heartbeat;

void _start(void);
void payload_main(const uint32_t *mbi);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void putc_serial(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, c);
}

static void puts_serial(const char *s)
{
	while (*s)
		putc_serial(*s++);
}

static void putu(uint32_t v, int base)
{
	char buf[12];
	int i = 0;

	do {
		buf[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (i)
		putc_serial(buf[--i]);
}

static uint32_t pattern_word(uint32_t addr)
{
	uint32_t x = addr ^ SEED;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

/* Returns the first wrong address, or 0 when the pattern is intact. */
static uint32_t pattern_check(void)
{
	volatile uint32_t *p = (volatile uint32_t *)PATTERN_BASE;
	uint32_t i;

	for (i = 0; i < PATTERN_LEN / 4; i++)
		if (p[i] != pattern_word(PATTERN_BASE + i * 4))
			return PATTERN_BASE + i * 4;
	return 0;
}

/*
 * "idle" on the command line (QEMU -append): one heartbeat, then halt
 * with interrupts off.  The many-VMM bench (bench/vmms-vm.sh) runs 16 of
 * these in one L1 vCPU: 16 busy loops would leave the toolkit no CPU to
 * be measured on.  A halted vCPU's state migrates like a running one's.
 */
static int idle_requested(const uint32_t *mbi)
{
	const char *c;

	if (!mbi || !(mbi[0] & (1u << 2)))	/* MULTIBOOT_INFO_CMDLINE */
		return 0;
	for (c = (const char *)(uintptr_t)mbi[4]; *c; c++)
		if (c[0] == 'i' && c[1] == 'd' && c[2] == 'l' && c[3] == 'e')
			return 1;
	return 0;
}

void payload_main(const uint32_t *mbi)
{
	volatile uint32_t *p = (volatile uint32_t *)PATTERN_BASE;
	int idle = idle_requested(mbi);
	uint32_t i, bad;

	for (i = 0; i < PATTERN_LEN / 4; i++)
		p[i] = pattern_word(PATTERN_BASE + i * 4);
	puts_serial("L2 boot: pattern 0x");
	putu(PATTERN_LEN, 16);
	puts_serial(" bytes at 0x");
	putu(PATTERN_BASE, 16);
	puts_serial("\n");
	for (;;) {
		heartbeat++;
		bad = pattern_check();
		puts_serial("hb ");
		putu(heartbeat, 10);
		if (bad) {
			puts_serial(" BAD at 0x");
			putu(bad, 16);
			puts_serial("\n");
		} else {
			puts_serial(" ok\n");
		}
		if (idle) {
			puts_serial("idle\n");
			for (;;)
				__asm__ volatile("cli; hlt");
		}
		for (i = 0; i < 10000000; i++)
			__asm__ volatile("" ::: "memory");
	}
}

__asm__(".text\n"
	".globl _start\n"
	"_start:\n"
	"	mov $payload_stack + 16384, %esp\n"
	"	push %ebx\n"		/* the multiboot information */
	"	call payload_main\n"
	"1:	hlt\n"
	"	jmp 1b\n");
