package storage

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// serverEngine speaks the native protocol to a ClickHouse server.
type serverEngine struct {
	conn driver.Conn
}

func openServer(ctx context.Context, u *url.URL, opts Options) (*serverEngine, error) {
	c := *u
	if c.Scheme == "clickhouses" {
		c.Scheme = "clickhouse"
		q := c.Query()
		q.Set("secure", "true")
		c.RawQuery = q.Encode()
	}
	if c.Scheme == "tcp" {
		c.Scheme = "clickhouse"
	}
	// Our own TLS options (clickhouse-go's DSN has secure and skip_verify
	// only): tls_ca (PEM CA file to trust), tls_cert and tls_key (client
	// certificate); any of them implies secure=true.
	q := c.Query()
	ca, cert, key := q.Get("tls_ca"), q.Get("tls_cert"), q.Get("tls_key")
	q.Del("tls_ca")
	q.Del("tls_cert")
	q.Del("tls_key")
	if ca != "" || cert != "" {
		q.Set("secure", "true")
	}
	c.RawQuery = q.Encode()
	o, err := clickhouse.ParseDSN(c.String())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrURL, err)
	}
	if ca != "" || cert != "" || key != "" {
		if o.TLS == nil {
			o.TLS = &tls.Config{}
		}
		if ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return nil, fmt.Errorf("%w: tls_ca: %v", ErrURL, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%w: tls_ca %s: no PEM certificate", ErrURL, ca)
			}
			o.TLS.RootCAs = pool
		}
		if (cert == "") != (key == "") {
			return nil, fmt.Errorf("%w: tls_cert and tls_key go together", ErrURL)
		}
		if cert != "" {
			kp, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return nil, fmt.Errorf("%w: tls_cert/tls_key: %v", ErrURL, err)
			}
			o.TLS.Certificates = []tls.Certificate{kp}
		}
	}
	o.Protocol = clickhouse.Native
	conn, err := clickhouse.Open(o)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("storage: connecting to %s: %w", redact(u), wrapServerErr(err))
	}
	return &serverEngine{conn: conn}, nil
}

func (e *serverEngine) name() string { return "server" }
func (e *serverEngine) close() error { return e.conn.Close() }

func wrapServerErr(err error) error {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return &QueryError{Code: int(ex.Code), Msg: ex.Error()}
	}
	return err
}

func (e *serverEngine) ctx(ctx context.Context, params map[string]string, settings Settings) context.Context {
	var opts []clickhouse.QueryOption
	if len(params) > 0 {
		opts = append(opts, clickhouse.WithParameters(clickhouse.Parameters(params)))
	}
	if len(settings) > 0 {
		s := clickhouse.Settings{}
		for k, v := range settings {
			s[k] = v
		}
		opts = append(opts, clickhouse.WithSettings(s))
	}
	if len(opts) == 0 {
		return ctx
	}
	return clickhouse.Context(ctx, opts...)
}

func (e *serverEngine) exec(ctx context.Context, sql string, params map[string]string, settings Settings) error {
	return wrapServerErr(e.conn.Exec(e.ctx(ctx, params, settings), sql))
}

func (e *serverEngine) query(ctx context.Context, sql string, params map[string]string, settings Settings) (Rows, error) {
	rows, err := e.conn.Query(e.ctx(ctx, params, settings), sql)
	if err != nil {
		return nil, wrapServerErr(err)
	}
	return &serverRows{rows: rows}, nil
}

// insert uses PrepareBatch naming the columns (which also keeps the wire
// compatible with old servers) and appends whole columns.
func (e *serverEngine) insert(ctx context.Context, table string, b *block, settings Settings) error {
	batch, err := e.conn.PrepareBatch(e.ctx(ctx, nil, settings), "INSERT INTO "+table+" "+b.names())
	if err != nil {
		return wrapServerErr(err)
	}
	for i, c := range b.cols {
		if err := batch.Column(i).Append(c.values()); err != nil {
			batch.Abort()
			return fmt.Errorf("storage: insert %s.%s: %w", table, c.colName(), err)
		}
	}
	return wrapServerErr(batch.Send())
}

type serverRows struct {
	rows driver.Rows
}

func (r *serverRows) Next() bool             { return r.rows.Next() }
func (r *serverRows) Scan(dest ...any) error { return wrapServerErr(r.rows.Scan(dest...)) }
func (r *serverRows) Columns() []string      { return r.rows.Columns() }
func (r *serverRows) ColumnTypes() []string {
	ct := r.rows.ColumnTypes()
	s := make([]string, len(ct))
	for i, c := range ct {
		s[i] = c.DatabaseTypeName()
	}
	return s
}
func (r *serverRows) Values() ([]any, error) {
	ct := r.rows.ColumnTypes()
	ptrs := make([]any, len(ct))
	for i, c := range ct {
		ptrs[i] = reflect.New(c.ScanType()).Interface()
	}
	if err := r.rows.Scan(ptrs...); err != nil {
		return nil, wrapServerErr(err)
	}
	for i, p := range ptrs {
		ptrs[i] = reflect.ValueOf(p).Elem().Interface()
	}
	return ptrs, nil
}

func (r *serverRows) Err() error   { return wrapServerErr(r.rows.Err()) }
func (r *serverRows) Close() error { return wrapServerErr(r.rows.Close()) }
