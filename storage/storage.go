// Package storage is Keelson's ClickHouse layer: the only package that holds
// SQL. It speaks to ClickHouse two ways behind one API:
//
//   - embedded, through chDB (ClickHouse's engine in-process, loaded from
//     libchdb.so at Open time): URL "chdb:///var/lib/keelson" (a data
//     directory, created when missing, surviving restarts). One process may
//     have a given directory open at a time; Open it once and share the *DB.
//   - a ClickHouse server (>= 24) over the native protocol with
//     github.com/ClickHouse/clickhouse-go/v2: URL
//     "clickhouse://user:password@host:9440/db?tls_ca=/etc/ca.pem&dial_timeout=5s"
//     (clickhouse-go's options: secure, skip_verify, dial_timeout,
//     compress, ...; and ours: tls_ca, tls_cert, tls_key PEM files).
//
// # Engine API (stable)
//
//	db, err := storage.Open(ctx, "chdb:///var/lib/keelson", storage.Options{})
//	defer db.Close()
//
//	rows, err := db.Query(ctx,
//		"SELECT mmsi, lat, lon FROM latest WHERE lat BETWEEN {s:Float64} AND {n:Float64}",
//		storage.Params{"s": 54.0, "n": 56.0}, nil)
//	defer rows.Close()
//	for rows.Next() {
//		var mmsi uint32
//		var lat, lon float64
//		if err := rows.Scan(&mmsi, &lat, &lon); err != nil { ... }
//	}
//	err = rows.Err()
//
//	err = db.Exec(ctx, "OPTIMIZE TABLE positions FINAL", nil, nil)
//
// Every value reaches ClickHouse as a server-side query parameter, written
// {name:Type} in the SQL and given in [Params]; no value is ever formatted
// into SQL text. Scan follows clickhouse-go's rules on both engines (the
// embedded engine's results are decoded by the same column code): a UInt32
// scans into *uint32, a DateTime64 into *time.Time, a LowCardinality(String)
// into *string, an Array(T) into *[]T, and any column into *any.
// Rows stream: a result of any size is read in constant memory, block by
// block, on both engines.
//
// [Settings] are per-query ClickHouse settings (max_execution_time, readonly,
// ...); on the embedded engine they are appended to the statement as a
// SETTINGS clause, so a statement given Settings must not end in its own
// SETTINGS or FORMAT clause.
//
// Inserts of decoded events go through [DB.InsertEvents] (one call per batch,
// with an insert_deduplication_token so that a retried batch adds nothing);
// the schema is applied by [DB.Migrate].
package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Errors.
var (
	// ErrURL is returned by Open for a URL it cannot use.
	ErrURL = errors.New("storage: invalid ClickHouse URL")
	// ErrQuery wraps every error ClickHouse reports for a statement.
	ErrQuery = errors.New("storage: query failed")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("storage: database closed")
	// ErrParam is returned for a parameter value that cannot be bound.
	ErrParam = errors.New("storage: invalid query parameter")
)

// QueryError is an error reported by ClickHouse; errors.Is(err, ErrQuery).
type QueryError struct {
	Code int // ClickHouse error code, 0 when unknown
	Msg  string
}

func (e *QueryError) Error() string { return "storage: clickhouse: " + strings.TrimSpace(e.Msg) }

// Unwrap makes errors.Is(err, ErrQuery) true.
func (e *QueryError) Unwrap() error { return ErrQuery }

// Params are a statement's server-side parameters, by name. Values may be
// string, []byte, bool, any integer or float type, time.Time (bound with
// millisecond precision in UTC; declare {t:DateTime64(3)}), time.Duration
// (seconds, as a float), fmt.Stringer, or slices of these ({xs:Array(T)}).
type Params map[string]any

// Settings are per-query ClickHouse settings. Values are bool, integers,
// floats or strings.
type Settings map[string]any

// Options configure Open. The zero value is a single-node database with
// data kept forever.
type Options struct {
	// Cluster, when set, makes Migrate create Replicated*MergeTree tables and
	// Distributed tables ON CLUSTER Cluster (server only; see docs/scale-out.md).
	Cluster string
	// Retention is how long rows of the time-series tables are kept (a TTL on
	// positions, observations, telemetry, messages and events); 0 keeps
	// everything. Whole days only.
	Retention time.Duration
	// Conns is the number of embedded-engine connections (concurrent
	// statements); 0 means 4. The server path uses clickhouse-go's pool
	// (MaxOpenConns defaults to 10 there).
	Conns int
	// ReadOnly opens a database on which every statement runs with
	// readonly=1: only reads are accepted.
	ReadOnly bool
	// BlockCache is how many bytes of decompressed column blocks the
	// embedded engine keeps for short reads (ClickHouse's uncompressed
	// cache; Track uses it, scans and exports do not): a block read again
	// skips its decompression, ~1 ms of a one-day track. 0 means 256 MiB;
	// negative turns it off. The server path uses the server's own
	// uncompressed_cache_size.
	BlockCache int64
	// Logger receives the storage layer's logs; nil discards them.
	Logger *slog.Logger
}

// Validate checks the options.
func (o Options) Validate() error {
	if o.Retention < 0 || o.Retention%(24*time.Hour) != 0 {
		return fmt.Errorf("storage: Options.Retention %v: must be a whole number of days >= 0", o.Retention)
	}
	if o.BlockCache > 1<<40 {
		return fmt.Errorf("storage: Options.BlockCache %d: must be at most 1 TiB", o.BlockCache)
	}
	if o.Conns < 0 || o.Conns > 64 {
		return fmt.Errorf("storage: Options.Conns %d: must be 0..64", o.Conns)
	}
	if o.Cluster != "" && !isIdent(o.Cluster) {
		return fmt.Errorf("storage: Options.Cluster %q: must be an identifier", o.Cluster)
	}
	return nil
}

// Rows is a streaming query result.
type Rows interface {
	// Next advances to the next row; false at the end or on error (see Err).
	Next() bool
	// Scan copies the current row's columns into dest, one pointer per column.
	Scan(dest ...any) error
	// Columns returns the result's column names.
	Columns() []string
	// ColumnTypes returns the result's ClickHouse column types.
	ColumnTypes() []string
	// Values returns the current row's values, each of its column's Go
	// scan type (uint32, string, time.Time, []string, *float64 for a
	// Nullable(Float64), ...).
	Values() ([]any, error)
	// Err returns the error that ended the iteration, if any.
	Err() error
	// Close releases the result; safe to call more than once.
	Close() error
}

// engine is what each ClickHouse access path implements.
type engine interface {
	query(ctx context.Context, sql string, params map[string]string, settings Settings) (Rows, error)
	exec(ctx context.Context, sql string, params map[string]string, settings Settings) error
	// insert writes one block of columns into table in one statement.
	insert(ctx context.Context, table string, b *block, settings Settings) error
	close() error
	name() string
}

// DB is an open ClickHouse database, safe for concurrent use.
type DB struct {
	eng  engine
	opts Options
	log  *slog.Logger
	url  string
}

// Open opens the database at rawURL: "chdb:///path/to/dir" (embedded) or
// "clickhouse://host:9000/db?..." (server). It checks the connection but
// does not migrate; call Migrate.
func Open(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Conns == 0 {
		opts.Conns = 4
	}
	if opts.BlockCache == 0 {
		opts.BlockCache = 256 << 20
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrURL, err)
	}
	db := &DB{opts: opts, log: opts.Logger.With("component", "storage"), url: redact(u)}
	switch u.Scheme {
	case "chdb":
		dir := u.Path
		if u.Host != "" { // chdb://relative/dir
			dir = u.Host + u.Path
		}
		if u.Opaque != "" {
			dir = u.Opaque
		}
		if dir == "" {
			return nil, fmt.Errorf("%w: %q: chdb URL needs a directory (chdb:///var/lib/keelson)", ErrURL, rawURL)
		}
		db.eng, err = openCHDB(ctx, dir, opts)
	case "clickhouse", "tcp", "clickhouses":
		db.eng, err = openServer(ctx, u, opts)
	default:
		return nil, fmt.Errorf("%w: %q: scheme must be chdb or clickhouse", ErrURL, rawURL)
	}
	if err != nil {
		return nil, err
	}
	db.log.Info("opened", "url", db.url, "engine", db.eng.name())
	return db, nil
}

func redact(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User(c.User.Username())
	}
	return c.String()
}

// Engine returns "chdb" or "server".
func (db *DB) Engine() string { return db.eng.name() }

// Options returns the options the database was opened with.
func (db *DB) Options() Options { return db.opts }

// Close closes the database.
func (db *DB) Close() error { return db.eng.close() }

// Query runs a statement that returns rows. Close the Rows.
func (db *DB) Query(ctx context.Context, sql string, params Params, settings Settings) (Rows, error) {
	p, err := formatParams(params)
	if err != nil {
		return nil, err
	}
	return db.eng.query(ctx, sql, p, db.settings(settings))
}

// wholeQuerier is an engine that can read a statement's result whole,
// faster than streaming it for a small result (the embedded engine).
type wholeQuerier interface {
	queryWhole(ctx context.Context, sql string, params map[string]string, settings Settings) (Rows, error)
}

// queryWhole is Query for a statement whose result is bounded (a LIMIT, a
// point read): the embedded engine reads it in one call; the server
// streams it as Query does.
func (db *DB) queryWhole(ctx context.Context, sql string, params Params, settings Settings) (Rows, error) {
	w, ok := db.eng.(wholeQuerier)
	if !ok {
		return db.Query(ctx, sql, params, settings)
	}
	p, err := formatParams(params)
	if err != nil {
		return nil, err
	}
	return w.queryWhole(ctx, sql, p, db.settings(settings))
}

// QueryRow runs a statement and scans its first row into dest; it returns
// ErrNoRows when there is none.
func (db *DB) QueryRow(ctx context.Context, sql string, params Params, dest ...any) error {
	rows, err := db.Query(ctx, sql, params, nil)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

// ErrNoRows is returned by QueryRow for an empty result.
var ErrNoRows = errors.New("storage: no rows")

// Exec runs a statement that returns no rows.
func (db *DB) Exec(ctx context.Context, sql string, params Params, settings Settings) error {
	p, err := formatParams(params)
	if err != nil {
		return err
	}
	return db.eng.exec(ctx, sql, p, db.settings(settings))
}

func (db *DB) settings(s Settings) Settings {
	if !db.opts.ReadOnly {
		return s
	}
	m := Settings{"readonly": 1}
	for k, v := range s {
		if k != "readonly" {
			m[k] = v
		}
	}
	return m
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
