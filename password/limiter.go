package password

import (
	"context"
	"errors"
	"runtime"
	"time"
)

// ErrBusy means no hashing slot came free in time; the caller answers
// "try again shortly" rather than queue without bound.
var ErrBusy = errors.New("password hashing is busy")

// Limiter bounds argon2id work in flight. Each hash or check holds tens
// of MiB, so one process shares one Limiter across everything that
// hashes — sign-in, password links, the admin API and SCIM — and no one
// path can exhaust a node's memory for the others.
type Limiter struct {
	slots chan struct{}
	wait  time.Duration
}

// NewLimiter allows n hashes at once (twice the CPUs when n <= 0) and
// makes a caller wait at most wait for a slot (3s when wait <= 0).
func NewLimiter(n int, wait time.Duration) *Limiter {
	if n <= 0 {
		n = 2 * runtime.GOMAXPROCS(0)
	}
	if wait <= 0 {
		wait = 3 * time.Second
	}
	return &Limiter{slots: make(chan struct{}, n), wait: wait}
}

// Acquire waits for a slot and returns what gives it back. It fails with
// ErrBusy when the wait runs out, and with ctx's error when ctx ends.
func (l *Limiter) Acquire(ctx context.Context) (release func(), err error) {
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		return func() { <-l.slots }, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
