package storage

import (
	"context"
	"errors"
	"testing"
	"time"
)

// openTestDB opens an embedded database in a temporary directory. It skips
// under -short and fails when libchdb.so is missing in a full run.
func openTestDB(t testing.TB) *DB {
	t.Helper()
	if testing.Short() {
		t.Skip("embedded ClickHouse: skipped with -short")
	}
	db, err := Open(context.Background(), "chdb://"+t.TempDir(), Options{})
	if err != nil {
		t.Fatalf("open embedded ClickHouse: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestEngineParamsRoundTrip(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	tricky := "a\tb\\c'd\n\"e\x00f"
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)
	var (
		x  int64
		s  string
		tt time.Time
		xs []string
		f  float64
		b  string
	)
	err := db.QueryRow(ctx, "SELECT {x:Int64} * 2, {s:String}, {t:DateTime64(3,'UTC')}, {xs:Array(String)}, {f:Float64}, {b:String}",
		Params{"x": 21, "s": tricky, "t": ts, "xs": []string{"it's", `back\slash`}, "b": "[x\\y", "f": 1.5}, &x, &s, &tt, &xs, &f, &b)
	if err != nil {
		t.Fatal(err)
	}
	if x != 42 || s != tricky || !tt.Equal(ts) || len(xs) != 2 || xs[0] != "it's" || xs[1] != `back\slash` || f != 1.5 || b != "[x\\y" {
		t.Fatalf("got %d %q %v %q %v", x, s, tt, xs, f)
	}
	// A parameter is a value, never SQL.
	var n uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM numbers(10) WHERE toString(number) = {s:String}",
		Params{"s": "1' OR '1'='1"}, &n); err != nil || n != 0 {
		t.Fatalf("injection: n=%d err=%v", n, err)
	}
}

func TestEngineErrors(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	_, err := db.Query(ctx, "SELECT nope", nil, nil)
	var qe *QueryError
	if !errors.Is(err, ErrQuery) || !errors.As(err, &qe) {
		t.Fatalf("want QueryError, got %v", err)
	}
	if err := db.Exec(ctx, "CREATE TABLE ro (a UInt8) ENGINE = Memory", nil, Settings{"readonly": 1}); !errors.Is(err, ErrQuery) {
		t.Fatalf("readonly: want ErrQuery, got %v", err)
	}
	if err := db.QueryRow(ctx, "SELECT 1 WHERE 0", nil, new(uint8)); !errors.Is(err, ErrNoRows) {
		t.Fatalf("want ErrNoRows, got %v", err)
	}
	if _, err := db.Query(ctx, "SELECT 1", Params{"bad name": 1}, nil); !errors.Is(err, ErrParam) {
		t.Fatalf("want ErrParam, got %v", err)
	}
}

func TestEngineStreamAndConcurrency(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	rows, err := db.Query(ctx, "SELECT number, toString(number) FROM numbers({n:UInt64})", Params{"n": 1_000_000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var i uint64
	for rows.Next() {
		var a uint64
		var s string
		if err := rows.Scan(&a, &s); err != nil {
			t.Fatal(err)
		}
		if a != i {
			t.Fatalf("row %d: %d", i, a)
		}
		i++
		if i == 10 {
			// A small query runs while the stream is open.
			var one uint8
			if err := db.QueryRow(ctx, "SELECT 1", nil, &one); err != nil || one != 1 {
				t.Fatalf("concurrent query: %v", err)
			}
		}
	}
	if err := rows.Err(); err != nil || i != 1_000_000 {
		t.Fatalf("streamed %d rows, err %v", i, err)
	}
	// Closing early releases the connection.
	for k := 0; k < 10; k++ {
		rows, err := db.Query(ctx, "SELECT number FROM numbers(10000000)", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		rows.Next()
		rows.Close()
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"mysql://x", "chdb://", "::"} {
		if _, err := Open(ctx, u, Options{}); !errors.Is(err, ErrURL) {
			t.Errorf("%q: want ErrURL, got %v", u, err)
		}
	}
	if err := (Options{Retention: time.Hour}).Validate(); err == nil {
		t.Error("Retention 1h accepted")
	}
	t.Setenv(LibCHDBEnv, "/nonexistent/libchdb.so")
	if _, err := findLibCHDB(); !errors.Is(err, ErrNoLibCHDB) {
		t.Errorf("missing lib: %v", err)
	}
}

func TestQueryNonStreamable(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	rows, err := db.Query(ctx, "SHOW DATABASES", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if rows.Err() != nil || n == 0 {
		t.Fatalf("SHOW DATABASES: %d rows, %v", n, rows.Err())
	}
	if _, err := db.Query(ctx, "DROP TABLE nope", nil, Settings{"readonly": 1}); !errors.Is(err, ErrQuery) {
		t.Fatalf("want ErrQuery, got %v", err)
	}
}
