#include "textflag.h"

// func rdtsc() uint64: the TSC, read after every earlier load and before
// every later one (LFENCE on both sides), as the vDSO reads it.
TEXT ·rdtsc(SB),NOSPLIT,$0-8
	LFENCE
	RDTSC
	LFENCE
	SHLQ $32, DX
	ORQ DX, AX
	MOVQ AX, ret+0(FP)
	RET

// func rdpid() uint64: TSC_AUX (RDPID %rax, encoded for assemblers that
// lack the mnemonic). The caller has checked CPUID.
TEXT ·rdpid(SB),NOSPLIT,$0-8
	BYTE $0xf3; BYTE $0x0f; BYTE $0xc7; BYTE $0xf8
	MOVQ AX, ret+0(FP)
	RET

// func rdtscpAux() uint32: TSC_AUX as RDTSCP reads it (ECX).
TEXT ·rdtscpAux(SB),NOSPLIT,$0-4
	RDTSCP
	MOVL CX, ret+0(FP)
	RET

// func cpuidFeatures() (ecx7, edx81 uint32): CPUID leaf 7 subleaf 0's ECX
// and leaf 0x80000001's EDX, 0 when the leaf is past the maximum.
TEXT ·cpuidFeatures(SB),NOSPLIT,$0-8
	MOVL $0, ecx7+0(FP)
	MOVL $0, edx81+4(FP)
	MOVL $0, AX
	CPUID
	CMPL AX, $7
	JB ext
	MOVL $7, AX
	MOVL $0, CX
	CPUID
	MOVL CX, ecx7+0(FP)
ext:
	MOVL $0x80000000, AX
	CPUID
	CMPL AX, $0x80000001
	JB done
	MOVL $0x80000001, AX
	CPUID
	MOVL DX, edx81+4(FP)
done:
	RET

// func callVDSO3(fn uintptr, a, b, c uintptr) uintptr: calls a vDSO entry
// with the C calling convention (kernel/vdso's tests run the image's code
// on this CPU). The entries use no stack but the return address.
TEXT ·callVDSO3(SB),NOSPLIT,$0-40
	MOVQ fn+0(FP), AX
	MOVQ a+8(FP), DI
	MOVQ b+16(FP), SI
	MOVQ c+24(FP), DX
	CALL AX
	MOVQ AX, ret+32(FP)
	RET
