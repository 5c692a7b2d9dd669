package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

var brandingTests = []subtest{
	{"PutGet", testBrandingPutGet},
	{"Replace", testBrandingReplace},
	{"NoneIsNotFound", testBrandingNone},
	{"NeedsPartner", testBrandingNeedsPartner},
	{"LogoSetsVersion", testBrandingLogoSetsVersion},
	{"LogoWithoutBranding", testBrandingLogoWithoutBranding},
	{"DeleteLogo", testBrandingDeleteLogo},
	{"PutKeepsLogoVersion", testBrandingPutKeepsLogoVersion},
	{"LargeLogo", testBrandingLargeLogo},
	{"Isolation", testBrandingIsolation},
	{"DeletePartnerDrops", testBrandingDeletePartner},
	{"ConcurrentPuts", testBrandingConcurrent},
}

// newBranding returns a branding written by writer i: every field names
// i, so a record mixing two writes shows.
func newBranding(i int) store.Branding {
	return store.Branding{
		DisplayName:    fmt.Sprintf("Acme %d — Zoë's <shop> & \"more\"", i),
		PrimaryColor:   fmt.Sprintf("#%06x", i),
		AccentColor:    fmt.Sprintf("#%06x", 0xffffff-i),
		WelcomeMessage: fmt.Sprintf("Welcome, writer %d!\nSecond line.", i),
		Footer:         fmt.Sprintf("© %d Acme", 2000+i),
		SupportURL:     fmt.Sprintf("https://support.example.com/%d?a=1&b=2", i),
		UpdatedAt:      now().Add(time.Duration(i) * time.Millisecond),
	}
}

// newLogo returns n pseudo-random bytes seeded by seed, every byte value
// included, and their version.
func newLogo(seed uint64, n int) ([]byte, string) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	png := make([]byte, n)
	for i := range png {
		png[i] = byte(r.UintN(256))
	}
	if n >= 8 {
		copy(png, "\x89PNG\r\n\x1a\n")
	}
	sum := sha256.Sum256(png)
	return png, hex.EncodeToString(sum[:8])
}

func normBranding(b store.Branding) store.Branding {
	b.UpdatedAt = normTime(b.UpdatedAt)
	return b
}

func putBranding(t *testing.T, s store.Store, partnerID string, b store.Branding) {
	t.Helper()
	if err := s.PutBranding(t.Context(), partnerID, b); err != nil {
		t.Fatalf("put branding of partner %q: %v", partnerID, err)
	}
}

func putLogo(t *testing.T, s store.Store, partnerID string, png []byte, version string) {
	t.Helper()
	if err := s.PutLogo(t.Context(), partnerID, png, version); err != nil {
		t.Fatalf("put logo of partner %q: %v", partnerID, err)
	}
}

func checkBranding(t *testing.T, s store.Store, partnerID string, want store.Branding) {
	t.Helper()
	got, err := s.GetBranding(t.Context(), partnerID)
	if err != nil {
		t.Errorf("get branding of partner %q: %v", partnerID, err)
		return
	}
	checkEqual(t, fmt.Sprintf("branding of partner %q", partnerID), got, want, normBranding)
}

func checkNoBranding(t *testing.T, s store.Store, partnerID string) {
	t.Helper()
	_, err := s.GetBranding(t.Context(), partnerID)
	checkErr(t, fmt.Sprintf("get branding of partner %q", partnerID), err, store.ErrNotFound)
}

func checkLogo(t *testing.T, s store.Store, partnerID string, wantPNG []byte, wantVersion string) {
	t.Helper()
	png, version, err := s.GetLogo(t.Context(), partnerID)
	if err != nil {
		t.Errorf("get logo of partner %q: %v", partnerID, err)
		return
	}
	if version != wantVersion {
		t.Errorf("logo version of partner %q: got %q, want %q", partnerID, version, wantVersion)
	}
	if !bytes.Equal(png, wantPNG) {
		t.Errorf("logo of partner %q: got %d bytes, want %d, not the same", partnerID, len(png), len(wantPNG))
	}
}

func checkNoLogo(t *testing.T, s store.Store, partnerID string) {
	t.Helper()
	_, _, err := s.GetLogo(t.Context(), partnerID)
	checkErr(t, fmt.Sprintf("get logo of partner %q", partnerID), err, store.ErrNotFound)
}

func testBrandingPutGet(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	b := newBranding(1)
	// Sub-millisecond digits and a zone other than UTC: the store keeps
	// the instant to the millisecond.
	b.UpdatedAt = b.UpdatedAt.Add(456 * time.Microsecond).In(time.FixedZone("CEST", 2*60*60))
	putBranding(t, s, "acme", b)
	got, err := s.GetBranding(t.Context(), "acme")
	if err != nil {
		t.Fatalf("get branding: %v", err)
	}
	checkEqual(t, "branding of acme", got, b, normBranding)
	if want := b.UpdatedAt.Truncate(precision); !got.UpdatedAt.Equal(want) {
		t.Errorf("updated at %v, want %v", got.UpdatedAt, want)
	}
	if got.LogoVersion != "" {
		t.Errorf("logo version %q without a logo", got.LogoVersion)
	}
	// A branding of empty fields is kept as such.
	b = store.Branding{UpdatedAt: now()}
	putBranding(t, s, "acme", b)
	checkBranding(t, s, "acme", b)
	checkNoLogo(t, s, "acme")
}

func testBrandingReplace(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	putBranding(t, s, "acme", newBranding(1))
	// A smaller branding replaces the whole one: nothing of the old one
	// is merged in.
	b := store.Branding{PrimaryColor: "#112233", UpdatedAt: now()}
	putBranding(t, s, "acme", b)
	checkBranding(t, s, "acme", b)
}

func testBrandingNone(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	checkNoBranding(t, s, "acme")
	checkNoLogo(t, s, "acme")
	// Deleting no logo is not an error, and leaves none.
	if err := s.DeleteLogo(t.Context(), "acme"); err != nil {
		t.Errorf("delete absent logo: %v", err)
	}
	checkNoLogo(t, s, "acme")
	checkNoBranding(t, s, "acme")
}

func testBrandingNeedsPartner(t *testing.T, s store.Store) {
	png, version := newLogo(1, 64)
	for _, id := range []string{"ghost", "a{b}", ""} {
		err := s.PutBranding(t.Context(), id, newBranding(1))
		checkErr(t, fmt.Sprintf("put branding of missing partner %q", id), err, store.ErrNotFound)
		err = s.PutLogo(t.Context(), id, png, version)
		checkErr(t, fmt.Sprintf("put logo of missing partner %q", id), err, store.ErrNotFound)
		checkNoBranding(t, s, id)
		checkNoLogo(t, s, id)
		if err := s.DeleteLogo(t.Context(), id); err != nil {
			t.Errorf("delete logo of missing partner %q: %v", id, err)
		}
	}
	// The failed puts left nothing for a partner created later.
	createPartner(t, s, "ghost")
	checkNoBranding(t, s, "ghost")
	checkNoLogo(t, s, "ghost")
}

func testBrandingLogoSetsVersion(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	b := newBranding(1)
	putBranding(t, s, "acme", b)
	png, version := newLogo(1, 4096)
	putLogo(t, s, "acme", png, version)
	checkLogo(t, s, "acme", png, version)
	want := b
	want.LogoVersion = version
	checkBranding(t, s, "acme", want)

	// A new logo replaces the old one and its version.
	png, version = newLogo(2, 100)
	putLogo(t, s, "acme", png, version)
	checkLogo(t, s, "acme", png, version)
	want.LogoVersion = version
	checkBranding(t, s, "acme", want)
}

func testBrandingLogoWithoutBranding(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	png, version := newLogo(3, 512)
	putLogo(t, s, "acme", png, version)
	checkLogo(t, s, "acme", png, version)
	checkBranding(t, s, "acme", store.Branding{LogoVersion: version})
	// A branding put later keeps the logo.
	b := newBranding(2)
	putBranding(t, s, "acme", b)
	b.LogoVersion = version
	checkBranding(t, s, "acme", b)
	checkLogo(t, s, "acme", png, version)
}

func testBrandingDeleteLogo(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	b := newBranding(1)
	putBranding(t, s, "acme", b)
	png, version := newLogo(4, 256)
	putLogo(t, s, "acme", png, version)
	if err := s.DeleteLogo(t.Context(), "acme"); err != nil {
		t.Fatalf("delete logo: %v", err)
	}
	checkNoLogo(t, s, "acme")
	// The branding stays, naming no logo.
	checkBranding(t, s, "acme", b)
	if err := s.DeleteLogo(t.Context(), "acme"); err != nil {
		t.Errorf("delete logo twice: %v", err)
	}
	// A logo can be set again.
	png, version = newLogo(5, 256)
	putLogo(t, s, "acme", png, version)
	checkLogo(t, s, "acme", png, version)
	b.LogoVersion = version
	checkBranding(t, s, "acme", b)
}

func testBrandingPutKeepsLogoVersion(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	png, version := newLogo(6, 128)
	putLogo(t, s, "acme", png, version)
	// A branding from a stale read, or naming a made-up logo, neither
	// changes the logo nor its version.
	b := newBranding(3)
	b.LogoVersion = "stale"
	putBranding(t, s, "acme", b)
	b.LogoVersion = version
	checkBranding(t, s, "acme", b)
	checkLogo(t, s, "acme", png, version)
	// Nor does it invent one when there is none.
	if err := s.DeleteLogo(t.Context(), "acme"); err != nil {
		t.Fatalf("delete logo: %v", err)
	}
	b.LogoVersion = "stale"
	putBranding(t, s, "acme", b)
	b.LogoVersion = ""
	checkBranding(t, s, "acme", b)
	checkNoLogo(t, s, "acme")
}

func testBrandingLargeLogo(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	png, version := newLogo(7, store.MaxLogoSize)
	putLogo(t, s, "acme", png, version)
	checkLogo(t, s, "acme", png, version)
	// The caller's slice is not the store's: changing it changes nothing
	// stored, and changing what GetLogo returned changes nothing either.
	orig := bytes.Clone(png)
	png[100] ^= 0xff
	got, _, err := s.GetLogo(t.Context(), "acme")
	if err != nil {
		t.Fatalf("get logo: %v", err)
	}
	if !bytes.Equal(got, orig) {
		t.Fatalf("stored logo changed with the caller's slice")
	}
	got[200] ^= 0xff
	checkLogo(t, s, "acme", orig, version)
	// An empty logo is kept as one.
	putLogo(t, s, "acme", []byte{}, "empty")
	checkLogo(t, s, "acme", nil, "empty")
}

func testBrandingIsolation(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createPartner(t, s, "globex")
	createPartner(t, s, "initech")
	b1, b2 := newBranding(1), newBranding(2)
	png1, v1 := newLogo(1, 300)
	png2, v2 := newLogo(2, 400)
	putBranding(t, s, "acme", b1)
	putBranding(t, s, "globex", b2)
	putLogo(t, s, "acme", png1, v1)
	putLogo(t, s, "globex", png2, v2)
	b1.LogoVersion, b2.LogoVersion = v1, v2
	checkBranding(t, s, "acme", b1)
	checkBranding(t, s, "globex", b2)
	checkLogo(t, s, "acme", png1, v1)
	checkLogo(t, s, "globex", png2, v2)
	checkNoBranding(t, s, "initech")
	checkNoLogo(t, s, "initech")

	if err := s.DeleteLogo(t.Context(), "acme"); err != nil {
		t.Fatalf("delete logo: %v", err)
	}
	checkNoLogo(t, s, "acme")
	checkLogo(t, s, "globex", png2, v2)
	checkBranding(t, s, "globex", b2)
	if err := s.DeletePartner(t.Context(), "globex"); err != nil {
		t.Fatalf("delete partner: %v", err)
	}
	b1.LogoVersion = ""
	checkBranding(t, s, "acme", b1)
	putLogo(t, s, "acme", png1, v1)
	checkLogo(t, s, "acme", png1, v1)
}

func testBrandingDeletePartner(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	putBranding(t, s, "acme", newBranding(1))
	png, version := newLogo(8, 1000)
	putLogo(t, s, "acme", png, version)
	if err := s.DeletePartner(t.Context(), "acme"); err != nil {
		t.Fatalf("delete partner: %v", err)
	}
	checkNoBranding(t, s, "acme")
	checkNoLogo(t, s, "acme")
	err := s.PutBranding(t.Context(), "acme", newBranding(2))
	checkErr(t, "put branding of a deleted partner", err, store.ErrNotFound)
	err = s.PutLogo(t.Context(), "acme", png, version)
	checkErr(t, "put logo of a deleted partner", err, store.ErrNotFound)
	// A partner recreated with the id starts without either.
	createPartner(t, s, "acme")
	checkNoBranding(t, s, "acme")
	checkNoLogo(t, s, "acme")
	b := newBranding(3)
	putBranding(t, s, "acme", b)
	checkBranding(t, s, "acme", b)
}

// testBrandingConcurrent races brandings against logos: however they
// interleave, the branding names the logo stored.
func testBrandingConcurrent(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	const (
		writers = 8
		rounds  = 10
	)
	written := make([]store.Branding, writers)
	for i := range written {
		written[i] = newBranding(i)
	}
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			for r := range rounds {
				var err error
				if (i+r)%2 == 0 {
					b := written[i]
					b.LogoVersion = fmt.Sprintf("stale-%d-%d", i, r)
					err = s.PutBranding(t.Context(), "acme", b)
				} else {
					png, version := newLogo(uint64(i*rounds+r), 64)
					err = s.PutLogo(t.Context(), "acme", png, version)
				}
				if err != nil {
					t.Errorf("writer %d round %d: %v", i, r, err)
					return
				}
			}
		})
	}
	wg.Wait()
	b, err := s.GetBranding(t.Context(), "acme")
	if err != nil {
		t.Fatalf("get branding: %v", err)
	}
	png, version, err := s.GetLogo(t.Context(), "acme")
	if err != nil {
		t.Fatalf("get logo: %v", err)
	}
	if b.LogoVersion != version {
		t.Errorf("after concurrent puts the branding names logo %q, the logo stored is %q", b.LogoVersion, version)
	}
	if sum := sha256.Sum256(png); hex.EncodeToString(sum[:8]) != version {
		t.Errorf("logo stored is not the one of version %q", version)
	}
	// The branding is one writer's whole.
	for _, w := range written {
		w.LogoVersion = version
		if normBranding(w) == normBranding(b) {
			return
		}
	}
	t.Errorf("branding after concurrent puts is none of them: %+v", b)
}
