// Package loader loads an x86-64 ELF program, and its interpreter when it
// has one, from the sandbox's own file system into a guest address space,
// and builds the initial stack (argv, envp, auxv) the way Linux does.
package loader

import (
	"bytes"
	"crypto/rand"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/platform/pagecache"
)

// Errors that say why a program cannot run. They wrap the errno Linux's
// execve would give, so the shim can return it unchanged.
var (
	ErrNotELF    = fmt.Errorf("not an ELF executable: %w", unix.ENOEXEC)
	ErrArch      = fmt.Errorf("not an x86-64 Linux executable: %w", unix.ENOEXEC)
	ErrMalformed = fmt.Errorf("malformed ELF executable: %w", unix.ENOEXEC)
)

// File is a program file as the loader reads it.
type File interface {
	io.ReaderAt
	Size() (int64, error)
	Info() mm.FileInfo
	// Ref is the open file the program's mappings keep open while they
	// exist (see mm.FileRef); nil when there is nothing to keep.
	Ref() mm.FileRef
	// Close drops the opener's reference. Load closes every file it
	// opened, on success and failure alike; the mappings hold their own.
	Close() error
}

// Opener opens a program file by guest path; it enforces execute permission.
type Opener func(path string) (File, error)

// Layout fixes where things go. Zero fields get Linux-like defaults.
type Layout struct {
	DynBase  uint64 // load address of position-independent executables
	StackTop uint64
	IDs      IDs // the process's ids as the auxv reports them
	// SysInfoEHDR is the address of the vDSO the kernel mapped
	// (AT_SYSINFO_EHDR); 0: none.
	SysInfoEHDR uint64
}

// IDs are what the auxv says of the process's credentials: AT_UID,
// AT_EUID, AT_GID, AT_EGID and AT_SECURE (the C library then ignores
// LD_LIBRARY_PATH and the like, as for a set-user-ID program).
type IDs struct {
	UID, EUID, GID, EGID uint32
	Secure               bool
}

// Defaults as on Linux x86-64: ELF_ET_DYN_BASE and the top of user space.
const (
	defaultDynBase  = 0x555555554000
	defaultStackTop = 0x7ffffffde000
	stackSize       = 8 << 20
	maxSegments     = 64
	maxArgBytes     = 2 << 20 // ARG_MAX-like bound on argv+envp
)

// Image is a loaded program.
type Image struct {
	Entry    uint64 // where the first guest instruction is (interpreter entry if any)
	Stack    uint64 // initial stack pointer
	BrkStart uint64
	Interp   string
}

// Hardware capabilities reported in auxv: taken from our own auxv so the
// guest sees the CPU it really runs on.
type Hardware struct {
	HWCap, HWCap2 uint64
	MinSigStkSz   uint64
}

// Load maps path (and its PT_INTERP) into m and builds the initial stack.
func Load(m *mm.MM, open Opener, path string, argv, envp []string, hw Hardware, layout Layout) (img Image, err error) {
	if layout.DynBase == 0 {
		layout.DynBase = defaultDynBase
	}
	if layout.StackTop == 0 {
		layout.StackTop = defaultStackTop
	}
	n := 0
	for _, s := range append(append([]string{}, argv...), envp...) {
		n += len(s) + 1 + 8
	}
	if n > maxArgBytes {
		return Image{}, unix.E2BIG
	}
	f, err := open(path)
	if err != nil {
		return Image{}, err
	}
	defer f.Close()
	exe, err := parse(f)
	if err != nil {
		return Image{}, err
	}
	exeBase, err := mapImage(m, f, exe, layout.DynBase)
	if err != nil {
		return Image{}, err
	}
	img.BrkStart = exeBase + exe.end
	entry := exeBase + exe.hdr.Entry
	img.Entry = entry
	var interpBase uint64
	if exe.interp != "" {
		img.Interp = exe.interp
		ifile, err := open(exe.interp)
		if err != nil {
			return Image{}, fmt.Errorf("interpreter %s: %w", exe.interp, err)
		}
		defer ifile.Close()
		interp, err := parse(ifile)
		if err != nil {
			return Image{}, fmt.Errorf("interpreter %s: %w", exe.interp, err)
		}
		if interp.interp != "" || interp.hdr.Type != elf.ET_DYN {
			return Image{}, fmt.Errorf("interpreter %s: %w", exe.interp, ErrMalformed)
		}
		if interpBase, err = mapImage(m, ifile, interp, 0); err != nil {
			return Image{}, err
		}
		img.Entry = interpBase + interp.hdr.Entry
	}
	m.SetBrkStart(img.BrkStart)

	phdr := exeBase + exe.phdrAddr
	secure := uint64(0)
	if layout.IDs.Secure {
		secure = 1
	}
	var aux [][2]uint64
	if layout.SysInfoEHDR != 0 {
		aux = append(aux, [2]uint64{atSysinfoEHDR, layout.SysInfoEHDR}) // first, as Linux's ARCH_DLINFO
	}
	aux = append(aux, [][2]uint64{
		{atPhdr, phdr},
		{atPhent, 56},
		{atPhnum, uint64(len(exe.progs))},
		{atPagesz, mm.PageSize},
		{atBase, interpBase},
		{atFlags, 0},
		{atEntry, entry},
		{atUID, uint64(layout.IDs.UID)}, {atEUID, uint64(layout.IDs.EUID)},
		{atGID, uint64(layout.IDs.GID)}, {atEGID, uint64(layout.IDs.EGID)},
		{atSecure, secure},
		{atClkTck, 100},
		{atHWCap, hw.HWCap},
		{atHWCap2, hw.HWCap2},
	}...)
	if hw.MinSigStkSz != 0 {
		aux = append(aux, [2]uint64{atMinSigStkSz, hw.MinSigStkSz})
	}
	img.Stack, err = buildStack(m, layout.StackTop, path, argv, envp, aux)
	return img, err
}

// program is a parsed and validated ELF file.
type program struct {
	hdr      elf.FileHeader
	progs    []elf.ProgHeader
	loads    []elf.ProgHeader
	interp   string
	start    uint64 // lowest page of the image (link-time address)
	end      uint64 // end of the highest segment (link-time address)
	phdrAddr uint64 // link-time address of the program headers
}

// parse reads and validates everything the loader relies on. debug/elf
// validates the file structure; a panic inside it on hostile input is
// turned into ErrMalformed so a bad file can never take the kernel down.
func parse(f File) (p *program, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, ErrMalformed
		}
	}()
	var ident [elf.EI_NIDENT]byte
	if n, _ := f.ReadAt(ident[:], 0); n < 4 || !bytes.Equal(ident[:4], []byte(elf.ELFMAG)) {
		return nil, ErrNotELF
	}
	if n, _ := f.ReadAt(ident[:], 0); n < len(ident) {
		return nil, ErrMalformed
	}
	if elf.Class(ident[elf.EI_CLASS]) != elf.ELFCLASS64 || elf.Data(ident[elf.EI_DATA]) != elf.ELFDATA2LSB {
		return nil, ErrArch
	}
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	ef, err := elf.NewFile(io.NewSectionReader(f, 0, size))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if ef.Machine != elf.EM_X86_64 {
		return nil, ErrArch
	}
	if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		return nil, ErrNotELF
	}
	p = &program{hdr: ef.FileHeader}
	var raw [64]byte
	if _, err := f.ReadAt(raw[:], 0); err != nil {
		return nil, ErrMalformed
	}
	phoff := binary.LittleEndian.Uint64(raw[32:])
	first := true
	for _, prog := range ef.Progs {
		ph := prog.ProgHeader
		p.progs = append(p.progs, ph)
		switch ph.Type {
		case elf.PT_LOAD:
			if ph.Memsz == 0 {
				continue
			}
			if err := checkSegment(ph, size); err != nil {
				return nil, err
			}
			if n := len(p.loads); n > 0 && ph.Vaddr < p.loads[n-1].Vaddr {
				return nil, fmt.Errorf("%w: PT_LOAD segments out of order", ErrMalformed)
			}
			p.loads = append(p.loads, ph)
			if first {
				p.start = ph.Vaddr &^ (mm.PageSize - 1)
				first = false
			}
			p.end = max(p.end, ph.Vaddr+ph.Memsz)
			if ph.Off <= phoff && phoff+uint64(len(ef.Progs))*56 <= ph.Off+ph.Filesz && p.phdrAddr == 0 {
				p.phdrAddr = ph.Vaddr + (phoff - ph.Off)
			}
		case elf.PT_INTERP:
			if ph.Filesz < 2 || ph.Filesz > unix.PathMax || ph.Off+ph.Filesz > uint64(size) || ph.Off+ph.Filesz < ph.Off {
				return nil, fmt.Errorf("%w: bad PT_INTERP", ErrMalformed)
			}
			buf := make([]byte, ph.Filesz)
			if _, err := f.ReadAt(buf, int64(ph.Off)); err != nil {
				return nil, fmt.Errorf("%w: reading PT_INTERP", ErrMalformed)
			}
			i := bytes.IndexByte(buf, 0)
			if i <= 0 {
				return nil, fmt.Errorf("%w: PT_INTERP not terminated", ErrMalformed)
			}
			p.interp = string(buf[:i])
		case elf.PT_PHDR:
			p.phdrAddr = ph.Vaddr
		}
	}
	if len(p.loads) == 0 || len(p.loads) > maxSegments {
		return nil, fmt.Errorf("%w: %d loadable segments", ErrMalformed, len(p.loads))
	}
	if p.end-p.start > 1<<40 {
		return nil, fmt.Errorf("%w: image too large", ErrMalformed)
	}
	if ef.Type == elf.ET_EXEC && (p.start < mm.MinAddr || p.end > 1<<46) {
		return nil, fmt.Errorf("%w: segments outside user space", ErrMalformed)
	}
	if p.hdr.Entry < p.start || p.hdr.Entry >= p.end {
		return nil, fmt.Errorf("%w: entry point outside the image", ErrMalformed)
	}
	return p, nil
}

func checkSegment(ph elf.ProgHeader, fileSize int64) error {
	switch {
	case ph.Filesz > ph.Memsz:
		return fmt.Errorf("%w: segment file size exceeds memory size", ErrMalformed)
	case ph.Off+ph.Filesz < ph.Off || ph.Off+ph.Filesz > uint64(fileSize):
		return fmt.Errorf("%w: segment beyond end of file", ErrMalformed)
	case ph.Vaddr+ph.Memsz < ph.Vaddr || ph.Vaddr+ph.Memsz > 1<<47:
		return fmt.Errorf("%w: segment address overflow", ErrMalformed)
	case ph.Vaddr%mm.PageSize != ph.Off%mm.PageSize:
		return fmt.Errorf("%w: segment offset and address disagree modulo the page size", ErrMalformed)
	}
	return nil
}

// segmentFile exposes a segment's file bytes and nothing after them, so the
// rest of its last page reads as zero (the start of .bss).
type segmentFile struct {
	f     io.ReaderAt
	limit int64 // file offset where the segment's file bytes end
}

// Whole is the segment's file, for mm's check of an executable mapping,
// which hashes the whole file (mm.Limited).
func (s segmentFile) Whole() (mm.Backing, int64) { return s.f, s.limit }

func (s segmentFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.limit {
		return 0, io.EOF
	}
	if rem := s.limit - off; int64(len(p)) > rem {
		n, err := s.f.ReadAt(p[:rem], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return s.f.ReadAt(p, off)
}

// CacheKey lets the segment come from the page cache (mm.Cacheable) when
// its file can: the entry holds the file's bytes up to the segment's end,
// zero after, as the segment shows them.
func (s segmentFile) CacheKey() (pagecache.Key, bool) {
	c, ok := s.f.(interface{ CacheKey() (pagecache.Key, bool) })
	if !ok {
		return pagecache.Key{}, false
	}
	k, ok := c.CacheKey()
	if !ok {
		return pagecache.Key{}, false
	}
	k.Size = min(k.Size, s.limit)
	return k, true
}

// mapImage maps every PT_LOAD of p and returns the load bias. For
// position-independent images the whole span is reserved first so the
// segments land together.
func mapImage(m *mm.MM, f File, p *program, dynBase uint64) (uint64, error) {
	var bias uint64
	if p.hdr.Type == elf.ET_DYN {
		span := pageUp(p.end) - p.start
		hint := uint64(0)
		if dynBase != 0 {
			hint = dynBase
		}
		base, err := m.Mmap(mm.MapRequest{Addr: hint, Length: span, Prot: unix.PROT_NONE})
		if err != nil {
			return 0, fmt.Errorf("reserving %d bytes for the image: %w", span, err)
		}
		bias = base - p.start
	}
	info := f.Info()
	for _, ph := range p.loads {
		prot := 0
		if ph.Flags&elf.PF_R != 0 {
			prot |= unix.PROT_READ
		}
		if ph.Flags&elf.PF_W != 0 {
			prot |= unix.PROT_WRITE
		}
		if ph.Flags&elf.PF_X != 0 {
			prot |= unix.PROT_EXEC
		}
		start := (bias + ph.Vaddr) &^ (mm.PageSize - 1)
		fileEnd := bias + ph.Vaddr + ph.Filesz
		memEnd := pageUp(bias + ph.Vaddr + ph.Memsz)
		if ph.Filesz > 0 {
			off := ph.Off &^ (mm.PageSize - 1)
			_, err := m.Mmap(mm.MapRequest{
				Addr: start, Length: pageUp(fileEnd) - start, Prot: prot, Fixed: true,
				File: segmentFile{f: f, limit: int64(ph.Off + ph.Filesz)}, Hold: f.Ref(), Info: info, Offset: off,
			})
			if err != nil {
				return 0, fmt.Errorf("mapping segment at %#x: %w", start, err)
			}
			start = pageUp(fileEnd)
		}
		if memEnd > start {
			if _, err := m.Mmap(mm.MapRequest{Addr: start, Length: memEnd - start, Prot: prot, Fixed: true}); err != nil {
				return 0, fmt.Errorf("mapping bss at %#x: %w", start, err)
			}
		}
	}
	return bias, nil
}

func pageUp(x uint64) uint64 { return (x + mm.PageSize - 1) &^ (mm.PageSize - 1) }

// buildStack maps the stack and writes the System V initial process stack:
// argc, argv, envp, auxv, then the strings they point to.
func buildStack(m *mm.MM, top uint64, execfn string, argv, envp []string, aux [][2]uint64) (uint64, error) {
	if _, err := m.Mmap(mm.MapRequest{Addr: top - stackSize, Length: stackSize,
		Prot: unix.PROT_READ | unix.PROT_WRITE, Fixed: true, Name: "[stack]"}); err != nil {
		return 0, fmt.Errorf("mapping the stack: %w", err)
	}
	// Strings go at the top, laid out downwards from the end of data.
	var strs []byte
	addrOf := func(s []byte) uint64 { // position is fixed up once the size is known
		strs = append(strs, s...)
		return uint64(len(strs))
	}
	cstr := func(s string) uint64 { return addrOf(append([]byte(s), 0)) }
	execOff := cstr(execfn)
	argOffs := make([]uint64, len(argv))
	for i, a := range argv {
		argOffs[i] = cstr(a)
	}
	envOffs := make([]uint64, len(envp))
	for i, e := range envp {
		envOffs[i] = cstr(e)
	}
	platOff := cstr("x86_64")
	var random [16]byte
	if _, err := rand.Read(random[:]); err != nil {
		return 0, err
	}
	randOff := addrOf(random[:])
	strBase := (top - 8 - uint64(len(strs))) &^ 15
	at := func(off uint64, s int) uint64 { return strBase + off - uint64(s) }

	aux = append(aux,
		[2]uint64{atRandom, at(randOff, 16)},
		[2]uint64{atExecFn, at(execOff, len(execfn)+1)},
		[2]uint64{atPlatform, at(platOff, len("x86_64")+1)},
		[2]uint64{atNull, 0})
	words := []uint64{uint64(len(argv))}
	for i, a := range argv {
		words = append(words, at(argOffs[i], len(a)+1))
	}
	words = append(words, 0)
	for i, e := range envp {
		words = append(words, at(envOffs[i], len(e)+1))
	}
	words = append(words, 0)
	for _, kv := range aux {
		words = append(words, kv[0], kv[1])
	}
	sp := (strBase - uint64(len(words))*8) &^ 15
	buf := make([]byte, top-sp)
	for i, w := range words {
		binary.LittleEndian.PutUint64(buf[i*8:], w)
	}
	copy(buf[strBase-sp:], strs)
	if n, err := m.Mapper().CopyOut(sp, buf); err != nil || n != len(buf) {
		return 0, errors.Join(fmt.Errorf("writing the initial stack"), err)
	}
	return sp, nil
}
