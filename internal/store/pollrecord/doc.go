// Package pollrecord keeps the poll record of device grants in memory, as
// a decorator of a store.Store (New): for each polled device code, the time
// of its last poll and its interval, raised by 5 seconds at each slow_down
// (RFC 8628 §3.5), are kept in a map and never written at a poll. The map
// also knows which grants are pending, with their client and expiry —
// learnt from the grants created through the Store and from the rows its
// polls read — so that a poll of a pending code, the answer most polls
// get, is answered without reading the grant at all.
//
// # What it buys
//
// Measured on SQLite, interleaved A/B, 5 rounds, GOMAXPROCS=1, `go run
// ./bench -pin -scenarios 2a -pending 20000`: without the pending
// knowledge, 0.70× the poll rate and 1.8× the CPU per poll.
//
// # What is soft
//
// The record is soft state, as store.DeviceGrants.PollDeviceGrant allows:
// a restart, graceful or not, forgets it. A device then gets one poll
// answered without slow_down (its last poll is unknown, so the next is on
// time), and its interval falls back to the one in the grant's row. That is
// harmless: slow_down only ever tells a device to poll less often, and no
// token is issued or refused on account of the record; issuance depends on
// the grant's state alone, which the inner store keeps durable.
//
// # Who may use it
//
// It is for one process per database file, or processes sharing a SQLite
// file for a while (a rolling restart). It is not for PostgreSQL clusters:
// instances behind a load balancer would each keep a record of their own,
// so a device could poll every one of them as often as its interval
// allows. There the grant's row must carry the record, and PostgreSQL's
// own PollDeviceGrant writes it.
//
// Within a process every decision and redemption goes through the Store,
// which forgets that the grant is pending before the call returns (a
// generation counter keeps a read that began before the decision from
// marking the grant pending again), and a decision that finds the grant
// already decided, or the deletion of a client, forgets every grant's
// state; so answers are exact. Other processes' writes are seen through
// Versioner: when the inner store implements it (sqlstore on SQLite reads
// PRAGMA data_version), a poll is answered from memory only while a check
// that succeeded began less than a second before it, run by one poll at a
// time; a changed version forgets which grants are pending. A decision made
// by another process thus reaches this one's polls within about a second.
// Without a Versioner (or when it returns errors.ErrUnsupported) every poll
// reads its grant, and the record still spares the write. Expired grants
// are always read.
//
// # Memory
//
// An entry is a 72-byte slot of the map (a 32-byte key, 40 bytes of
// record); with the map's spare slots that is 105 to 168 bytes per entry,
// measured, and about 170 MB at the limit of 1<<20 entries. The map holds
// only grants that exist (an unknown code is never entered). From 4096
// entries on it is pruned as it doubles, of the entries that decide
// nothing: those of expired grants, and those never slowed down whose
// interval has passed since their last poll and that do not know their
// grant pending. At the limit, a poll of a grant it has no entry for is
// the inner store's own PollDeviceGrant. Go maps do not shrink: the memory
// of a peak stays with the process.
package pollrecord
