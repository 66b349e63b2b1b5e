package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Every flag has an environment-variable twin and may be set in a YAML config
// file given with -config (or KEELSON_CONFIG). One precedence rule, for every
// command:
//
//	command-line flag  >  KEELSON_* environment variable  >  config file  >  default
//
// The environment variable of a flag is KEELSON_ and the flag's name in upper
// case with '-' and '.' turned into '_' (-batch-size: KEELSON_BATCH_SIZE).
// The config file is a YAML mapping from flag names to values; a list value
// sets a repeatable flag once per item. A key that names no flag is an error.

// flagSet is a flag.FlagSet with env and config-file layering.
type flagSet struct {
	*flag.FlagSet
	config string
	w      io.Writer
}

// newFlagSet returns a flag set for the command name, printing usage to w.
func newFlagSet(name, synopsis string, w io.Writer) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), w: w}
	fs.SetOutput(w)
	fs.StringVar(&fs.config, "config", "", "YAML config file mapping flag names to values")
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: keelson %s\n\nFlags (each also settable as the KEELSON_* variable shown, or in -config):\n", synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "  -%s  [%s]\n      %s%s\n", f.Name, envName(f.Name), f.Usage, def)
		})
		fmt.Fprintf(w, "\nPrecedence: command-line flag > KEELSON_* environment > config file > default.\n")
	}
	return fs
}

// envName is the environment twin of a flag.
func envName(flagName string) string {
	return "KEELSON_" + strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToUpper(flagName))
}

// parse parses args, then fills every flag not given on the command line from
// the environment, then from the config file.
func (fs *flagSet) parse(args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["config"] {
		if v, ok := os.LookupEnv(envName("config")); ok {
			fs.config = v
		}
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == "config" {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			// A repeatable flag takes a comma-separated list from the environment.
			if _, rep := f.Value.(*listFlag); rep {
				for _, item := range strings.Split(v, ",") {
					if item = strings.TrimSpace(item); item != "" {
						if err := f.Value.Set(item); err != nil {
							errs = append(errs, fmt.Errorf("%s: %w", envName(f.Name), err))
						}
					}
				}
			} else if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", envName(f.Name), v, err))
			}
			set[f.Name] = true
		}
	})
	if fs.config != "" {
		if err := fs.applyConfig(set); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (fs *flagSet) applyConfig(set map[string]bool) error {
	b, err := os.ReadFile(fs.config)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("config %s: %w", fs.config, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := fs.Lookup(k)
		if f == nil || k == "config" {
			return fmt.Errorf("config %s: %q is not a flag of keelson %s", fs.config, k, fs.Name())
		}
		if set[k] {
			continue
		}
		vals := []any{m[k]}
		if l, ok := m[k].([]any); ok {
			vals = l
		}
		for _, v := range vals {
			if err := f.Value.Set(fmt.Sprint(v)); err != nil {
				return fmt.Errorf("config %s: %s: %w", fs.config, k, err)
			}
		}
	}
	return nil
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set appends one value.
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
