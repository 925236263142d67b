// Command cronguard-ping sends one ping for cronguard: an HTTP POST of its
// standard input to the URL it is given. It lives apart from cronguard so
// that every cron run does not pay for net/http and TLS (3.3 MB of binary
// and 0.36 ms a start, measured in BENCHMARKS.md); only runs that ping
// start it. cronguard does the retries.
//
//	cronguard-ping TIMEOUT URL < BODY
//
// Exit 0: answered 2xx. 3: answered with another status (a retry would not
// help). 1: no answer or a 5xx (a retry may help). 2: bad usage.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stderr)) }

// maxBody bounds what is read from stdin: cronguard sends at most 10 KB.
const maxBody = 1 << 20

func run(args []string, stdin io.Reader, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "usage: cronguard-ping TIMEOUT URL < BODY")
		return 2
	}
	timeout, err := time.ParseDuration(args[0])
	if err != nil || timeout <= 0 {
		fmt.Fprintf(stderr, "cronguard-ping: timeout %q: want a Go duration\n", args[0])
		return 2
	}
	body, err := io.ReadAll(io.LimitReader(stdin, maxBody))
	if err != nil {
		fmt.Fprintf(stderr, "cronguard-ping: reading the body: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, args[1], strings.NewReader(string(body)))
	if err != nil {
		fmt.Fprintf(stderr, "cronguard-ping: %v\n", err)
		return 3
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("User-Agent", "cronguard")
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment,
		DisableKeepAlives: true, ResponseHeaderTimeout: timeout}}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 500:
		fmt.Fprintf(stderr, "HTTP %s\n", resp.Status)
		return 1
	case resp.StatusCode >= 300:
		fmt.Fprintf(stderr, "HTTP %s\n", resp.Status)
		return 3
	}
	return 0
}
