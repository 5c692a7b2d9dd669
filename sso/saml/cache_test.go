package saml

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnergate/partnergate/internal/clocktest"

	"github.com/partnergate/partnergate/sso"
)

// metadataServer serves IdP metadata and counts fetches; status, when
// set, answers that HTTP status instead.
type metadataServer struct {
	*httptest.Server
	hits   atomic.Int32
	status atomic.Int32
	body   atomic.Value // string
}

func newMetadataServer(t *testing.T, body string) *metadataServer {
	t.Helper()
	m := &metadataServer{}
	m.body.Store(body)
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		m.hits.Add(1)
		if s := m.status.Load(); s != 0 {
			w.WriteHeader(int(s))
			return
		}
		_, _ = w.Write([]byte(m.body.Load().(string)))
	}))
	t.Cleanup(m.Close)
	return m
}

func TestMetadataCacheRefresh(t *testing.T) {
	a, a2 := idpA(t).cert, idpA2(t).cert
	srv := newMetadataServer(t, idpMetadata(t, idpEntityID, keyXML("signing", a.Raw)))
	clock := clocktest.New(testNow)
	cache := NewMetadataCache(srv.Client(), time.Second, time.Hour, clock.Now)
	ctx := context.Background()

	get := func(wantCerts int, wantHits int32) {
		t.Helper()
		idp, err := cache.Get(ctx, srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if len(idp.Certificates) != wantCerts {
			t.Fatalf("%d certificates, want %d", len(idp.Certificates), wantCerts)
		}
		if got := srv.hits.Load(); got != wantHits {
			t.Fatalf("%d fetches, want %d", got, wantHits)
		}
	}
	get(1, 1)
	get(1, 1) // cached

	// The IdP adds its next certificate; the cache sees it after refresh.
	srv.body.Store(idpMetadata(t, idpEntityID, keyXML("signing", a.Raw)+keyXML("signing", a2.Raw)))
	clock.Advance(59 * time.Minute)
	get(1, 1)
	clock.Advance(2 * time.Minute)
	get(2, 2)

	// A failing refresh keeps the last good copy, and is not retried for
	// 30 seconds.
	srv.status.Store(http.StatusInternalServerError)
	clock.Advance(61 * time.Minute)
	get(2, 3)
	clock.Advance(10 * time.Second)
	get(2, 3)
	clock.Advance(25 * time.Second)
	get(2, 4)

	srv.status.Store(0)
	srv.body.Store(idpMetadata(t, idpEntityID, keyXML("signing", a2.Raw)))
	clock.Advance(31 * time.Second)
	get(1, 5)
}

func TestMetadataCacheFirstFetchFails(t *testing.T) {
	srv := newMetadataServer(t, "")
	srv.status.Store(http.StatusNotFound)
	cache := NewMetadataCache(srv.Client(), time.Second, 0, nil)
	_, err := cache.Get(context.Background(), srv.URL)
	wantFailure(t, err, sso.Unreachable, "HTTP status", "404")

	srv.status.Store(0)
	srv.body.Store("<EntityDescriptor/>")
	_, err = cache.Get(context.Background(), srv.URL)
	wantFailure(t, err, sso.Unreachable, "Metadata URL", srv.URL)

	srv.body.Store(strings.Repeat("x", maxMetadataSize+1))
	_, err = cache.Get(context.Background(), srv.URL)
	wantFailure(t, err, sso.Unreachable, "Metadata URL", srv.URL)
}

func TestMetadataCacheSingleFlight(t *testing.T) {
	release := make(chan struct{})
	var hits atomic.Int32
	body := idpMetadata(t, idpEntityID, keyXML("signing", idpA(t).cert.Raw))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		<-release
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	cache := NewMetadataCache(srv.Client(), 5*time.Second, time.Hour, nil)

	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if _, err := cache.Get(context.Background(), srv.URL); err != nil {
				t.Error(err)
			}
		})
	}
	for hits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	if got := hits.Load(); got != 1 {
		t.Errorf("%d fetches for 5 concurrent Gets, want 1", got)
	}
}

// blackhole accepts connections and never answers, like an IdP behind a
// firewall that drops replies.
func blackhole(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{}, 16)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			accepted <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String() + "/metadata", accepted
}

func TestMetadataCacheBlackholeIsolated(t *testing.T) {
	good := newMetadataServer(t, idpMetadata(t, idpEntityID, keyXML("signing", idpA(t).cert.Raw)))
	hole, accepted := blackhole(t)
	cache := NewMetadataCache(&http.Client{}, time.Second, time.Hour, nil)

	holeErr := make(chan error, 1)
	go func() {
		_, err := cache.Get(context.Background(), hole)
		holeErr <- err
	}()
	<-accepted

	start := time.Now()
	if _, err := cache.Get(context.Background(), good.URL); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Get of a healthy URL took %v while another URL hung", d)
	}

	select {
	case err := <-holeErr:
		wantFailure(t, err, sso.Unreachable, "Metadata URL", hole)
	case <-time.After(5 * time.Second):
		t.Fatal("Get of the blackholed URL was not bounded by the timeout")
	}

	// A caller that gives up early is not held by the shared fetch.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := cache.Get(ctx, hole)
	wantFailure(t, err, sso.Unreachable, "", "")
}
