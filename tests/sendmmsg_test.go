package tests

// sendmmsg(2) (testdata/sendmmsg.c), natively and in the sandbox: glibc's
// resolver sends its A and AAAA queries with it, so name resolution under
// --net egress needs it.

import "testing"

func TestSendmmsg(t *testing.T) {
	runModeCases(t, []modeCase{{name: "sendmmsg", prog: "sendmmsg", want: sendmmsgWant}})
}

const sendmmsgWant = `udp: sendmmsg 3, lens 3 4 5
udp: recv 3 one
udp: recv 4 two!
udp: recv 5 three
unix: sendmmsg 3, lens 3 4 5
unix: recv 3 one
unix: recv 4 two!
unix: recv 5 three
vlen 0: 0
bad vector: EFAULT
second bad: 1, len 2
first bad: EFAULT
bad fd: EBADF
not a socket: ENOTSOCK
after the errors: 2
`
