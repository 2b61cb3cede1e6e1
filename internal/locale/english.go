package locale

// english is the reference catalog: every other language defines exactly
// its keys, with the same placeholders.
var english = map[Key]string{
	// The layout, on every page.
	"layout.signed_in": "Signed in as",
	"layout.account":   "Your devices and apps",
	"layout.sign_out":  "Sign out",
	"layout.support":   "Help and privacy",

	// The home page, /.
	"home.title":        "Welcome",
	"home.lead":         "{site} connects your TVs, speakers and other devices, and the apps you use, to your account.",
	"home.device":       "Connect a device",
	"home.device_hint":  "Is a device showing you a code? Enter it here.",
	"home.account":      "Your devices and apps",
	"home.account_hint": "See what can use your account, and take access away.",

	// Sign-in.
	"signin.title":       "Sign in",
	"signin.lead":        "Sign in to your {site} account to continue.",
	"signin.or":          "or sign in with your user name",
	"signin.username":    "Username",
	"signin.password":    "Password",
	"signin.submit":      "Sign in",
	"signin.failed":      "Incorrect username or password.",
	"signin.unavailable": "Signing in is not available on this server yet. Please contact its operator.",
	"signin.with":        "Sign in with {name}",
	"signin.local_off":   "Signing in with a password is turned off here. Use one of the sign-in buttons.",

	// Code entry, /device.
	"enter.title":         "Connect a device",
	"enter.lead":          "Enter the code shown on your device.",
	"enter.label":         "User code",
	"enter.submit":        "Continue",
	"enter.invalid_title": "That code didn't work",
	"enter.invalid_lead":  "Check the code on your device and type it again. If your device shows a new code, use that one.",
	"enter.expired_title": "This code has expired — start again on your device",
	"enter.expired_lead":  "When you start again, your device shows a new code: enter it here.",

	// The approve-or-deny page.
	"confirm.title":   "Approve this device?",
	"confirm.lead":    "A device is asking to sign in to your account.",
	"confirm.compare": "Check that this code matches the one shown on your device:",
	"confirm.app":     "Application",
	"confirm.warning": "Only approve if you started this on a device you have with you. If someone sent you this code, choose Deny.",
	"confirm.approve": "Approve",
	"confirm.deny":    "Deny",

	// Scopes, wherever they are listed.
	"scopes.requested": "Access requested",
	"scopes.none":      "No extra access",

	// After a decision.
	"result.approved_title": "Device approved",
	"result.approved_lead":  "{app} can now use your account.",
	"result.approved_next":  "You can return to your device now: it finishes signing in by itself within a few seconds.",
	"result.denied_title":   "Request denied",
	"result.denied_lead":    "{app} was not given access to your account.",
	"result.denied_next":    "Your device will say that the request was denied. You can close this page.",
	"result.manage":         "You can see and revoke what uses your account at any time.",

	// The consent page, /authorize.
	"consent.title":    "Allow access?",
	"consent.heading":  "Allow {app} to use your account?",
	"consent.lead":     "An application is asking for access to your account.",
	"consent.app":      "Application",
	"consent.logo":     "{app} logo",
	"consent.website":  "Website",
	"consent.redirect": "You will be sent to",
	"consent.warning":  "Only approve if you started this yourself and trust this application.",
	"consent.later":    "You can revoke its access at any time:",
	"consent.approve":  "Approve",
	"consent.deny":     "Deny",

	// The account page, /account.
	"account.title":         "Your devices and apps",
	"account.lead":          "These devices and apps can use your account. Revoke any you do not recognise or no longer use.",
	"account.empty":         "No linked apps or devices.",
	"account.kind_device":   "Device sign-in",
	"account.kind_app":      "Linked app",
	"account.kind_other":    "Access",
	"account.approved":      "Approved",
	"account.last_used":     "Last used",
	"account.never_known":   "Not known yet",
	"account.access":        "Access",
	"account.revoke":        "Revoke",
	"account.revoke_label":  "Revoke {app}, approved {date}",
	"account.revoked":       "Revoked: {app} ({kind}, approved {date}) can no longer use your account.",
	"revoke.title":          "Revoke access?",
	"revoke.heading":        "Revoke {app}?",
	"revoke.lead":           "{app} ({kind}, approved {date}) will no longer be able to use your account.",
	"revoke.next":           "To use your account again, it will have to be connected anew.",
	"revoke.confirm":        "Revoke",
	"revoke.cancel":         "Cancel",
	"revoke.unknown":        "That access was already removed, or is not yours to remove.",
	"revoke.choose":         "Choose what to revoke.",
	"account.revoked_title": "Access revoked",

	// Error pages: headings, by kind.
	"error.title_bad":         "That didn't work",
	"error.title_forbidden":   "This page has expired",
	"error.title_not_found":   "Page not found",
	"error.title_too_large":   "That form was too large",
	"error.title_too_many":    "Too many attempts",
	"error.title_internal":    "Something went wrong",
	"error.title_unavailable": "Please try again shortly",
	"error.title_denied":      "You can't do that here",
	"error.title_signin":      "Sign-in didn't work",

	// Error pages: what happened, and what to do.
	"error.internal":        "Something went wrong on our side. Please try again.",
	"error.form_too_large":  "The form you sent is too large.",
	"error.form_unreadable": "The form you sent could not be read. Go back, reload the page and try again.",
	"error.forbidden":       "This form has expired or did not come from this site. Go back, reload the page and try again.",
	"error.too_many":        "To protect your account, attempts from here are paused. You can try again {when}.",
	"error.unavailable":     "The service is briefly unavailable. Please try again {when}.",
	"error.busy":            "We are checking many sign-ins right now. Please try again {when}.",
	"error.not_found":       "There is no page at this address.",
	"error.choose":          "Choose Approve or Deny.",
	"error.start_over":      "Start over",
	"error.back_account":    "Back to your devices and apps",
	"error.home":            "Go to the start page",
	"error.passthrough":     "{app} needs you to sign in with your account at its sign-in provider, not with a password here. Sign out, then sign in with the provider's button.",

	// Errors of /authorize: the way back is the application.
	"authorize.unreadable":   "This sign-in link could not be read. Go back to the application and try again.",
	"authorize.client":       "This sign-in link names no known application. Go back to the application and try again.",
	"authorize.redirect":     "This sign-in link does not lead back to an address registered for the application, so it was stopped. Go back to the application and try again.",
	"authorize.redirect_cfg": "The application's return address is not set up correctly. Contact the application's support.",

	// Errors of a sign-in at an upstream provider.
	"upstream.none":        "There is no such way to sign in here.",
	"upstream.state":       "This sign-in has expired or was already used. Please sign in again.",
	"upstream.gone":        "This way of signing in is no longer offered here. Please sign in again.",
	"upstream.disabled":    "Your account is disabled here. Please contact the operator of this service.",
	"upstream.cancelled":   "You did not sign in at {name}, so nothing changed here. You can try again.",
	"upstream.failed":      "{name} could not sign you in. Please try again.",
	"upstream.bad":         "{name} sent a sign-in we could not accept. Please try again.",
	"upstream.unreachable": "We could not reach {name} to sign you in. Please try again {when}.",

	// Times.
	"since.today":      "in the last 24 hours",
	"since.days.one":   "{n} day ago",
	"since.days.other": "{n} days ago",
	"since.date":       "on {date}",
	"in.seconds.one":   "in {n} second",
	"in.seconds.other": "in {n} seconds",
	"in.minutes.one":   "in {n} minute",
	"in.minutes.other": "in {n} minutes",
	"in.hours.one":     "in {n} hour",
	"in.hours.other":   "in {n} hours",

	// The built-in scopes' descriptions (package scopes).
	"scope.openid":         "Know which account is yours",
	"scope.email":          "See your e-mail address",
	"scope.profile":        "See your user name",
	"scope.offline_access": "Stay connected when you are not using it",
}
