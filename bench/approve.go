package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
)

// approver is a user at grantd's verification pages (RFC 8628 §3.3): signed
// in once, it enters user codes and presses Approve, as a person would on a
// phone. It is set-up for scenarios 3–5, not measured.
type approver struct {
	base      string
	client    *http.Client
	enterCSRF string
}

// newApprover signs in to t's pages with a session of its own.
func newApprover(ctx context.Context, t *Target) (*approver, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	a := &approver{base: t.Base.String(), client: &http.Client{
		Jar:           jar,
		Timeout:       setupClient.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	page, err := a.get(ctx, "/signin?return_to=%2Fdevice")
	if err != nil {
		return nil, err
	}
	csrf, err := formField(page, "/signin", "csrf_token")
	if err != nil {
		return nil, fmt.Errorf("sign-in page: %w", err)
	}
	status, _, err := a.post(ctx, "/signin", url.Values{"csrf_token": {csrf},
		"username": {t.Username}, "password": {t.Password}, "return_to": {"/device"}})
	if err != nil {
		return nil, err
	}
	if status != http.StatusSeeOther {
		return nil, fmt.Errorf("sign in as %q: status %d, want 303", t.Username, status)
	}
	if page, err = a.get(ctx, "/device"); err != nil {
		return nil, err
	}
	if a.enterCSRF, err = formField(page, "/device", "csrf_token"); err != nil {
		return nil, fmt.Errorf("code entry page: %w", err)
	}
	return a, nil
}

// approve enters userCode and approves the device.
func (a *approver) approve(ctx context.Context, userCode string) error {
	status, page, err := a.post(ctx, "/device", url.Values{"csrf_token": {a.enterCSRF}, "user_code": {userCode}})
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("enter code %s: status %d", userCode, status)
	}
	csrf, err := formField(page, "/device/decision", "csrf_token")
	if err != nil {
		return fmt.Errorf("confirmation page: %w", err)
	}
	code, err := formField(page, "/device/decision", "user_code")
	if err != nil {
		return fmt.Errorf("confirmation page: %w", err)
	}
	status, page, err = a.post(ctx, "/device/decision", url.Values{"csrf_token": {csrf}, "user_code": {code}, "action": {"approve"}})
	if err != nil {
		return err
	}
	if status != http.StatusOK || !strings.Contains(page, "approved") {
		return fmt.Errorf("approve %s: status %d", userCode, status)
	}
	return nil
}

func (a *approver) get(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return "", err
	}
	_, body, err := a.do(req)
	return body, err
}

func (a *approver) post(ctx context.Context, path string, form url.Values) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return a.do(req)
}

func (a *approver) do(req *http.Request) (int, string, error) {
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), err
}

// formField returns the value of the input named name in the form whose
// action is action.
func formField(page, action, name string) (string, error) {
	i := strings.Index(page, `action="`+action+`"`)
	if i < 0 {
		return "", fmt.Errorf("no form with action %q", action)
	}
	form := page[i:]
	if end := strings.Index(form, "</form>"); end >= 0 {
		form = form[:end]
	}
	j := strings.Index(form, `name="`+name+`"`)
	if j < 0 {
		return "", fmt.Errorf("form %q has no field %q", action, name)
	}
	rest := form[j:]
	k := strings.Index(rest, `value="`)
	if k < 0 || strings.IndexByte(rest[:k], '>') >= 0 {
		return "", fmt.Errorf("field %q of form %q has no value", name, action)
	}
	v := rest[k+len(`value="`):]
	v, _, _ = strings.Cut(v, `"`)
	return html.UnescapeString(v), nil
}

// approveAll approves every code with sessions users signed in at once.
func approveAll(ctx context.Context, t *Target, codes []deviceCode, sessions int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for range min(sessions, len(codes)) {
		wg.Go(func() {
			a, err := newApprover(ctx, t)
			if err != nil {
				errs <- err
				return
			}
			for {
				i := int(next.Add(1)) - 1
				if i >= len(codes) || ctx.Err() != nil {
					return
				}
				if err := a.approve(ctx, codes[i].UserCode); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}
