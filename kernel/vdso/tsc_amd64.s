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
