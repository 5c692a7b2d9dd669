package password

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A full limiter turns callers away after its wait, and a released slot
// serves the next one.
func TestLimiter(t *testing.T) {
	t.Parallel()
	l := NewLimiter(1, 20*time.Millisecond)
	release, err := l.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := l.Acquire(t.Context()); !errors.Is(err, ErrBusy) {
		t.Fatalf("second acquire = %v, want ErrBusy", err)
	}
	if waited := time.Since(start); waited < 20*time.Millisecond {
		t.Errorf("gave up after %v, before the wait ran out", waited)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("acquire with an ended context = %v", err)
	}
	release()
	again, err := l.Acquire(t.Context())
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	again()
}
