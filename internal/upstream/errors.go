package upstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"golang.org/x/oauth2"
)

var (
	// ErrUnavailable reports an upstream that could not be used: a network
	// error or timeout, an HTTP 5xx or 429, a malformed, unexpected or
	// oversized response, or a discovery document that does not match the
	// configuration. The cause is wrapped for logs. Trying again later may
	// succeed; callers answer 503 with Retry-After, or a page that says
	// sign-in is unavailable, and change no state.
	ErrUnavailable = errors.New("upstream unavailable")
	// ErrInvalidIDToken reports an ID token that failed validation; the
	// reason is wrapped for logs, never for users.
	ErrInvalidIDToken = errors.New("invalid upstream ID token")
	// ErrInvalidCallback reports a callback to our redirect URI that is
	// not a valid authorization response from this upstream: no code, or
	// another issuer's iss (RFC 9207).
	ErrInvalidCallback = errors.New("invalid upstream callback")
	// ErrNoRevocation reports an upstream without a revocation endpoint.
	ErrNoRevocation = errors.New("upstream has no revocation endpoint")
)

// Error is an OAuth error the upstream answered (RFC 6749 §4.1.2.1, §5.2;
// RFC 7009 §2.2.1): invalid_grant for a dead refresh token, access_denied
// when the user cancelled, invalid_client for wrong credentials. Description
// comes from the upstream (or, on a callback, from whoever made the link):
// log it, never show it unescaped.
type Error struct {
	Code        string
	Description string
	Status      int // the HTTP status of the upstream's answer; 0 on a callback
}

func (e *Error) Error() string {
	if e.Description == "" {
		return "upstream error " + e.Code
	}
	return fmt.Sprintf("upstream error %s: %s", e.Code, e.Description)
}

// unavailable wraps cause as ErrUnavailable for the upstream id.
func unavailable(id, op string, cause error) error {
	return fmt.Errorf("upstream %s: %s: %w: %w", id, op, ErrUnavailable, cause)
}

// tokenError classifies an error from x/oauth2's token requests: an OAuth
// error answered with a 4xx (or a 200, as some servers do) is an *Error;
// everything else is ErrUnavailable.
func tokenError(id, op string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		status := re.Response.StatusCode
		if re.ErrorCode != "" && status < 500 && status != http.StatusTooManyRequests {
			return fmt.Errorf("upstream %s: %s: %w", id, op,
				&Error{Code: re.ErrorCode, Description: re.ErrorDescription, Status: status})
		}
		return unavailable(id, op, fmt.Errorf("HTTP %d", status))
	}
	return unavailable(id, op, err)
}

// responseError classifies a non-2xx answer read by this package (the
// revocation endpoint): a 4xx with an OAuth error body is an *Error.
func responseError(id, op string, res *http.Response) error {
	status := res.StatusCode
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	b, err := io.ReadAll(res.Body)
	if err == nil {
		err = json.Unmarshal(b, &body)
	}
	if err == nil && body.Error != "" && status < 500 && status != http.StatusTooManyRequests {
		return fmt.Errorf("upstream %s: %s: %w", id, op, &Error{Code: body.Error, Description: body.Description, Status: status})
	}
	return unavailable(id, op, fmt.Errorf("HTTP %d", status))
}
