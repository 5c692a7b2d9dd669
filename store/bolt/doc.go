// Package bolt is the embedded store.Store backend: one bbolt file holding
// JSON values in a bucket per concern, a sweeper for expired records and an
// in-process event bus. It must not be opened by two processes at once, and
// must not serve several nodes: its bus reaches only this process's watchers.
package bolt
