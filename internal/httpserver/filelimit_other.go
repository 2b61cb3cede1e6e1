//go:build !unix

package httpserver

// raiseFileLimit reports no limit where the platform has none to raise.
func raiseFileLimit() (uint64, error) { return 0, nil }
