package kernel

// SetThreadWaiters lets tests fill the OS-thread waits of FutexWaitTask up
// to its bound, to reach the fallback that parks the goroutine.
func (f *Futexes) SetThreadWaiters(n int32) { f.threadWaiters.Store(n) }

// MaxThreadWaiters is maxThreadWaiters for tests.
const MaxThreadWaiters = maxThreadWaiters
