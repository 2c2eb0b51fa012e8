// Command gounix uses Go's net package over AF_UNIX (issue 12): a stream
// listener with concurrent clients, unixgram, unixpacket, an abstract name
// and descriptor passing, in the directory given as its argument. The
// output is the same natively and in the sandbox.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
)

func check(err error) {
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

func stream(dir string) {
	path := filepath.Join(dir, "go.sock")
	l, err := net.Listen("unix", path)
	check(err)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				fmt.Fprintf(c, "echo %s", line)
			}()
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []string
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("unix", path)
			check(err)
			defer c.Close()
			fmt.Fprintf(c, "client %d\n", i)
			line, err := bufio.NewReader(c).ReadString('\n')
			check(err)
			mu.Lock()
			got = append(got, strings.TrimSpace(line))
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Strings(got)
	fmt.Println("stream:", strings.Join(got, ", "))
	fi, err := os.Stat(path)
	check(err)
	fmt.Println("socket file:", fi.Mode()&os.ModeSocket != 0)
	check(l.Close())
	_, err = os.Stat(path)
	fmt.Println("removed on close:", os.IsNotExist(err))
	_, err = net.Dial("unix", path)
	fmt.Println("dial after close:", err != nil)
}

func datagram(dir string) {
	srv, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "g.sock"), Net: "unixgram"})
	check(err)
	defer srv.Close()
	cli, err := net.DialUnix("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "c.sock"), Net: "unixgram"}, srv.LocalAddr().(*net.UnixAddr))
	check(err)
	defer cli.Close()
	for _, m := range []string{"a", "bb", "ccc"} {
		_, err := cli.Write([]byte(m))
		check(err)
	}
	buf := make([]byte, 10)
	for range 3 {
		n, from, err := srv.ReadFromUnix(buf)
		check(err)
		fmt.Printf("unixgram: %q from %s\n", buf[:n], filepath.Base(from.Name))
	}
}

func packet() {
	name := fmt.Sprintf("@lbt-go-%08x", os.Getpid())
	l, err := net.Listen("unixpacket", name)
	check(err)
	defer l.Close()
	done := make(chan string)
	go func() {
		c, err := l.Accept()
		check(err)
		defer c.Close()
		b := make([]byte, 100)
		var out []string
		for range 2 {
			n, err := c.Read(b)
			check(err)
			out = append(out, string(b[:n]))
		}
		done <- strings.Join(out, "|")
	}()
	c, err := net.Dial("unixpacket", name)
	check(err)
	defer c.Close()
	_, _ = c.Write([]byte("rec one"))
	_, _ = c.Write([]byte("rec two"))
	fmt.Println("unixpacket abstract:", <-done)
}

func rights() {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	check(err)
	a, err := net.FileConn(os.NewFile(uintptr(fds[0]), "a"))
	check(err)
	b, err := net.FileConn(os.NewFile(uintptr(fds[1]), "b"))
	check(err)
	r, w, err := os.Pipe()
	check(err)
	_, err = w.WriteString("passed")
	check(err)
	w.Close()
	_, _, err = a.(*net.UnixConn).WriteMsgUnix([]byte("x"), syscall.UnixRights(int(r.Fd())), nil)
	check(err)
	r.Close()
	oob := make([]byte, syscall.CmsgSpace(4))
	_, oobn, _, _, err := b.(*net.UnixConn).ReadMsgUnix(make([]byte, 1), oob)
	check(err)
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	check(err)
	got, err := syscall.ParseUnixRights(&msgs[0])
	check(err)
	f := os.NewFile(uintptr(got[0]), "passed")
	buf := make([]byte, 20)
	n, _ := f.Read(buf)
	fmt.Printf("rights: %q\n", buf[:n])
}

func main() {
	stream(os.Args[1])
	datagram(os.Args[1])
	packet()
	rights()
}
