// The guest's vDSO: clock_gettime, gettimeofday, time and clock_getres
// computed from the data page litebox keeps ([vvar], the page just below
// the image), and getcpu. Whatever it cannot answer from that page it asks
// the kernel with a real `syscall` instruction, which both platforms trap
// (this image is never in a stub's code page), so nothing here reaches the
// host kernel. Assembled and linked by `go generate ./kernel/vdso` (gen.go)
// into vdso.so; TestImageIsGenerated checks the two agree.
//
// The data page (kernel/vdso/clock.go writes it; the offsets are vv* there):
//   0  seq    even: stable; odd: being written (a seqlock)
//   8  mode   1: the TSC fields are valid; 0: every clock is a syscall
//  16  tsc    TSC value the bases were taken at
//  24  mult   nanoseconds per TSC tick, fixed point with 32 fraction bits
//  32  mono   CLOCK_MONOTONIC at tsc, in ns (the sandbox's boot is 0)
//  40  real   CLOCK_REALTIME at tsc, in ns since the epoch
//  48  cpu    getcpu's method: 0 syscall, 1 RDTSCP, 2 RDPID; bit 8: some
//              thread of the sandbox has a restricted affinity mask (syscall)
// 2048 cpumap 1024 uint16: host CPU -> guest CPU, 0xffff: not the sandbox's
// clock(now) = base + ((rdtsc - tsc) * mult) >> 32.

	.equ VV_SEQ, 0
	.equ VV_MODE, 8
	.equ VV_TSC, 16
	.equ VV_MULT, 24
	.equ VV_MONO, 32
	.equ VV_REAL, 40
	.equ VV_CPU, 48
	.equ VV_CPUMAP, 2048

	.equ CPU_RDTSCP, 1
	.equ CPU_RDPID, 2
	.equ CPU_METHOD, 0xff
	.equ CPU_RESTRICTED, 1 << 8
	.equ CPUMAP_LEN, 1024
	.equ CPU_UNMAPPED, 0xffff
	.equ TSC_AUX_CPU, 0xfff  // TSC_AUX = node << 12 | cpu (Linux, x86-64)

	// Clock ids (include/uapi/linux/time.h) as bit masks.
	.equ REAL_CLOCKS, (1 << 0) | (1 << 5) | (1 << 11)          // REALTIME, REALTIME_COARSE, TAI
	.equ MONO_CLOCKS, (1 << 1) | (1 << 4) | (1 << 6) | (1 << 7) // MONOTONIC, _RAW, _COARSE, BOOTTIME
	.equ COARSE_CLOCKS, (1 << 5) | (1 << 6)
	.equ MAX_CLOCK, 11

	.equ SYS_gettimeofday, 96
	.equ SYS_time, 201
	.equ SYS_clock_gettime, 228
	.equ SYS_clock_getres, 229
	.equ SYS_getcpu, 309

	.text

// vv_read: the clock whose base is at offset %rdi of the data page, in ns,
// in %rax. The caller has checked VV_MODE. Clobbers rcx, rdx, r8-r11.
	.type vv_read, @function
vv_read:
	.cfi_startproc
	leaq vvar_page(%rip), %r8
1:	movq VV_SEQ(%r8), %r9
	testq $1, %r9
	jnz 3f
	movq VV_TSC(%r8), %r10
	movq VV_MULT(%r8), %r11
	movq (%r8,%rdi), %rcx
	lfence                   // the loads above before the TSC read
	rdtsc
	lfence                   // and the TSC read before the check below
	cmpq VV_SEQ(%r8), %r9
	jne 1b
	shlq $32, %rdx
	orq %rdx, %rax
	subq %r10, %rax
	jae 2f
	xorl %eax, %eax          // a TSC behind the base counts as the base
2:	mulq %r11
	shrdq $32, %rdx, %rax
	addq %rcx, %rax
	ret
3:	pause                    // litebox is writing the page
	jmp 1b
	.cfi_endproc
	.size vv_read, . - vv_read

// split: %rax ns -> %rax seconds, %rdx nanoseconds. Clobbers rcx, r9.
// The quotient is ((ns >> 9) * floor(2^84 / 1e9)) >> 75, exact for every
// 64-bit ns: the reciprocal compilers emit for a division by 1e9.
	.type split, @function
split:
	.cfi_startproc
	movq %rax, %r9
	shrq $9, %rax
	movabsq $0x44b82fa09b5a53, %rcx
	mulq %rcx
	movq %rdx, %rax
	shrq $11, %rax
	imulq $1000000000, %rax, %rcx
	movq %r9, %rdx
	subq %rcx, %rdx
	ret
	.cfi_endproc
	.size split, . - split

// clock_bit: %eax = 1 << %edi for the clock ids up to MAX_CLOCK, 0 for
// the others (the CPU clocks' ids are negative). Clobbers rcx.
	.type clock_bit, @function
clock_bit:
	.cfi_startproc
	xorl %eax, %eax
	cmpl $MAX_CLOCK, %edi
	ja 1f
	movl %edi, %ecx
	movl $1, %eax
	shll %cl, %eax
1:	ret
	.cfi_endproc
	.size clock_bit, . - clock_bit

// int clock_gettime(clockid_t clock, struct timespec *ts)
	.globl __vdso_clock_gettime
	.type __vdso_clock_gettime, @function
__vdso_clock_gettime:
	.cfi_startproc
	cmpq $0, vvar_page+VV_MODE(%rip)
	je 9f
	call clock_bit
	testl $REAL_CLOCKS, %eax
	jnz 1f
	testl $MONO_CLOCKS, %eax
	jz 9f
	movl $VV_MONO, %edi
	jmp 2f
1:	movl $VV_REAL, %edi
2:	call vv_read
	call split
	movq %rax, (%rsi)
	movq %rdx, 8(%rsi)
	xorl %eax, %eax
	ret
9:	movl $SYS_clock_gettime, %eax
	syscall
	ret
	.cfi_endproc
	.size __vdso_clock_gettime, . - __vdso_clock_gettime

// int gettimeofday(struct timeval *tv, struct timezone *tz)
	.globl __vdso_gettimeofday
	.type __vdso_gettimeofday, @function
__vdso_gettimeofday:
	.cfi_startproc
	cmpq $0, vvar_page+VV_MODE(%rip)
	je 9f
	testq %rsi, %rsi
	jz 1f
	movq $0, (%rsi)          // UTC, no DST, as the syscall says
1:	testq %rdi, %rdi
	jz 2f
	movq %rdi, %rsi
	movl $VV_REAL, %edi
	call vv_read
	call split
	movq %rax, (%rsi)
	movq %rdx, %rax          // ns / 1000: ((ns >> 3) * 0x20c49ba5e353f7cf) >> 68
	shrq $3, %rax
	movabsq $0x20c49ba5e353f7cf, %rcx
	mulq %rcx
	shrq $4, %rdx
	movq %rdx, 8(%rsi)
2:	xorl %eax, %eax
	ret
9:	movl $SYS_gettimeofday, %eax
	syscall
	ret
	.cfi_endproc
	.size __vdso_gettimeofday, . - __vdso_gettimeofday

// time_t time(time_t *t)
	.globl __vdso_time
	.type __vdso_time, @function
__vdso_time:
	.cfi_startproc
	cmpq $0, vvar_page+VV_MODE(%rip)
	je 9f
	movq %rdi, %rsi
	movl $VV_REAL, %edi
	call vv_read
	call split
	testq %rsi, %rsi
	jz 1f
	movq %rax, (%rsi)
1:	ret
9:	movl $SYS_time, %eax
	syscall
	ret
	.cfi_endproc
	.size __vdso_time, . - __vdso_time

// int clock_getres(clockid_t clock, struct timespec *res): the answers of
// the syscall (shim/linux/sys_time.go) for the clocks above; the others
// ask it.
	.globl __vdso_clock_getres
	.type __vdso_clock_getres, @function
__vdso_clock_getres:
	.cfi_startproc
	call clock_bit
	movl $1, %edx
	testl $REAL_CLOCKS | MONO_CLOCKS, %eax
	jz 9f
	testl $COARSE_CLOCKS, %eax
	jz 1f
	movl $4000000, %edx      // the coarse clocks: a 4 ms tick (HZ 250)
1:	testq %rsi, %rsi
	jz 2f
	movq $0, (%rsi)
	movq %rdx, 8(%rsi)
2:	xorl %eax, %eax
	ret
9:	movl $SYS_clock_getres, %eax
	syscall
	ret
	.cfi_endproc
	.size __vdso_clock_getres, . - __vdso_clock_getres

// int getcpu(unsigned *cpu, unsigned *node, void *cache): the host CPU
// the thread runs on (TSC_AUX, read with the instruction the data page
// names) as the guest numbers it (the page's map), node 0 (the guest sees
// one node); NULL pointers are skipped, as Linux's vDSO does. The syscall
// answers when the page names no instruction, when some thread of the
// sandbox has a restricted affinity mask (the guest's masks are not
// applied on the host, so the host CPU could be outside the caller's; the
// kernel answers from it), or when the host CPU is not in the map.
	.globl __vdso_getcpu
	.type __vdso_getcpu, @function
__vdso_getcpu:
	.cfi_startproc
	movl vvar_page+VV_CPU(%rip), %eax
	testl $CPU_RESTRICTED, %eax
	jnz 9f
	andl $CPU_METHOD, %eax
	cmpl $CPU_RDPID, %eax
	je 1f
	cmpl $CPU_RDTSCP, %eax
	jne 9f
	movq %rdx, %r8           // rdtscp writes edx: keep the cache argument
	rdtscp                   // ecx = TSC_AUX
	movq %r8, %rdx
	jmp 2f
1:	rdpid %rcx
2:	andl $TSC_AUX_CPU, %ecx
	cmpl $CPUMAP_LEN, %ecx
	jae 9f
	leaq vvar_page(%rip), %r8
	movzwl VV_CPUMAP(%r8,%rcx,2), %ecx
	cmpl $CPU_UNMAPPED, %ecx
	je 9f
	testq %rdi, %rdi
	jz 3f
	movl %ecx, (%rdi)
3:	testq %rsi, %rsi
	jz 4f
	movl $0, (%rsi)
4:	xorl %eax, %eax
	ret
9:	movl $SYS_getcpu, %eax
	syscall
	ret
	.cfi_endproc
	.size __vdso_getcpu, . - __vdso_getcpu

	// The names without the prefix, as Linux's vDSO exports them too.
	.weak clock_gettime, gettimeofday, time, clock_getres, getcpu
	.set clock_gettime, __vdso_clock_gettime
	.set gettimeofday, __vdso_gettimeofday
	.set time, __vdso_time
	.set clock_getres, __vdso_clock_getres
	.set getcpu, __vdso_getcpu

	.section .note.GNU-stack, "", @progbits
