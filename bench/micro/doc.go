// Package micro holds the harness's Go micro-benchmarks: code generation,
// JWT minting, client authentication, the store's hot verbs, and the poll
// path in-process with its allocations per request. It has no code of its
// own; run it with
//
//	go test -run '^$' -bench . -benchmem ./bench/micro
package micro
