package e2e

import (
	"io"
	"net/http"
	"os/exec"
	"testing"
	"time"
)

func TestSessionExpiry(t *testing.T) {
	backends(t, func(t *testing.T, start func(*testing.T, nodeConfig) *node) {
		n, _ := startAcme(t, start, "session_lifetime 3s", "session_idle_timeout 1s")
		host := partnerHost("acme")

		t.Run("idle", func(t *testing.T) {
			cookie := n.sessionHeader(t, n.signIn(t, host, acmeEmail, acmePassword), host)
			time.Sleep(1100 * time.Millisecond)
			if resp := get(t, n.client(), n.url(host, "/"), cookie); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("after 1.1s idle: status %d, want 401", resp.StatusCode)
			}
		})
		t.Run("absolute", func(t *testing.T) {
			cookie := n.sessionHeader(t, n.signIn(t, host, acmeEmail, acmePassword), host)
			// Activity every 0.5s keeps it past the idle timeout…
			for range 4 {
				time.Sleep(500 * time.Millisecond)
				if resp := get(t, n.client(), n.url(host, "/"), cookie); resp.StatusCode != http.StatusOK {
					t.Fatalf("active session: status %d, want 200", resp.StatusCode)
				}
			}
			// …but not past its lifetime.
			time.Sleep(1100 * time.Millisecond)
			if resp := get(t, n.client(), n.url(host, "/"), cookie); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("past its 3s lifetime: status %d, want 401", resp.StatusCode)
			}
		})
	})
}

// TestReloadKeepsSessions reloads the Caddy config of a running gateway: the
// store stays open through the usage pool and sessions survive.
func TestReloadKeepsSessions(t *testing.T) {
	backends(t, func(t *testing.T, start func(*testing.T, nodeConfig) *node) {
		up := startUpstream(t)
		adminAddr := "127.0.0.1:" + freePort(t)
		n := start(t, nodeConfig{upstream: up.addr, adminAddr: adminAddr})
		n.seedAcme(t)
		host := partnerHost("acme")
		c := n.signIn(t, host, acmeEmail, acmePassword)

		// A browser keeps clicking through both reloads: not one request
		// may be refused while the config changes under it.
		stop := make(chan struct{})
		refused := make(chan int, 1)
		go func() {
			bad := 0
			for {
				select {
				case <-stop:
					refused <- bad
					return
				default:
				}
				// Not get: it may fail the test, which only the test's
				// own goroutine may do.
				resp, err := c.Get(n.url(host, "/"))
				if err != nil {
					bad++
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					bad++
				}
			}
		}()
		for i, idle := range []string{"2h", "3h"} {
			cfg := n.config
			cfg.options = []string{"session_idle_timeout " + idle}
			n.writeCaddyfile(t, cfg)
			out, err := exec.Command(binary, "reload", "--config", n.caddyfile, "--adapter", "caddyfile", "--address", adminAddr).CombinedOutput()
			if err != nil {
				t.Fatalf("reload %d: %v\n%s", i+1, err, out)
			}
			if resp := get(t, c, n.url(host, "/"), nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("after reload %d: status %d, want 200 with the same session", i+1, resp.StatusCode)
			}
		}
		close(stop)
		if bad := <-refused; bad > 0 {
			t.Errorf("%d requests with a valid session were refused during the reloads", bad)
		}
		// New sign-ins work on the reloaded config too.
		n.mustLogin(t, n.client(), host, acmeEmail, acmePassword)
	})
}
