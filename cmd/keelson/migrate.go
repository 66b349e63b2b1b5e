//go:build !shipboard

package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/keelson/keelson/storage"
)

func runMigrate(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("migrate", "migrate [-clickhouse URL] [-cluster NAME] [-print]", io.err)
	var (
		st       storageFlags
		print    bool
		logLevel string
	)
	st.register(fs)
	fs.BoolVar(&print, "print", false, "print the DDL instead of applying it")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	if err := fs.parse(args); err != nil {
		return err
	}
	log, err := newLogger(io.err, logLevel)
	if err != nil {
		return err
	}
	opts := st.options(log)
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if print {
		for _, s := range storage.DDL(opts) {
			fmt.Fprintf(io.out, "%s;\n\n", strings.TrimSpace(s))
		}
		return nil
	}
	db, err := storage.Open(ctx, st.url, opts)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if len(applied) == 0 {
		fmt.Fprintf(io.out, "schema is at version %d\n", storage.SchemaVersion())
	} else {
		fmt.Fprintf(io.out, "applied schema versions %v; schema is at version %d\n", applied, storage.SchemaVersion())
	}
	return nil
}
