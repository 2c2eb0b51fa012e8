package kernel

import (
	"sync"

	"golang.org/x/sys/unix"
)

// Job is everything one command of the sandbox started: its first process
// (made by NewProcess: a session and process group leader whose parent is
// outside the guest's view, getppid 0) and every process forked since from
// a process of the job. Membership is inherited at fork and never left:
// setsid and setpgid change a process's session and group, not its job, so a
// guest cannot slip out of its command.
//
// The sandbox's pid namespace has one init that lives as long as the
// kernel: the kernel itself, with no guest code and no pid a guest can
// name. Orphans go to the nearest reaper, as on Linux with
// PR_SET_CHILD_SUBREAPER: the job's leader adopts the orphans of its job
// while it lives (the first command, pid 1, is then exactly the init of a
// pid namespace to its programs), and the kernel's init adopts the rest and
// reaps them at once. When the leader exits, every other process of the job
// is killed, as a pid namespace's processes are when its init dies, so a
// command that ended leaves nothing running; other jobs are untouched.
type Job struct {
	k      *Kernel
	leader *Process

	// tasks counts the job's live threads; done is closed once the last
	// one is gone (every process of the job is then a zombie or reaped).
	mu    sync.Mutex
	tasks int
	done  chan struct{}
	// ending is closed as soon as the leader is killed or exits.
	ending  chan struct{}
	endOnce sync.Once
}

func newJob(k *Kernel) *Job {
	return &Job{k: k, done: make(chan struct{}), ending: make(chan struct{})}
}

// Job returns the job the process belongs to.
func (p *Process) Job() *Job { return p.job }

// Leader returns the job's first process.
func (j *Job) Leader() *Process { return j.leader }

// Ending is closed as soon as the job starts to end: its leader was killed
// or exited (the leader's wait status is set by then). Every other process
// of the job has been told to leave or soon will be; Done follows once
// their threads are gone.
func (j *Job) Ending() <-chan struct{} { return j.ending }

// Done is closed once every thread of the job has exited. The leader is
// reaped by then (its Status stays readable): nothing of the job is left in
// the process table.
func (j *Job) Done() <-chan struct{} { return j.done }

func (j *Job) end() { j.endOnce.Do(func() { close(j.ending) }) }

// addTask counts a new thread of the job.
func (j *Job) addTask() {
	j.mu.Lock()
	j.tasks++
	j.mu.Unlock()
}

// taskExited uncounts a thread that is gone; the last one reaps the leader
// (the kernel's init collects its own children) and ends the job.
func (j *Job) taskExited() {
	j.mu.Lock()
	j.tasks--
	last := j.tasks == 0
	j.mu.Unlock()
	if !last {
		return
	}
	j.end()
	j.k.dropProcess(j.leader.PID)
	j.k.freePID(j.leader.PID)
	close(j.done)
}

// Kill ends the job: its leader dies with the given wait status, every
// other process of the job of SIGKILL.
func (j *Job) Kill(status int) {
	j.leader.Kill(status)
	for _, q := range j.k.liveProcs() {
		if q.job == j {
			q.Kill(WaitStatusSignaled(unix.SIGKILL, false))
		}
	}
}

// adopt makes the job's leader the parent of orphan c, unless the leader is
// c's dead parent itself or has become a zombie meanwhile: then it reports
// false and c is the kernel init's. c's parent is set first, so that a
// leader becoming a zombie concurrently either finds c among its children
// (and hands it on) or is seen as a zombie here.
func (j *Job) adopt(c, dead *Process) bool {
	l := j.leader
	if l == dead || c.job != j {
		return false
	}
	c.mu.Lock()
	c.parent = l
	zombie := c.zombie
	c.mu.Unlock()
	l.mu.Lock()
	if l.zombie {
		l.mu.Unlock()
		c.mu.Lock()
		c.parent = nil
		c.mu.Unlock()
		return false
	}
	l.children[c.PID] = c
	l.mu.Unlock()
	if zombie {
		l.stateChanged.notify()
	}
	return true
}

// reparent hands the children of dead, which just became a zombie, to
// their new reaper: the job's leader, or the kernel's init, which reaps
// zombies at once and the others when they die.
func (k *Kernel) reparent(dead *Process, children map[int]*Process) {
	for _, c := range children {
		if dead.job.adopt(c, dead) {
			continue
		}
		c.mu.Lock()
		c.parent = nil
		zombie := c.zombie
		c.mu.Unlock()
		if zombie {
			k.reapOrphan(c)
		}
	}
}

// reapOrphan is the kernel init's wait: a zombie whose parent is the init
// leaves the process table at once. Job leaders wait for their job's end.
func (k *Kernel) reapOrphan(p *Process) {
	if p.job.leader == p {
		return
	}
	k.dropProcess(p.PID)
	k.freePID(p.PID)
}

// initChildExited handles a child of the kernel's init that became a
// zombie: an orphan is reaped at once; a job's leader ends its job (and is
// reaped with the job's last thread).
func (k *Kernel) initChildExited(p *Process) {
	j := p.job
	if j.leader != p {
		k.reapOrphan(p)
		return
	}
	// When the leader dies, the job dies: like a pid namespace's init,
	// every other process of the job is killed. The kills run on one
	// goroutine of their own: the caller holds locks of the dying leader
	// that Kill may need.
	var others []*Process
	for _, q := range k.liveProcs() {
		if q != p && q.job == j {
			others = append(others, q)
		}
	}
	if len(others) > 0 {
		go func() {
			defer k.Recover()
			for _, q := range others {
				q.Kill(WaitStatusSignaled(unix.SIGKILL, false))
			}
		}()
	}
	j.end()
}
