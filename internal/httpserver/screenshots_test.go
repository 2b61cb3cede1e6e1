package httpserver_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/grantd/grantd/internal/browsertest"
	"github.com/grantd/grantd/internal/locale"
)

// replayPrefix is where the screenshot test serves the tour's pages again,
// on the server's own origin, so that their stylesheet and icon load as
// they would.
const replayPrefix = "/__tour/"

// pageLook is what the screenshot test measures of a page in the browser.
type pageLook struct {
	ScrollWidth, InnerWidth int
	Lang                    string
	Missing                 bool
	Styled                  bool
	Background              string
}

const measure = `(() => {
	const d = document.documentElement;
	return {
		scrollWidth: d.scrollWidth, innerWidth: window.innerWidth, lang: d.lang,
		missing: d.outerHTML.includes(` + "`" + locale.MissingMark + "`" + `),
		styled: getComputedStyle(document.querySelector("main")).borderTopLeftRadius !== "0px",
		background: getComputedStyle(document.body).backgroundColor,
	};
})()`

// TestPageScreenshots looks at every page of the tour (TestPagesInEveryLanguage)
// in every language in headless Chromium, on a phone (390×844) and a
// desktop (1280×800), in light and dark: no page is wider than the screen,
// none lacks a message, each is in its language and styled by the site's
// stylesheet in the colour scheme asked for. With GRANTD_SCREENSHOTS
// naming a folder it saves each as LANG-PAGE-WxH-SCHEME.png there.
func TestPageScreenshots(t *testing.T) {
	t.Parallel()
	e := newEnv(t, tourVars)
	secret := tourClients(e)
	type shot struct {
		lang locale.Lang
		tourPage
	}
	var shots []shot
	for _, lang := range locale.Supported() {
		for _, p := range e.tour(t, lang, secret) {
			shots = append(shots, shot{lang, p})
		}
	}
	e.front = func(w http.ResponseWriter, r *http.Request) bool {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, replayPrefix))
		if !strings.HasPrefix(r.URL.Path, replayPrefix) || err != nil || n < 0 || n >= len(shots) {
			return false
		}
		resp := shots[n].resp
		for k, v := range resp.Header {
			if k != "Set-Cookie" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(resp.StatusCode)
		io.WriteString(w, resp.Body)
		return true
	}
	backgrounds := map[string]string{"light": "rgb(243, 244, 246)", "dark": "rgb(11, 15, 23)"}
	for _, size := range []struct{ w, h int }{{390, 844}, {1280, 800}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			ctx := browsertest.NewSized(t, size.w, size.h)
			for _, scheme := range []string{"light", "dark"} {
				// Headless Chromium's window is at least 500 wide: the
				// viewport of a phone is set, not the window.
				err := chromedp.Run(ctx,
					emulation.SetDeviceMetricsOverride(int64(size.w), int64(size.h), 1, size.w < 500),
					emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}))
				if err != nil {
					t.Fatalf("emulate %s: %v", scheme, err)
				}
				for i, s := range shots {
					name := fmt.Sprintf("%s-%s-%dx%d-%s", s.lang, s.name, size.w, size.h, scheme)
					var look pageLook
					err := chromedp.Run(ctx, chromedp.Navigate(e.srv.URL+replayPrefix+strconv.Itoa(i)),
						chromedp.Evaluate(measure, &look), browsertest.Screenshot(name))
					switch {
					case err != nil:
						t.Fatalf("%s: %v", name, err)
					case look.InnerWidth != size.w:
						t.Fatalf("%s: the viewport is %d wide, want %d", name, look.InnerWidth, size.w)
					case look.ScrollWidth > look.InnerWidth:
						t.Errorf("%s: overflows: %d wide on a %d screen", name, look.ScrollWidth, look.InnerWidth)
					}
					if look.Missing || look.Lang != string(s.lang) {
						t.Errorf("%s: missing message %v, lang %q", name, look.Missing, look.Lang)
					}
					if !look.Styled || look.Background != backgrounds[scheme] {
						t.Errorf("%s: styled %v, background %s, want the stylesheet's %s", name, look.Styled, look.Background, backgrounds[scheme])
					}
				}
			}
		})
	}
}
