package vfs

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
)

// InoMap turns the inode numbers of a host file system into the guest's
// for one mount. Host inode numbers must not reach the guest (they tell
// it about the host's file systems and their history), yet every tool
// that compares (st_dev, st_ino) — find, du, tar, cp -a, samefile — needs
// the guest's numbers to be exactly as distinct and as stable as the
// host's: the same file, and every hard link to it, always gets the same
// number, and two files never share one.
//
// A table from host to guest numbers would grow with every file the guest
// looks at. InoMap is instead a keyed pseudo-random permutation (a Feistel
// network with AES as its round function, under a random key of the
// mount): a bijection, so distinct host numbers stay distinct, computed
// afresh each time, so it holds no state and costs no memory. The key
// lives as long as the mount, that is the sandbox.
//
// The permutation keeps the usual 32-bit numbers (ext4, tmpfs, xfs on
// small disks) below 2^32 and never yields 0: some programs still store
// inode numbers in 32 bits, and a d_ino of 0 marks a deleted entry for
// old readdir code. Larger numbers stay at or above 2^32.
type InoMap struct {
	block cipher.Block
}

// feistelRounds is enough for a strong pseudo-random permutation over the
// small (16-bit) halves of the 32-bit domain.
const feistelRounds = 10

// NewInoMap returns a permutation under a fresh random key.
func NewInoMap() (*InoMap, error) {
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("vfs: inode map key: %w", err)
	}
	return newInoMapKey(key)
}

func newInoMapKey(key []byte) (*InoMap, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("vfs: inode map key: %w", err)
	}
	return &InoMap{block: b}, nil
}

// Map returns the guest inode number of host inode number ino. Host
// number 0 (not a real inode) stays 0.
func (m *InoMap) Map(ino uint64) uint64 {
	switch {
	case ino == 0:
		return 0
	case ino < 1<<32:
		// Cycle-walk within [1, 2^32): the permutation of the 32-bit
		// domain restricted to the non-zero numbers is again a
		// permutation, and at most one step lands on 0.
		v := m.permute(ino, 16)
		for v == 0 {
			v = m.permute(v, 16)
		}
		return v
	default:
		// Cycle-walk within [2^32, 2^64), a permutation of its own: the
		// walk ends, since the cycle through ino returns to it.
		v := m.permute(ino, 32)
		for v < 1<<32 {
			v = m.permute(v, 32)
		}
		return v
	}
}

// permute applies the Feistel network to the 2*half-bit number x.
func (m *InoMap) permute(x uint64, half uint) uint64 {
	mask := uint64(1)<<half - 1
	l, r := x>>half&mask, x&mask
	var in, out [16]byte
	for round := range feistelRounds {
		// The round function: AES of (domain, round, right half). The
		// domain keeps the two permutations independent.
		in[0], in[1] = byte(half), byte(round)
		binary.LittleEndian.PutUint64(in[8:], r)
		m.block.Encrypt(out[:], in[:])
		l, r = r, l^binary.LittleEndian.Uint64(out[:])&mask
	}
	return l<<half | r
}
