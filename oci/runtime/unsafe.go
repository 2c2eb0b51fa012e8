package runtime

import "unsafe"

func unsafePointer(p *[4]uint64) unsafe.Pointer { return unsafe.Pointer(p) }
