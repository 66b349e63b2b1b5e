package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

func httptestServer(t testing.TB, s *Server) string {
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}

type httpHeader = http.Header

// discardRW is a ResponseWriter that throws the body away.
type discardRW struct{ *httptest.ResponseRecorder }

func (d discardRW) Write(b []byte) (int, error) { return io.Discard.Write(b) }
