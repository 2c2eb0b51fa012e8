// The systrap stub: the code every systrap stub process runs. It is
// assembled into stub_amd64.go by gen.go (go generate); TestStubIsGenerated
// reassembles it and compares, so the committed bytes always match this
// source.
//
// Layout of the stub's part of the address space (see layout.go):
//   CODE   = 0x7ff000000000  this code, r-x, one page; from GFPROG on, the
//                            guest threads' seccomp filter, then the holder's
//                            set-up and its data (written by litebox)
//   CTRL   = 0x7ff000080000  requests from litebox, READ-ONLY here (a
//                            MAP_SHARED memfd mapped from a read-only fd)
//   SHM    = 0x7ff000100000  slots shared with litebox (MAP_SHARED memfd,
//                            fd 3): only the slots of this stub's own threads
//                            are mapped
//   STACKS = 0x7ff010000000  one 64 KiB private signal stack per thread
//   POOL   = 0x7ff100000000  shared guest memory (MAP_SHARED memfd)
//
// Two kinds of threads run here:
//  - one hostcall thread per stub process. It never runs guest code. It waits
//    for a request in its CTRL entry (which the guest cannot write), runs the
//    syscall, and reports completion by writing to the completion pipe (fd 6)
//    a packet whose bytes come from the CTRL entry and whose length carries the
//    errno: nothing the guest can write is read on this path;
//  - guest threads, which add a second seccomp filter (GFPROG) before their
//    first guest instruction: from the code page they may only use futex
//    wait/wake, rt_sigreturn, arch_prctl(ARCH_SET_FS) and exit.
//
// CTRL entry (64 bytes, read-only here): 0 seq (u32)  4 slot (u32)
//   8 syscall nr  16..56 args; for a guest thread's slot, 16 its stack_t.
// Slot (shared, one page per guest thread):
//   0 state (u32 futex word)   4 stub sleeping (u32)   8 signo
//   16 si_code   24 si_addr   32 litebox sleeping (u32)
//   40 fs_base wanted   128..384 struct sigcontext of the trapped guest
// States: 0 idle, 1 event (stub -> litebox), 2 resume, 5 exit, 6 parked
// (litebox expects to take long: sleep at once instead of spinning).
// Each signal stack starts with the thread's slot address and the fs_base
// the thread currently has (so arch_prctl runs only on change).

	.intel_syntax noprefix
	.text
	// No .globl: references to global symbols would be left as relocations
	// (the object is never linked); nm still lists these local labels.

	.equ STACK_SIZE, 0x10000
	.equ GFPROG, 0x7ff000000300
	.equ COMPLETION_FD, 6
	.equ SPIN, 1000	// ~10-20 µs of pause: covers a typical syscall's service time in litebox
	.equ HC_SPIN, 400	// the hostcall thread waits longer: requests come in bursts

	.macro SYSCALL_OK nr
	mov eax, \nr
	syscall
	test rax, rax
	jnz fail
	.endm

	// POST state: publish a new state (xchg: a full barrier before we look
	// at litebox's sleeping flag) and wake litebox only if it sleeps.
	.macro POST state
	mov eax, \state
	xchg [rbx], eax
	cmp dword ptr [rbx + 32], 0
	je 9f
	mov rdi, rbx
	mov esi, 1	// FUTEX_WAKE (shared: the slot is in a shared memfd)
	mov edx, 1
	mov eax, 202
	syscall
9:
	.endm

// The holder's set-up, and the injection points litebox uses through ptrace
// (holder and hostcall threads only; guest threads are never injected
// into), follow this code in the page: platform/internal/holder generates
// them, for both platforms (see layout.go).

// hostcall_loop: the hostcall thread (r12 = its CTRL entry, r13 = its slot
// page, r15d = the last sequence number it served). Nothing here reads
// guest-writable memory; the only write there is a hint for litebox.
hostcall_loop:
	mov ecx, HC_SPIN
1:
	mov eax, [r12]
	cmp eax, r15d
	jne 3f
	pause
	dec ecx
	jnz 1b
	// futex(entry, FUTEX_WAIT, last seq, NULL): litebox always wakes.
	mov rdi, r12
	xor esi, esi
	mov edx, r15d
	xor r10d, r10d
	mov eax, 202
	syscall
	jmp hostcall_loop
3:
	mov r15d, eax
	lfence	// the arguments are read after the sequence number
	mov rax, [r12 + 8]
	mov rdi, [r12 + 16]
	mov rsi, [r12 + 24]
	mov rdx, [r12 + 32]
	mov r10, [r12 + 40]
	mov r8, [r12 + 48]
	mov r9, [r12 + 56]
	syscall
	// A hint that the completion is on its way: litebox stops spinning on
	// it and reads the socket (a forged hint only makes it read sooner).
	mov [r13 + 8], r15d
	// Completion: write(COMPLETION_FD, entry, 8 + errno). The first 8 bytes
	// (seq, slot) come from the read-only entry; the length is the result.
	xor edx, edx
	cmp rax, -4095
	jb 4f
	mov rdx, rax
	neg rdx
	cmp edx, 4088
	jbe 4f
	mov edx, 4088
4:
	add edx, 8
	mov edi, COMPLETION_FD
	mov rsi, r12
	mov eax, 1
	syscall
	jmp hostcall_loop

// thread_start: a new guest thread begins here (r12 = its slot's CTRL entry
// holding its stack_t, r13 = its slot, r14 = the top of its signal stack).
// It installs the signal stack, adds the guest filter, builds a blank signal
// frame and reports itself as if a signal had arrived, so its first resume
// is an ordinary rt_sigreturn into the guest.
thread_start:
	mov rbx, r13
	// sigaltstack(entry + 16, NULL). rsp is 0 meanwhile: a forked stub's
	// thread could otherwise be "running on" an inherited signal stack.
	lea rdi, [r12 + 16]
	xor esi, esi
	xor esp, esp
	SYSCALL_OK 131	// sigaltstack
	// The guest filter, from the code page (the guest cannot change it).
	mov edi, 1	// SECCOMP_SET_MODE_FILTER
	xor esi, esi
	movabs rdx, GFPROG
	SYSCALL_OK 317
	mov rax, r14
	sub rax, STACK_SIZE
	mov [rax], r13
	mov qword ptr [rax + 8], -1	// fs_base unknown: set on first resume
	// A zeroed rt_sigframe: restorer, ucontext (304 bytes), siginfo (128).
	lea rsp, [r14 - 1024]
	and rsp, -16
	sub rsp, 8
	mov rdi, rsp
	xor eax, eax
	mov ecx, 55	// 440 bytes
	rep stosq
	lea rax, [rip + restorer]
	mov [rsp], rax
	lea r12, [rsp + 8]
	mov rax, r14
	sub rax, STACK_SIZE
	mov [r12 + 16], rax	// uc_stack: our signal stack
	mov qword ptr [r12 + 32], STACK_SIZE
	mov qword ptr [rbx + 8], 0	// signo 0: a new thread
	mov qword ptr [rbx + 16], 0
	mov qword ptr [rbx + 24], 0
	jmp report

// handler(signo, siginfo, ucontext): every trap of the guest lands here,
// on the thread's signal stack with all signals blocked.
handler:
	mov r12, rdx
	mov rax, rsp
	and rax, -STACK_SIZE
	mov rbx, [rax]
	mov [rbx + 8], rdi
	movsxd rax, dword ptr [rsi + 8]
	mov [rbx + 16], rax
	mov rax, [rsi + 16]
	mov [rbx + 24], rax
report:
	lea rsi, [r12 + 40]
	lea rdi, [rbx + 128]
	mov ecx, 32
	rep movsq
	POST 1
wait:
	mov ecx, SPIN
spin:
	mov eax, [rbx]
	cmp eax, 2
	je resume
	cmp eax, 5
	je exit_thread
	cmp eax, 6
	je sleep
	pause
	dec ecx
	jnz spin
sleep:
	// Sleep: announce it (xchg: a full barrier), look once more, then
	// FUTEX_WAIT while the state is what we saw.
	mov edx, 1
	xchg [rbx + 4], edx
	mov eax, [rbx]
	cmp eax, 2
	je 2f
	cmp eax, 5
	je 2f
	mov rdi, rbx
	xor esi, esi
	mov edx, eax
	xor r10d, r10d
	mov eax, 202
	syscall
2:
	mov dword ptr [rbx + 4], 0
	jmp wait
resume:
	lea rsi, [rbx + 128]
	lea rdi, [r12 + 40]
	mov ecx, 32
	rep movsq
	mov rax, rsp
	and rax, -STACK_SIZE
	mov rcx, [rbx + 40]
	cmp rcx, [rax + 8]
	je 1f
	mov [rax + 8], rcx
	mov rsi, rcx
	mov edi, 0x1002	// ARCH_SET_FS
	mov eax, 158
	syscall
1:
	mov dword ptr [rbx], 0
	ret	// into restorer: rt_sigreturn loads the guest's registers
exit_thread:
	mov eax, 60
	xor edi, edi
	syscall
	ud2
restorer:
	mov eax, 15
	syscall
	ud2
fail:
	ud2
