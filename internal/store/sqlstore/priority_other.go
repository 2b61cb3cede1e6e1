//go:build !linux

package sqlstore

// lowerPriority does nothing outside Linux: the copier then runs at
// grantd's priority, in a process of its own all the same.
func lowerPriority(by int) error { return nil }
