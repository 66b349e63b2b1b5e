package api

import (
	"log/slog"
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
