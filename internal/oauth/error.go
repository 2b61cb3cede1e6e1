package oauth

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// ErrorCode is an OAuth error code (RFC 6749 §4.1.2.1, §5.2; RFC 8628 §3.5).
type ErrorCode string

// The error codes grantd sends.
const (
	InvalidRequest         ErrorCode = "invalid_request"
	InvalidClient          ErrorCode = "invalid_client"
	InvalidGrant           ErrorCode = "invalid_grant"
	UnauthorizedClient     ErrorCode = "unauthorized_client"
	UnsupportedGrantType   ErrorCode = "unsupported_grant_type"
	InvalidScope           ErrorCode = "invalid_scope"
	AccessDenied           ErrorCode = "access_denied"
	AuthorizationPending   ErrorCode = "authorization_pending"
	SlowDown               ErrorCode = "slow_down"
	ExpiredToken           ErrorCode = "expired_token"
	ServerError            ErrorCode = "server_error"
	TemporarilyUnavailable ErrorCode = "temporarily_unavailable"
)

// Error is a protocol error: what the client is told, and, in Cause, what
// only the log sees. Endpoints return it; WriteError renders it.
type Error struct {
	Code        ErrorCode
	Description string // safe to show: never echoes raw input (TOK-07)
	Status      int
	// RetryAfter, when set, is sent as the Retry-After header (429, 503).
	RetryAfter time.Duration
	// Challenge asks WriteError to send WWW-Authenticate: Basic, as RFC 6749
	// §5.2 requires when the client tried HTTP Basic authentication.
	Challenge bool
	Cause     error
}

func (e *Error) Error() string {
	if e.Description == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Description
}

// Unwrap returns the cause, so errors.Is sees through protocol errors.
func (e *Error) Unwrap() error { return e.Cause }

// NewError returns a fresh error with the status RFC 6749 §5.2 gives code:
// 401 for invalid_client, 400 for the others (500/503 for server errors).
func NewError(code ErrorCode, description string) *Error {
	status := http.StatusBadRequest
	switch code {
	case InvalidClient:
		status = http.StatusUnauthorized
	case ServerError:
		status = http.StatusInternalServerError
	case TemporarilyUnavailable:
		status = http.StatusServiceUnavailable
	}
	return &Error{Code: code, Description: description, Status: status}
}

// Unavailable is the answer to an infrastructure fault (a store that does not
// answer): 503 with Retry-After, never a definitive negative and never a
// false success (docs/SECURITY.md INV-01).
func Unavailable(cause error) *Error {
	return &Error{
		Code:        TemporarilyUnavailable,
		Description: "The service is temporarily unavailable; retry later.",
		Status:      http.StatusServiceUnavailable,
		RetryAfter:  5 * time.Second,
		Cause:       cause,
	}
}

// TooManyRequests is the answer when an attempt budget is spent.
func TooManyRequests(retryAfter time.Duration) *Error {
	return &Error{
		Code:        InvalidRequest,
		Description: "Too many requests; retry later.",
		Status:      http.StatusTooManyRequests,
		RetryAfter:  retryAfter,
	}
}

// AsError turns any error into the *Error to render: protocol errors as they
// are, anything else as an opaque 500 server_error carrying the cause.
func AsError(err error) *Error {
	if e, ok := err.(*Error); ok { // as endpoints return them; errors.As would allocate
		return e
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: ServerError, Description: "Internal server error.", Status: http.StatusInternalServerError, Cause: err}
}

// retryAfterSeconds formats d as whole seconds, at least 1 (RFC 9110 §10.2.3).
func retryAfterSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(s, 1), 10)
}
