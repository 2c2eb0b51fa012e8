// Package vdso is the guest's vDSO: a small shared object (vdso.S, built
// by `go generate` into the committed vdso.so) that every guest address space
// maps, with the data page its clock functions and getcpu read ([vvar]),
// and the sandbox's clocks (Clock) that keep that page and answer the
// kernel's clock syscalls from the same parameters.
package vdso

//go:generate go run gen.go

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/platform"
)

// image is the guest's vDSO, a shared object linked at address 0.
//
//go:embed vdso.so
var image []byte

// Size is the bytes of address space a vDSO mapping takes: the data page
// and the image.
func Size() uint64 { return pageSize + imageSize() }

func imageSize() uint64 { return (uint64(len(image)) + pageSize - 1) &^ (pageSize - 1) }

// Map maps the data page ([vvar], read-only, shared with litebox) and the
// image ([vdso], r-x, a private copy) next to each other into m and
// returns the image's address, for AT_SYSINFO_EHDR. mem is the platform
// address space behind m, which makes the data page the first time.
func (c *Clock) Map(m *mm.MM, mem mm.MemoryMapper) (uint64, error) {
	page, err := c.dataPage(mem.NewMemory)
	if err != nil {
		return 0, fmt.Errorf("vdso: data page: %w", err)
	}
	base, err := m.Mmap(mm.MapRequest{Length: Size(), Prot: unix.PROT_NONE})
	if err != nil {
		return 0, fmt.Errorf("vdso: reserving %d bytes: %w", Size(), err)
	}
	if _, err := m.Mmap(mm.MapRequest{Addr: base, Length: pageSize, Prot: unix.PROT_READ, Fixed: true,
		Shared: true, Pages: dataFile{page}, NoWrite: true, File: noBytes{}, Info: mm.FileInfo{Path: "[vvar]"}}); err != nil {
		return 0, fmt.Errorf("vdso: mapping the data page: %w", err)
	}
	at := base + pageSize
	if _, err := m.Mmap(mm.MapRequest{Addr: at, Length: imageSize(), Prot: unix.PROT_READ | unix.PROT_EXEC, Fixed: true,
		File: bytes.NewReader(image), Info: mm.FileInfo{Path: "[vdso]"}}); err != nil {
		return 0, fmt.Errorf("vdso: mapping the image: %w", err)
	}
	return at, nil
}

// dataFile is the data page as a shared "file" of one page: mm maps the
// memory itself, so litebox's updates are what the guest reads.
type dataFile struct{ mem platform.Memory }

func (f dataFile) SharePages(off, length uint64, _ bool, _ func(uint64) (platform.Memory, error)) ([]mm.MemRun, error) {
	if off >= pageSize {
		return nil, nil
	}
	return []mm.MemRun{{Mem: f.mem, Off: off, Len: min(length, pageSize-off)}}, nil
}

func (f dataFile) Object() any { return f.mem }

// noBytes names the data page's mapping; its contents come from Pages.
type noBytes struct{}

func (noBytes) ReadAt([]byte, int64) (int, error) { return 0, io.EOF }
