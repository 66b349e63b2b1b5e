package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Sentinel errors, matched with errors.Is. Each maps to one HTTP status and
// one error code of the JSON error body.
var (
	ErrInvalidParam  = errors.New("api: invalid parameter")  // 400 invalid_parameter
	ErrUnauthorized  = errors.New("api: missing or bad key") // 401 unauthorized
	ErrOutOfScope    = errors.New("api: out of scope")       // 403 out_of_scope
	ErrNotFound      = errors.New("api: not found")          // 404 not_found
	ErrRateLimited   = errors.New("api: rate limited")       // 429 rate_limited
	ErrUnavailable   = errors.New("api: not ready")          // 503 unavailable
	ErrInvalidKey    = errors.New("api: invalid key format")
	ErrInvalidScope  = errors.New("api: invalid scope")
	ErrInvalidConfig = errors.New("api: invalid config")
)

// Error is an error with a message that is safe to show to the caller.
type Error struct {
	Kind    error  // one of the sentinels above
	Message string // shown to the caller
	// RetryAfter, when positive, is sent as the Retry-After header (whole
	// seconds, rounded up): when a 429 or 503 is worth retrying.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Message }

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

func badParam(name, format string, args ...any) *Error {
	return &Error{Kind: ErrInvalidParam, Message: name + ": " + fmt.Sprintf(format, args...)}
}

// status maps an error to its HTTP status and code. Anything unknown is a 500.
func status(err error) (int, string) {
	switch {
	case errors.Is(err, ErrInvalidParam):
		return http.StatusBadRequest, "invalid_parameter"
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized, "unauthorized"
	case errors.Is(err, ErrOutOfScope):
		return http.StatusForbidden, "out_of_scope"
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, ErrRateLimited):
		return http.StatusTooManyRequests, "rate_limited"
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable"
	}
	return http.StatusInternalServerError, "internal"
}
