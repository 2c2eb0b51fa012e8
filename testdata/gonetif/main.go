// Command gonetif lists the network interfaces with Go's net package
// (net.Interfaces, Interface.Addrs, net.InterfaceByName,
// net.InterfaceAddrs: netlink RTM_GETLINK and RTM_GETADDR dumps). With
// the argument "lo" it shows only the loopback interface, which is the
// same natively and in the sandbox; "all" shows everything.
package main

import (
	"fmt"
	"net"
	"os"
)

func check(err error) {
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

func main() {
	onlyLo := len(os.Args) > 1 && os.Args[1] == "lo"
	ifs, err := net.Interfaces()
	check(err)
	for _, ifc := range ifs {
		if onlyLo && ifc.Name != "lo" {
			continue
		}
		fmt.Printf("interface %d %s mtu %d flags %v hw %q\n", ifc.Index, ifc.Name, ifc.MTU, ifc.Flags, ifc.HardwareAddr.String())
		addrs, err := ifc.Addrs()
		check(err)
		for _, a := range addrs {
			fmt.Printf("  addr %s %s\n", a.Network(), a)
		}
	}
	lo, err := net.InterfaceByName("lo")
	check(err)
	fmt.Println("InterfaceByName(lo):", lo.Index, lo.Name)
	byIndex, err := net.InterfaceByIndex(1)
	check(err)
	fmt.Println("InterfaceByIndex(1):", byIndex.Name)
	_, err = net.InterfaceByName("nosuchif")
	fmt.Println("InterfaceByName(nosuchif):", err)
	all, err := net.InterfaceAddrs()
	check(err)
	for _, a := range all {
		ip, _, _ := net.ParseCIDR(a.String())
		if onlyLo && !ip.IsLoopback() {
			continue
		}
		fmt.Println("InterfaceAddrs:", a)
	}
}
