package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// errUsage is returned after a usage message has been printed.
var errUsage = errors.New("usage")

// stdio is what a subcommand reads and writes.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// command is one subcommand of the keelson binary.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, io stdio) error
}

// commands lists every subcommand. Each lives in a file of its own name.
// The shore commands (sink, serve, ...) come from shoreCommands, which the
// shipboard build (-tags shipboard) leaves out.
func commands() map[string]command {
	cmds := map[string]command{
		// one line per subcommand, kept sorted
		"broker":      {"run a local Kafka-protocol broker (kfake) for development and tests", runBroker},
		"collect":     {"run the onboard collector: NMEA/AIS inputs -> disk spool -> Kafka", runCollect},
		"decode":      {"decode NMEA 0183 / AIS lines to JSON (Keelson events or gpsd's)", runDecode},
		"healthcheck": {"probe an HTTP health endpoint (container health checks)", runHealthcheck},
	}
	for name, c := range shoreCommands() {
		cmds[name] = c
	}
	return cmds
}

// run is the whole program; tests call it directly.
func run(ctx context.Context, args []string, in io.Reader, out, errw io.Writer) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		usage(errw, cmds)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	name := args[0]
	if name == "help" {
		if len(args) < 2 {
			usage(out, cmds)
			return nil
		}
		c, ok := cmds[args[1]]
		if !ok {
			return fmt.Errorf("unknown command %q (see keelson help)", args[1])
		}
		if err := c.run(ctx, []string{"-help"}, stdio{in, out, out}); !errors.Is(err, flag.ErrHelp) {
			return err
		}
		return nil
	}
	c, ok := cmds[name]
	if !ok {
		usage(errw, cmds)
		return fmt.Errorf("unknown command %q", name)
	}
	err := c.run(ctx, args[1:], stdio{in, out, errw})
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("keelson: maritime vessel telemetry, from ship to shore\n\nUsage: keelson COMMAND [flags]\n\nCommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-11s %s\n", n, cmds[n].summary)
	}
	b.WriteString("\nRun 'keelson help COMMAND' for a command's flags and environment variables.\n")
	io.WriteString(w, b.String())
}

// exitCode maps an error to the process exit status.
func exitCode(err error) int {
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	if err == errUsage {
		return 2
	}
	return 1
}
