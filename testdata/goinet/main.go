// goinet: Go's net package on the loopback, built static (CGO_ENABLED=0):
// TCP listeners on 127.0.0.1:0 and [::1]:0 with concurrent clients, a
// deadline, a refused dial, and UDP over both families. The output is the
// same natively and in the sandbox.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

func check(err error) {
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

// echoTCP serves upper-cased lines on network/addr to n clients at once.
func echoTCP(network, addr string, n int) {
	ln, err := net.Listen(network, addr)
	check(err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					io.WriteString(c, strings.ToUpper(line))
				}
			}()
		}
	}()
	var wg sync.WaitGroup
	results := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial(network, ln.Addr().String())
			if err != nil {
				results[i] = "dial: " + err.Error()
				return
			}
			defer c.Close()
			r := bufio.NewReader(c)
			var got []string
			for j := range 3 {
				fmt.Fprintf(c, "client %d line %d\n", i, j)
				line, err := r.ReadString('\n')
				if err != nil {
					results[i] = "read: " + err.Error()
					return
				}
				got = append(got, strings.TrimSpace(line))
			}
			results[i] = strings.Join(got, ", ")
		}()
	}
	wg.Wait()
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	fmt.Printf("%s listener on %s\n", network, host)
	for i, r := range results {
		fmt.Printf("  %d: %s\n", i, r)
	}
	// A read deadline on an idle connection.
	c, err := net.Dial(network, ln.Addr().String())
	check(err)
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_, err = c.Read(make([]byte, 1))
	fmt.Println("  idle read with deadline times out:", errors.Is(err, os.ErrDeadlineExceeded))
	c.Close()
	// A big transfer one way, the listener counting.
	ln2, err := net.Listen(network, addr)
	check(err)
	done := make(chan int64)
	go func() {
		c, err := ln2.Accept()
		check(err)
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		done <- n
	}()
	c, err = net.Dial(network, ln2.Addr().String())
	check(err)
	buf := make([]byte, 64<<10)
	for range 64 {
		_, err := c.Write(buf)
		check(err)
	}
	c.Close()
	fmt.Println("  bytes received:", <-done)
	ln2.Close()
}

func udp(network, addr string) {
	a, err := net.ListenPacket(network, addr)
	check(err)
	defer a.Close()
	b, err := net.ListenPacket(network, addr)
	check(err)
	defer b.Close()
	for _, msg := range []string{"one", "two", "three"} {
		_, err := b.WriteTo([]byte(msg), a.LocalAddr())
		check(err)
	}
	buf := make([]byte, 100)
	for range 3 {
		n, from, err := a.ReadFrom(buf)
		check(err)
		fmt.Printf("%s got %q from the sender: %v\n", network, buf[:n], from.String() == b.LocalAddr().String())
	}
	c, err := net.Dial(network, a.LocalAddr().String())
	check(err)
	c.Write([]byte("connected"))
	n, _, err := a.ReadFrom(buf)
	check(err)
	fmt.Printf("%s connected send: %q\n", network, buf[:n])
	c.Close()
}

func main() {
	echoTCP("tcp", "127.0.0.1:0", 4)
	echoTCP("tcp6", "[::1]:0", 4)
	echoTCP("tcp", "[::]:0", 2) // dual-stack
	// A dial to a port nobody listens on (one this process holds unlistened).
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	check(err)
	port := l.LocalAddr().(*net.UDPAddr).Port
	l.Close()
	s, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	check(err)
	check(syscall.Bind(s, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}))
	_, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	fmt.Println("dial a port without a listener: refused", errors.Is(err, syscall.ECONNREFUSED))
	syscall.Close(s)
	udp("udp4", "127.0.0.1:0")
	udp("udp6", "[::1]:0")
}
