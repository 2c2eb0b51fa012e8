// The systrap stub: the code every systrap stub process runs. It is
// assembled into stub_amd64.go by gen.go (go generate); TestStubIsGenerated
// reassembles it and compares, so the committed bytes always match this
// source.
//
// Layout of the stub's part of the address space (see layout.go):
//   CODE   = 0x7ff000000000  this code, r-x, one page
//   PARAMS = 0x7ff000001000  set-up parameters written by litebox; unmapped
//                            (with the secret they hold) before any guest runs
//   SHM    = 0x7ff000100000  slots shared with litebox (MAP_SHARED memfd)
//   STACKS = 0x7ff010000000  one 64 KiB private signal stack per thread
//   POOL   = 0x7ff100000000  shared guest memory (MAP_SHARED memfd, fd 4)
//
// Slot layout (shared, one page per stub thread):
//   0 state (u32 futex word)   4 stub sleeping (u32)   8 signo
//   16 si_code   24 si_addr   32 litebox sleeping (u32)
//   40 fs_base wanted   48 hostcall nr   56..96 hostcall args   104 result
//   128..384 struct sigcontext of the trapped guest   400 stack_t scratch
// States: 0 idle, 1 event (stub -> litebox), 2 resume, 3 hostcall,
// 4 hostcall done (stub -> litebox), 5 exit, 6 parked (litebox expects to
// take long: sleep at once instead of spinning).
// Each signal stack starts with the thread's slot address and the fs_base
// the thread currently has (so arch_prctl runs only on change).

	.intel_syntax noprefix
	.text
	// No .globl: references to global symbols would be left as relocations
	// (the object is never linked); nm still lists these local labels.

	.equ PARAMS, 0x7ff000001000
	.equ SHM, 0x7ff000100000
	.equ POOL, 0x7ff100000000
	.equ POOL_SIZE, 0x100000000
	.equ STACK_SIZE, 0x10000
	.equ SPIN, 1000	// ~10-20 µs of pause: covers a typical syscall's service time in litebox

	.equ P_SHM_SIZE, PARAMS + 0x08
	.equ P_HANDLER, PARAMS + 0x10
	.equ P_SIGIGN, PARAMS + 0x30
	.equ P_CAPHDR, PARAMS + 0x50
	.equ P_CAPDATA, PARAMS + 0x58
	.equ P_FPROG, PARAMS + 0x70
	.equ P_NONE, PARAMS + 0x80
	.equ P_PROC, PARAMS + 0x88
	.equ P_TMPFS, PARAMS + 0x90
	.equ P_ROOT, PARAMS + 0x98

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

// _start: set-up of the holder, the first stub; every other stub is a
// clone of it and inherits the result.
_start:
	// mmap(POOL, POOL_SIZE, PROT_NONE, MAP_SHARED|MAP_FIXED, 4, 0): the
	// shared-memory pool MAP_SHARED guest memory is carved from.
	movabs rdi, POOL
	movabs rsi, POOL_SIZE
	xor edx, edx
	mov r10d, 0x11
	mov r8d, 4
	xor r9d, r9d
	mov eax, 9
	syscall
	cmp rax, rdi
	jne fail
	// mmap(SHM, size, RW, MAP_SHARED|MAP_FIXED, 3, 0): the slots.
	movabs rdi, SHM
	movabs rax, P_SHM_SIZE
	mov rsi, [rax]
	mov edx, 3
	mov r10d, 0x11
	mov r8d, 3
	xor r9d, r9d
	mov eax, 9
	syscall
	movabs rcx, SHM
	cmp rax, rcx
	jne fail
	// close_range(0, ~0U, 0): no host fds at all.
	xor edi, edi
	mov esi, 0xffffffff
	xor edx, edx
	SYSCALL_OK 436
	// An empty root: tmpfs over /proc in our own mount namespace.
	movabs rdi, P_NONE
	movabs rsi, P_PROC
	movabs rdx, P_TMPFS
	mov r10d, 0xe	// MS_NOSUID|MS_NODEV|MS_NOEXEC
	xor r8d, r8d
	SYSCALL_OK 165
	movabs rdi, P_PROC
	SYSCALL_OK 161	// chroot
	movabs rdi, P_ROOT
	SYSCALL_OK 80	// chdir
	// SIGCHLD ignored: dead stubs are reaped by the host.
	mov edi, 17
	movabs rsi, P_SIGIGN
	xor edx, edx
	mov r10d, 8
	SYSCALL_OK 13
	// The trap handler for SIGSYS, SIGSEGV, SIGBUS, SIGFPE, SIGILL,
	// SIGTRAP and SIGSTKFLT (litebox's interrupt).
	.irp sig, 31, 11, 7, 8, 4, 5, 16
	mov edi, \sig
	movabs rsi, P_HANDLER
	xor edx, edx
	mov r10d, 8
	SYSCALL_OK 13
	.endr
	// No capabilities, no new privileges, then the seccomp filter.
	movabs rdi, P_CAPHDR
	movabs rsi, P_CAPDATA
	SYSCALL_OK 126
	mov edi, 38	// PR_SET_NO_NEW_PRIVS
	mov esi, 1
	xor edx, edx
	xor r10d, r10d
	xor r8d, r8d
	SYSCALL_OK 157
	mov edi, 1	// SECCOMP_SET_MODE_FILTER
	xor esi, esi
	movabs rdx, P_FPROG
	SYSCALL_OK 317
	// Drop everything but the code page and the slots: the parameters
	// (and the secret in the filter) go too.
	xor edi, edi
	movabs rsi, 0x7ff000000000
	SYSCALL_OK 11
	movabs rdi, SHM
	movabs rax, P_SHM_SIZE
	add rdi, [rax]
	movabs rsi, POOL
	sub rsi, rdi
	SYSCALL_OK 11
	movabs rdi, POOL + POOL_SIZE
	movabs rsi, 0x7ffffffff000 - (POOL + POOL_SIZE)
	SYSCALL_OK 11
	movabs rdi, PARAMS	// last: the code above still reads it
	mov esi, 0x1000
	SYSCALL_OK 11
	int3	// ready

// Injection points, used by litebox through ptrace (holder, fork, clone).
inject:
	syscall
	int3
clone_entry:
	syscall
	test rax, rax
	jz parked
	int3
parked:
	mov eax, 34	// pause: wait for litebox to seize this new thread
	syscall
	jmp parked

// thread_start: a new stub thread begins here (r13 = its slot, r14 = the
// top of its signal stack). It installs the signal stack, builds a blank
// signal frame on it, and reports itself as if a signal had arrived, so its
// first resume is an ordinary rt_sigreturn into the guest.
thread_start:
	mov rbx, r13
	// sigaltstack({base, 0, STACK_SIZE}, NULL), the stack_t in the slot.
	// rsp is 0 meanwhile: a forked stub still has its parent's signal
	// stack installed and would get EPERM while "running on" it.
	mov rax, r14
	sub rax, STACK_SIZE
	mov [rbx + 400], rax
	mov qword ptr [rbx + 408], 0
	mov qword ptr [rbx + 416], STACK_SIZE
	lea rdi, [rbx + 400]
	xor esi, esi
	xor esp, esp
	SYSCALL_OK 131	// sigaltstack
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
	cmp eax, 3
	je hostcall
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
	cmp eax, 3
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
hostcall:
	mov rax, [rbx + 48]
	mov rdi, [rbx + 56]
	mov rsi, [rbx + 64]
	mov rdx, [rbx + 72]
	mov r10, [rbx + 80]
	mov r8, [rbx + 88]
	mov r9, [rbx + 96]
	syscall
	mov [rbx + 104], rax
	POST 4
	jmp wait
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
