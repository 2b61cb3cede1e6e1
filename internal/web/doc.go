// Package web is what grantd's HTML pages share: server-side sessions, CSRF
// tokens, sign-in with local accounts, attempt budgets, one layout and
// stylesheet, and the security headers every page carries.
//
// A Site holds the dependencies. Its Mount registers the sign-in routes;
// other packages (the device verification pages, later the /authorize
// consent page) wrap their handlers in Site.Handler, call RequireUser to
// get the signed-in user, bind every form to the session with CSRFToken and
// CheckForm, and render through Render and Error.
//
// Sessions live in the store, so they survive a restart: the cookie holds a
// random 256-bit id, the store only its SHA-256. The id is rotated at sign-in
// (UI-05). A CSRF token is an HMAC keyed with the raw session id over the
// form's purpose and the request it decides (DEV-13); page routes are also
// behind http.CrossOriginProtection.
//
// Pages are server-rendered with html/template, need no JavaScript, and load
// nothing from other sites but the operator's logo: the CSP allows only this
// site's stylesheet, and images from it and the logo's origin (UI-01 to
// UI-04, UI-09). Their words come from package locale, in the language Lang
// chooses for the request; errors are Messages, rendered in that language
// at the one edge, Error. The Brand — name, logo, accent, help page — is
// the operator's; the accent reaches the pages through the stylesheet,
// whose URL carries a hash of its contents.
package web
