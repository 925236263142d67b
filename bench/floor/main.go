// Command floor is a measurement prop for `make bench` (issue 16), not part
// of cronguard: the least a Go wrapper with a shim does for a guarded run,
// and so the floor cronguard's cost is compared with. It connects to
// ZooKeeper, reads one znode with a watch (the fleet config), creates an
// ephemeral node (the lock), starts a re-exec'd copy of itself as the shim,
// which starts the job, waits for it and exits with its code, then deletes
// the node and closes the session. No config file, no logging, no run
// record, no signal handling: go-zookeeper with its default options, as a
// minimal program would use it.
//
//	floor ZKADDRS ZNODE LOCKNODE COMMAND [ARG...]
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
)

const shimArg = "__floor_shim"

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

func main() {
	if len(os.Args) > 2 && os.Args[1] == shimArg {
		os.Exit(shim(os.Args[2:]))
	}
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: floor ZKADDRS ZNODE LOCKNODE COMMAND [ARG...]")
		os.Exit(2)
	}
	os.Exit(run(strings.Split(os.Args[1], ","), os.Args[2], os.Args[3], os.Args[4:]))
}

func fail(what string, err error) int {
	fmt.Fprintf(os.Stderr, "floor: %s: %v\n", what, err)
	return 125
}

func run(servers []string, znode, lock string, command []string) int {
	conn, events, err := zk.Connect(servers, 30*time.Second, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		return fail("connect", err)
	}
	defer conn.Close()
	for ev := range events {
		if ev.State == zk.StateHasSession {
			break
		}
	}
	if _, _, _, err := conn.GetW(znode); err != nil {
		return fail("read "+znode, err)
	}
	if _, err := conn.Create(lock, nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		return fail("lock "+lock, err)
	}
	cmd := exec.Command("/proc/self/exe", append([]string{shimArg}, command...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	code := 0
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			return fail("shim", err)
		}
		code = ee.ExitCode()
	}
	if err := conn.Delete(lock, -1); err != nil {
		return fail("unlock "+lock, err)
	}
	return code
}

// shim starts the job (in the same process group),
// with a parent-death SIGKILL, and exits with its code.
func shim(command []string) int {
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "floor shim: %v\n", err)
		return 127
	}
	return 0
}
