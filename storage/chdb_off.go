//go:build nochdb

package storage

import (
	"context"
	"errors"
)

// ErrNoLibCHDB is returned when a chdb:// URL is opened by a keelson built
// with -tags nochdb: the server image, a static binary without the embedded
// engine's loader (it talks to ClickHouse servers only).
var ErrNoLibCHDB = errors.New("storage: this keelson is built without embedded ClickHouse (-tags nochdb); use a clickhouse:// URL")

func openCHDB(ctx context.Context, dir string, opts Options) (engine, error) {
	return nil, ErrNoLibCHDB
}
