/*
 * What the Xtensa build of napt_bench needs around it under
 * qemu-system-xtensa -M sim -semihosting: output and exit by simcall,
 * stdio for picolibc, the arguments compiled in (XT_ARGS), and the integer
 * division helpers Debian's lx106 libgcc lacks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* qemu's Xtensa semihosting: call number in a2, arguments in a3..a5, result in a2. */
static int simcall(int nr, int a, int b, int c)
{
	register int a2 __asm__("a2") = nr;
	register int a3 __asm__("a3") = a;
	register int a4 __asm__("a4") = b;
	register int a5 __asm__("a5") = c;
	__asm__ volatile("simcall" : "+r"(a2) : "r"(a3), "r"(a4), "r"(a5) : "memory");
	return a2;
}

#define SYS_EXIT 1
#define SYS_WRITE 4

static char outbuf[256];
static unsigned outlen;

static void flush_out(void)
{
	if (outlen)
		simcall(SYS_WRITE, 1, (int)(intptr_t)outbuf, (int)outlen);
	outlen = 0;
}

static int xt_putc(char c, FILE *f)
{
	(void)f;
	outbuf[outlen++] = c;
	if (c == '\n' || outlen == sizeof(outbuf))
		flush_out();
	return (unsigned char)c;
}

static FILE xt_stdio = FDEV_SETUP_STREAM(xt_putc, NULL, NULL, _FDEV_SETUP_WRITE);
FILE *const stdin = &xt_stdio;
FILE *const stdout = &xt_stdio;
FILE *const stderr = &xt_stdio;

void _exit(int code)
{
	flush_out();
	simcall(SYS_EXIT, code, 0, 0);
	for (;;)
		;
}

int main(int argc, char **argv);

void xt_main(void)
{
	static char *argv[] = { "napt_bench", XT_ARGS, NULL };
	exit(main((int)(sizeof(argv) / sizeof(argv[0]) - 1), argv));
}

/* Shift-and-subtract division: the helpers gcc calls where the core has no divider. */
static uint32_t udivmod(uint32_t n, uint32_t d, uint32_t *rem)
{
	uint32_t q = 0, r = 0;
	for (int i = 31; i >= 0; i--) {
		r = r << 1 | ((n >> i) & 1u);
		if (r >= d) {
			r -= d;
			q |= 1u << i;
		}
	}
	*rem = r;
	return q;
}

uint32_t __udivsi3(uint32_t n, uint32_t d);
uint32_t __umodsi3(uint32_t n, uint32_t d);
int32_t __divsi3(int32_t n, int32_t d);
int32_t __modsi3(int32_t n, int32_t d);

uint32_t __udivsi3(uint32_t n, uint32_t d)
{
	uint32_t r;
	return udivmod(n, d, &r);
}

uint32_t __umodsi3(uint32_t n, uint32_t d)
{
	uint32_t r;
	udivmod(n, d, &r);
	return r;
}

int32_t __divsi3(int32_t n, int32_t d)
{
	uint32_t r, q = udivmod(n < 0 ? -(uint32_t)n : (uint32_t)n, d < 0 ? -(uint32_t)d : (uint32_t)d, &r);
	return (n < 0) != (d < 0) ? -(int32_t)q : (int32_t)q;
}

int32_t __modsi3(int32_t n, int32_t d)
{
	uint32_t r;
	udivmod(n < 0 ? -(uint32_t)n : (uint32_t)n, d < 0 ? -(uint32_t)d : (uint32_t)d, &r);
	return n < 0 ? -(int32_t)r : (int32_t)r;
}

/* 64-bit: the table's counters and printf's long long. */
uint64_t __muldi3(uint64_t a, uint64_t b);
uint64_t __udivdi3(uint64_t n, uint64_t d);
uint64_t __umoddi3(uint64_t n, uint64_t d);

uint64_t __muldi3(uint64_t a, uint64_t b)
{
	uint64_t r = 0;
	while (b) {
		if (b & 1u)
			r += a;
		a <<= 1;
		b >>= 1;
	}
	return r;
}

static uint64_t udivmod64(uint64_t n, uint64_t d, uint64_t *rem)
{
	uint64_t q = 0, r = 0;
	for (int i = 63; i >= 0; i--) {
		r = r << 1 | ((n >> i) & 1u);
		if (r >= d) {
			r -= d;
			q |= (uint64_t)1 << i;
		}
	}
	*rem = r;
	return q;
}

uint64_t __udivdi3(uint64_t n, uint64_t d)
{
	uint64_t r;
	return udivmod64(n, d, &r);
}

uint64_t __umoddi3(uint64_t n, uint64_t d)
{
	uint64_t r;
	udivmod64(n, d, &r);
	return r;
}

/* abort() raises SIGABRT: there is no process, only an exit code. */
int getpid(void);
int kill(int pid, int sig);

int getpid(void)
{
	return 1;
}

int kill(int pid, int sig)
{
	(void)pid;
	_exit(128 + sig);
	return -1;
}
