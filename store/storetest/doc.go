// Package storetest is the conformance suite every store.Store backend must
// pass, turning each rule documented in package store into a test; it must
// not import a backend nor assume timing or goroutines beyond what the store
// interfaces promise. Times are compared with Equal after truncation to the
// millisecond, so a backend must keep at least millisecond precision but need
// not keep a time's location or monotonic reading.
package storetest
