package kernel

// throttled holds the task out of guest code while the sandbox is over its
// CPU share (Config.Throttle), and reports whether the task must leave
// instead (it was killed, or its process is exiting, meanwhile).
func (t *Task) throttled() bool {
	th := t.Proc.k.cfg.Throttle
	if th == nil {
		return false
	}
	for th() {
		if t.Proc.Exiting() || t.Killed() {
			return true
		}
	}
	return false
}

// KickAll pushes every running task out of guest code: each then passes
// its checks (signals, the throttle) before it resumes.
func (k *Kernel) KickAll() {
	for _, t := range k.AllTasks() {
		t.mu.Lock()
		kick := t.kick
		t.mu.Unlock()
		if kick != nil {
			kick()
		}
	}
}
