// Package storagetest has helpers for tests of packages above storage
// that need a real embedded ClickHouse.
package storagetest

import (
	"context"
	"testing"

	"github.com/keelson/keelson/storage"
)

// Open opens an embedded database in a temporary directory, migrated to
// the current schema, and closes it when the test ends. It skips under
// -short and fails (never skips) when libchdb.so is missing in a full run.
func Open(t testing.TB) *storage.DB {
	t.Helper()
	db := OpenBare(t)
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

// OpenBare is Open without the schema: no tables.
func OpenBare(t testing.TB) *storage.DB {
	t.Helper()
	if testing.Short() {
		t.Skip("embedded ClickHouse: skipped with -short")
	}
	db, err := storage.Open(context.Background(), "chdb://"+t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatalf("open embedded ClickHouse: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
