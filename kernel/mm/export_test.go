package mm

// SetMaxMapCount lowers the VMA limit for a test and returns the undo.
func SetMaxMapCount(n int) func() {
	old := maxMapCount
	maxMapCount = n
	return func() { maxMapCount = old }
}
