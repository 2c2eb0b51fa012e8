package tests

// splice(2), tee(2) and vmsplice(2) (testdata/splice.c): files, pipes and
// sockets, offsets, flags and errors, natively and in the sandbox.

import "testing"

var spliceCases = []modeCase{
	{name: "splice", prog: "splice", args: []string{"@TMP@"}, want: spliceWant},
}

func TestSplice(t *testing.T) { runModeCases(t, spliceCases) }

const spliceWant = `file to pipe at 2: 5, off 7, pos 0
pipe: 5 "23456"
file to pipe at the position: 3, pos 3
pipe: 3 "012"
file to pipe past the end: 1
file to pipe at EOF: 0
pipe: 1 "9"
pipe to file at 12: 4, off 16
file: 16 "0123456789"
pipe to file at the position: 2, pos 5
file: 16 "012ef56789"
pipe to pipe: 4
q: 4 "pipe"
p: 5 "2pipe"
tee: 3
q: 3 "tee"
p: 7 "teedata"
socket to pipe: 4
pipe: 4 "sock"
pipe to socket: 4
socket read: 4
len 0, bad fds: 0
bad flags: EINVAL
bad fd in: EBADF
bad fd out: EBADF
offset on the input pipe: ESPIPE
offset on the output pipe: ESPIPE
file to file: EINVAL
same pipe: EINVAL
to O_APPEND: EINVAL
to O_RDONLY: EBADF
from O_WRONLY: EBADF
negative offset in: EINVAL
negative offset out: EINVAL
p: 1 "x"
empty pipe, SPLICE_F_NONBLOCK: EAGAIN
from a directory: EINVAL
empty O_NONBLOCK pipe to file: EAGAIN
empty pipe to pipe, O_NONBLOCK out: EAGAIN
fill: 65536
file to full pipe, O_NONBLOCK: EAGAIN
q: EAGAIN ""
to a pipe without readers: EPIPE
from a pipe without writers: 0
tee file: EINVAL
tee same pipe: EINVAL
tee len 0: 0
tee bad flags: EINVAL
tee empty, SPLICE_F_NONBLOCK: EAGAIN
tee from a pipe without writers: 0
tee bad fd: EBADF
vmsplice to a pipe: 8
vmsplice from a pipe: 8 "vmsplice"
vmsplice empty, SPLICE_F_NONBLOCK: EAGAIN
vmsplice to a file: EBADF
vmsplice nothing to a file: 0
vmsplice bad flags: EINVAL
vmsplice bad fd: EBADF
vmsplice too many: EINVAL
`
