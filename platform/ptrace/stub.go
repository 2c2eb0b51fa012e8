package ptrace

import (
	"encoding/binary"
)

// The stub is the host process a guest address space lives in. It is a tiny
// static ELF we generate ourselves (not the litebox binary: the Go runtime
// would occupy the guest's address space). Its only code:
//
//	_start:  close_range(0, ~0, 0)                   ; no host fds at all
//	         munmap(0, stubBase)                      ; drop everything below us
//	         munmap(stubEnd, maxUser-stubEnd)         ; stack, vdso, vvar
//	         int3                                     ; tell the tracer we are ready
//	inject:  syscall                                  ; the platform's injected calls
//	         int3
//	clone:   syscall                                  ; injected clone (fork, thread)
//	         test rax, rax ; jz child ; int3          ; the parent traps
//	child:   pause() ; jmp child                      ; the child waits to be seized
//
// After start-up the stub owns nothing but this one page; the guest's memory
// is mapped around it by injected mmap calls.
const (
	stubBase = 0x7ff000000000
	stubSize = 0x1000
	stubEnd  = stubBase + stubSize
	maxUser  = 0x7ffffffff000 // TASK_SIZE on x86-64 with 4-level paging

	elfHeaderSize  = 64
	progHeaderSize = 56
	codeOffset     = elfHeaderSize + progHeaderSize
)

// stubCode returns the machine code and the offset of the inject sequence
// within it.
func stubCode() (code []byte, injectOff int) {
	var c []byte
	movabs := func(op byte, v uint64) { // REX.W + B8+r imm64
		c = append(c, 0x48, op)
		c = binary.LittleEndian.AppendUint64(c, v)
	}
	munmapNr := []byte{0xb8, 0x0b, 0x00, 0x00, 0x00} // mov eax, SYS_munmap
	syscall := []byte{0x0f, 0x05}

	// close_range(0, ~0U, 0): the stub keeps no host file descriptor.
	c = append(c, 0xb8, 0xb4, 0x01, 0x00, 0x00) // mov eax, SYS_close_range
	c = append(c, 0x31, 0xff)                   // xor edi, edi
	c = append(c, 0xbe, 0xff, 0xff, 0xff, 0xff) // mov esi, 0xffffffff
	c = append(c, 0x31, 0xd2)                   // xor edx, edx
	c = append(c, syscall...)

	c = append(c, munmapNr...)
	c = append(c, 0x31, 0xff) // xor edi, edi
	movabs(0xbe, stubBase)    // mov rsi, stubBase
	c = append(c, syscall...)

	c = append(c, munmapNr...)
	movabs(0xbf, stubEnd)         // mov rdi, stubEnd
	movabs(0xbe, maxUser-stubEnd) // mov rsi, len
	c = append(c, syscall...)
	c = append(c, 0xcc) // int3: ready

	injectOff = len(c)
	c = append(c, syscall...)
	c = append(c, 0xcc)

	// clone entry: the parent traps as for any injected call; the child
	// (rax == 0) parks in pause() until its own tracer seizes it.
	c = append(c, syscall...)
	c = append(c, 0x48, 0x85, 0xc0)             // test rax, rax
	c = append(c, 0x74, 0x01)                   // jz child
	c = append(c, 0xcc)                         // int3
	c = append(c, 0xb8, 0x22, 0x00, 0x00, 0x00) // child: mov eax, SYS_pause
	c = append(c, syscall...)
	c = append(c, 0xeb, 0xf7) // jmp child
	return c, injectOff
}

// Offsets within the inject sequence.
const (
	cloneOff     = 3                        // clone entry, relative to the inject address
	cloneTrapOff = cloneOff + 2 + 3 + 2 + 1 // where the parent stops after clone
)

// stubELF builds the stub executable image and returns it with the guest
// address of the inject sequence.
func stubELF() (image []byte, injectAddr uint64) {
	code, injectOff := stubCode()
	le := binary.LittleEndian
	img := make([]byte, codeOffset, codeOffset+len(code))

	copy(img, []byte{0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* LE */, 1 /* version */})
	le.PutUint16(img[16:], 2)  // ET_EXEC
	le.PutUint16(img[18:], 62) // EM_X86_64
	le.PutUint32(img[20:], 1)
	le.PutUint64(img[24:], stubBase+codeOffset) // e_entry
	le.PutUint64(img[32:], elfHeaderSize)       // e_phoff
	le.PutUint16(img[52:], elfHeaderSize)
	le.PutUint16(img[54:], progHeaderSize)
	le.PutUint16(img[56:], 1) // e_phnum

	ph := img[elfHeaderSize:]
	le.PutUint32(ph[0:], 1)   // PT_LOAD
	le.PutUint32(ph[4:], 4|1) // PF_R|PF_X
	le.PutUint64(ph[16:], stubBase)
	le.PutUint64(ph[24:], stubBase)
	total := uint64(codeOffset + len(code))
	le.PutUint64(ph[32:], total) // p_filesz
	le.PutUint64(ph[40:], total) // p_memsz
	le.PutUint64(ph[48:], stubSize)

	img = append(img, code...)
	return img, stubBase + codeOffset + uint64(injectOff)
}
