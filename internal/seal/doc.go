// Package seal encrypts short secrets that grantd must be able to read back —
// upstream client secrets, upstream tokens held for passthrough clients —
// before they are stored, under a key kept outside the database
// (GRANTD_SECRET_KEY_FILE). A copy of the database alone reveals none of
// them.
//
// A key file holds exactly KeySize random bytes and nothing else, is a
// regular file, and gives no permission to group or others (like ssh with a
// private key, LoadKey refuses a readable key rather than warn: a key that
// any local user can read protects nothing). CreateKey writes a new one
// atomically with mode 0600 and never replaces an existing file.
//
// A Sealer seals with AES-256-GCM, a fresh random 96-bit nonce per value,
// and a key derived from the file's bytes with HKDF-SHA256. A sealed value
// is text:
//
//	v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>
//
// The key id (derived from the key, revealing nothing of it) tells a value
// sealed under an old key from one sealed under the current key, which is
// what rotating the key file needs (Sealer.Reseal), and lets Open say that
// the key file is the wrong one rather than that the data is corrupt. The
// caller's additional data (for example "upstream-secret:cognito") is
// authenticated with the value, so a sealed value copied to another row
// does not open there.
package seal
