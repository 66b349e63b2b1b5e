// Command keelson is the one binary of the Keelson maritime telemetry
// platform: collector, broker, sink, API and tools, as subcommands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		cancel()
		<-sig
		fmt.Fprintln(os.Stderr, "keelson: second signal, exiting now")
		os.Exit(130)
	}()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	cancel()
	if err != nil {
		if err != errUsage {
			fmt.Fprintln(os.Stderr, "keelson:", err)
		}
		os.Exit(exitCode(err))
	}
}
