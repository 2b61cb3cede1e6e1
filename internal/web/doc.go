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
// nothing from other sites: the CSP allows only this site's stylesheet
// (UI-01 to UI-04, UI-09).
package web
