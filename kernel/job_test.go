package kernel_test

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

func waitClosed(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatalf("%s: not closed", what)
	}
}

// TestJobs: two commands of one kernel. Orphans go to their job's leader
// while it lives (a grandchild whose parent exited has getppid == the
// leader's pid, even after setsid), the leader's death kills the rest of
// its job and only that job, the kernel's init takes and reaps the
// orphans, and the job is done, with nothing of it left in the process
// table, once its last thread is gone.
func TestJobs(t *testing.T) {
	k := kernel.New(kernel.Config{FS: vfs.New(memfs.New(0))})
	newJob := func() *kernel.Process {
		p, err := k.NewProcess(newMM(), [3]*vfs.File{}, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.FDs.CloseAll() })
		return p
	}
	a, b := newJob(), newJob()
	if a.PID != 1 || a.Getppid() != 0 || a.Sid() != a.PID || a.Pgid() != a.PID {
		t.Fatalf("first job's leader: pid %d ppid %d sid %d pgid %d", a.PID, a.Getppid(), a.Sid(), a.Pgid())
	}
	if b.Getppid() != 0 || b.Sid() != b.PID || b.Pgid() != b.PID || b.Job() == a.Job() {
		t.Fatalf("second job's leader: pid %d ppid %d sid %d pgid %d", b.PID, b.Getppid(), b.Sid(), b.Pgid())
	}
	child := fork(t, a)
	grand := fork(t, child.Proc)
	if _, err := grand.Setsid(); err != nil {
		t.Fatal(err)
	}
	bChild := fork(t, b)

	// The child exits: its child goes to the job's leader, a subreaper.
	child.ExitTask(0)
	if got := grand.Proc.Getppid(); got != a.PID {
		t.Fatalf("orphan's getppid = %d, want the leader's %d", got, a.PID)
	}
	if res, err := a.Leader().Wait(child.Proc.PID, kernel.WaitOptions{Exited: true}); err != nil || res.PID != child.Proc.PID {
		t.Fatalf("leader's wait for its child = %+v, %v", res, err)
	}

	// The leader exits: the rest of its job is killed, the other job not.
	a.Leader().ExitTask(3)
	waitClosed(t, "job ending", a.Job().Ending())
	waitClosed(t, "orphan dying", grand.Killable().Done())
	if got := grand.Proc.Getppid(); got != 0 {
		t.Errorf("orphan of a dead leader: getppid = %d, want 0 (the kernel's init)", got)
	}
	if isClosed(a.Job().Done()) {
		t.Fatal("job done while one of its threads is still there")
	}
	if b.Exiting() || bChild.Proc.Exiting() || isClosed(b.Job().Ending()) {
		t.Fatal("another job was killed with the first")
	}
	grand.ExitTask(0)
	waitClosed(t, "job done", a.Job().Done())
	if a.Status() != kernel.WaitStatusExited(3) {
		t.Errorf("leader's status %#x, want exit 3", a.Status())
	}
	for _, pid := range []int{a.PID, child.Proc.PID, grand.Proc.PID} {
		if _, ok := k.Process(pid); ok {
			t.Errorf("pid %d of the ended job is still in the process table", pid)
		}
	}
	if got, want := k.PIDs(), []int{b.PID, bChild.Proc.PID}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("pids after the first job = %v, want %v", got, want)
	}

	// Killing a job's leader ends that job with the leader's status.
	b.Job().Kill(kernel.WaitStatusSignaled(unix.SIGTERM, false))
	waitClosed(t, "second job ending", b.Job().Ending())
	waitClosed(t, "second job's child dying", bChild.Killable().Done())
	bChild.ExitTask(0)
	b.Leader().ExitTask(0)
	waitClosed(t, "second job done", b.Job().Done())
	if b.Status() != kernel.WaitStatusSignaled(unix.SIGTERM, false) {
		t.Errorf("killed leader's status %#x", b.Status())
	}
	if pids := k.PIDs(); len(pids) != 0 {
		t.Errorf("pids left after both jobs: %v", pids)
	}
}
