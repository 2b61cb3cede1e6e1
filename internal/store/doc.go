// Package store defines grantd's persistent state: the domain types (clients,
// users, device grants, refresh tokens, sessions, signing keys) and small
// interfaces, one per aggregate, that every backend implements.
//
// The interfaces speak in domain verbs whose atomicity is part of the
// contract: a verb documented as atomic must succeed for exactly one of any
// number of concurrent callers. The conformance suite in package storetest
// proves this for every backend with real concurrency.
//
// Secrets never reach a backend in clear text: device codes, refresh tokens,
// session ids and client secrets arrive already hashed (see package secret).
package store
