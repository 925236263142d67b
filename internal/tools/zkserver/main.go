// Command zkserver runs a throwaway standalone ZooKeeper server (via
// internal/zktest) for demo scripts such as `make demo`: it prints the
// client address once the server is ready, optionally writes it to a file
// the script can wait for, and runs until SIGTERM/SIGINT, then removes the
// server and its data and exits 0.
//
// Usage:
//
//	zkserver [-tick 200ms] [-addr-file PATH] [-min-session D] [-max-session D]
//
// It exits 1 if the server cannot start or dies on its own.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/cronguard/cronguard/internal/zktest"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("zkserver: ")
	tick := flag.Duration("tick", 200*time.Millisecond, "ZooKeeper tickTime (sessions may last 2..20 ticks)")
	addrFile := flag.String("addr-file", "", "write the client address (127.0.0.1:port) to this file once the server is ready")
	minSession := flag.Duration("min-session", 0, "minSessionTimeout (default 2*tick)")
	maxSession := flag.Duration("max-session", 0, "maxSessionTimeout (default 20*tick)")
	verbose := flag.Bool("v", false, "log lifecycle events to stderr")
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}

	// Subscribe before starting so a signal during start-up is not lost.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	opts := []zktest.Option{
		zktest.WithTickTime(*tick),
		zktest.WithSessionTimeouts(*minSession, *maxSession),
	}
	if *verbose {
		opts = append(opts, zktest.WithLogf(log.Printf))
	}
	// A signal during start-up cancels the start; it is also buffered in
	// sigs, so one arriving just as the server becomes ready is not lost.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	srv, err := zktest.Start(ctx, opts...)
	stop()
	if err != nil {
		if ctx.Err() != nil {
			os.Exit(0) // asked to stop before we were ready
		}
		log.Fatal(err)
	}

	if *addrFile != "" {
		if err := writeFileAtomic(*addrFile, srv.Addr()+"\n"); err != nil {
			srv.Close()
			log.Fatal(err)
		}
	}
	fmt.Println(srv.Addr())

	code := 0
	select {
	case sig := <-sigs:
		if *verbose {
			log.Printf("got %v, shutting down", sig)
		}
	case <-srv.Exited():
		log.Printf("ZooKeeper exited unexpectedly; last log lines:\n%s", srv.LogTail(30))
		code = 1
	}
	if err := srv.Close(); err != nil {
		log.Print(err)
	}
	if *addrFile != "" {
		os.Remove(*addrFile)
	}
	os.Exit(code)
}

// writeFileAtomic writes via rename so a script polling for the file never
// reads a partial address.
func writeFileAtomic(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".zkserver-addr-*")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
