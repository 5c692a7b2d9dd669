package redistest

import (
	"fmt"
	"testing"
)

func TestStopRestart(t *testing.T) {
	s := Start(t)
	if want := fmt.Sprintf("redis://%s/0", s.Addr()); s.URL() != want {
		t.Errorf("URL() = %q, want %q", s.URL(), want)
	}
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("ping after Start: %v", err)
	}
	s.Stop()
	if err := ping(s.Addr()); err == nil {
		t.Fatal("ping succeeded after Stop")
	}
	s.Stop()
	s.Restart()
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("ping after Restart: %v", err)
	}
}

func TestPauseResume(t *testing.T) {
	s := Start(t)
	s.Pause()
	if err := ping(s.Addr()); err == nil {
		t.Fatal("ping succeeded while paused")
	}
	s.Resume()
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("ping after Resume: %v", err)
	}
}

func TestExtraArgs(t *testing.T) {
	s := Start(t, "--databases", "64")
	if reply, err := roundTrip(s.Addr(), "SELECT", "63"); err != nil || reply != "+OK" {
		t.Fatalf("SELECT 63 = %q, %v; want +OK", reply, err)
	}
}

func TestSentinel(t *testing.T) {
	primary := Start(t)
	sentinel := StartSentinel(t, primary, "mymaster")
	if err := ping(sentinel.Addr()); err != nil {
		t.Fatalf("ping sentinel: %v", err)
	}
}
