/*
 * Reset entry for qemu-system-xtensa -M sim -cpu lx106: the core starts at
 * the reset vector, the start of sysrom (0x50000000, where xt.ld puts this).
 * call0 ABI (lx106 has no register windows): a stack, then xt_main().
 */
	.section .entry, "ax"
	.global _start
	.align 4
_start:
	j	1f
	.align 4
.Lstack:
	.word	__stack_top
.Lmain:
	.word	xt_main
1:
	l32r	a1, .Lstack
	l32r	a0, .Lmain
	callx0	a0
2:
	j	2b
