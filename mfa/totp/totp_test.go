package totp

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"image"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// rfcSecret is the RFC 6238 appendix B SHA-1 key "12345678901234567890".
var rfcSecret = base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))

// TestRFC6238Vectors uses the appendix B SHA-1 vectors; they are 8 digits,
// and a 6-digit code is the same truncated value mod 10^6, so their last
// six digits are the 6-digit codes.
func TestRFC6238Vectors(t *testing.T) {
	for _, v := range []struct {
		unix int64
		code string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		code := v.code[2:]
		next, ok := Verify(State{Secret: rfcSecret}, code, time.Unix(v.unix, 0))
		if !ok {
			t.Errorf("t=%d code %s refused", v.unix, code)
			continue
		}
		if want := v.unix / 30; next.LastStep != want {
			t.Errorf("t=%d LastStep = %d, want %d", v.unix, next.LastStep, want)
		}
	}
}

// codeAt is the test's reference code for a step, computed with the
// library's HOTP generator directly rather than through Verify's window.
func codeAt(t *testing.T, secret string, step int64) string {
	t.Helper()
	code, err := generate(secret, step)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func generate(secret string, step int64) (string, error) {
	return hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
}

func TestWindow(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	step := now.Unix() / 30
	for _, tc := range []struct {
		delta int64
		ok    bool
	}{{-2, false}, {-1, true}, {0, true}, {1, true}, {2, false}} {
		code := codeAt(t, rfcSecret, step+tc.delta)
		next, ok := Verify(State{Secret: rfcSecret}, code, now)
		if ok != tc.ok {
			t.Errorf("step %+d: ok = %v, want %v", tc.delta, ok, tc.ok)
		}
		if ok && next.LastStep != step+tc.delta {
			t.Errorf("step %+d: LastStep = %d, want %d", tc.delta, next.LastStep, step+tc.delta)
		}
	}
}

func TestReplayRefused(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	step := now.Unix() / 30
	st := State{Secret: rfcSecret}
	code := codeAt(t, rfcSecret, step)

	st, ok := Verify(st, code, now)
	if !ok {
		t.Fatal("first use refused")
	}
	// Same code again, at the same moment and a step later (still in window).
	if _, ok := Verify(st, code, now); ok {
		t.Error("same code accepted twice")
	}
	if _, ok := Verify(st, code, now.Add(30*time.Second)); ok {
		t.Error("same code accepted twice a step later")
	}
}

func TestOlderAfterNewerRefused(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	step := now.Unix() / 30
	st, ok := Verify(State{Secret: rfcSecret}, codeAt(t, rfcSecret, step+1), now)
	if !ok {
		t.Fatal("newer code refused")
	}
	for _, d := range []int64{-1, 0} {
		if next, ok := Verify(st, codeAt(t, rfcSecret, step+d), now); ok {
			t.Errorf("step %+d accepted after step +1", d)
		} else if next != st {
			t.Errorf("refusal changed state: %+v -> %+v", st, next)
		}
	}
}

func TestBadInputs(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	st := State{Secret: rfcSecret}
	good := codeAt(t, rfcSecret, now.Unix()/30)
	for _, code := range []string{
		"", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "１２３４５６",
		"+12345", "-12345", "12345\x00", good + "0", "0" + good,
		wrongDigit(good),
	} {
		if _, ok := Verify(st, code, now); ok {
			t.Errorf("code %q accepted", code)
		}
	}
	// Surrounding spaces and the app-style middle space are allowed.
	for _, code := range []string{" " + good + "\n", good[:3] + " " + good[3:]} {
		if _, ok := Verify(st, code, now); !ok {
			t.Errorf("code %q refused", code)
		}
	}
	// A state with no usable secret never verifies, even with the code an
	// empty HMAC key would give.
	for _, secret := range []string{"", "   ", "not base32!"} {
		empty, _ := generate("", now.Unix()/30)
		if _, ok := Verify(State{Secret: secret}, empty, now); ok {
			t.Errorf("secret %q: code accepted", secret)
		}
	}
}

func TestEnroll(t *testing.T) {
	e, err := Enroll("Acme Corp", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
	if err != nil || len(raw) != SecretSize {
		t.Fatalf("secret %q: %d bytes, err %v", e.Secret, len(raw), err)
	}
	u, err := url.Parse(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || q.Get("secret") != e.Secret ||
		q.Get("issuer") != "Acme Corp" || q.Get("algorithm") != "SHA1" ||
		q.Get("digits") != "6" || q.Get("period") != "30" ||
		!strings.Contains(u.Path, "alice@example.com") {
		t.Errorf("URL = %s", e.URL)
	}

	if ct := http.DetectContentType(e.QRPNG); ct != "image/png" || !isPNG(e.QRPNG) {
		t.Errorf("QR content type %q, want image/png", ct)
	}
	img, format, err := image.Decode(bytes.NewReader(e.QRPNG))
	if err != nil || format != "png" {
		t.Fatalf("decode QR: format %q, err %v", format, err)
	}
	if b := img.Bounds(); b.Dx() != QRSize || b.Dy() != QRSize {
		t.Errorf("QR is %dx%d, want %dx%d", b.Dx(), b.Dy(), QRSize, QRSize)
	}

	// The enrolled secret verifies.
	now := time.Now()
	code, _ := generate(e.Secret, now.Unix()/30)
	if _, ok := Verify(State{Secret: e.Secret}, code, now); !ok {
		t.Error("code for enrolled secret refused")
	}

	if _, err := Enroll("", "alice@example.com"); err == nil {
		t.Error("empty issuer accepted")
	}
	if _, err := Enroll("Acme", ""); err == nil {
		t.Error("empty account accepted")
	}
}

// wrongDigit changes the last digit, giving a well-formed wrong code.
func wrongDigit(code string) string {
	return code[:5] + string('0'+(code[5]-'0'+1)%10)
}

func isPNG(b []byte) bool {
	_, err := png.DecodeConfig(bytes.NewReader(b))
	return err == nil && bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n"))
}

// TestOathtool checks interoperability with an independent implementation
// (OATH Toolkit): the codes it derives from our secrets must verify.
func TestOathtool(t *testing.T) {
	path, err := exec.LookPath("oathtool")
	if err != nil {
		msg := "oathtool not found on PATH; scripts/test.sh installs it: apt-get install -y oathtool"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	for i := 0; i < 20; i++ {
		raw := make([]byte, SecretSize)
		if _, err := rand.Read(raw); err != nil {
			t.Fatal(err)
		}
		secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw)
		// A fixed, varied instant per secret: no race with a step boundary
		// between running oathtool and calling Verify.
		at := time.Unix(1_600_000_000+int64(i)*7919, 0)
		out, err := exec.Command(path, "--totp", "-b", "--now=@"+strconv.FormatInt(at.Unix(), 10), secret).CombinedOutput()
		if err != nil {
			t.Fatalf("oathtool: %v: %s", err, out)
		}
		code := strings.TrimSpace(string(out))
		if _, ok := Verify(State{Secret: secret}, code, at); !ok {
			t.Errorf("secret %s at %d: oathtool code %s refused", secret, at.Unix(), code)
		}
	}
}

// TestQRCodeAgain: the setup link renders to the same QR code later.
func TestQRCodeAgain(t *testing.T) {
	t.Parallel()
	e, err := Enroll("Acme Corp", "ann@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	again, err := QRCode(e.URL)
	if err != nil || !bytes.Equal(again, e.QRPNG) {
		t.Errorf("QRCode(URL) = %d bytes, %v; want the enrolment's own %d bytes", len(again), err, len(e.QRPNG))
	}
	if _, err := QRCode("https://not-an-otpauth-link.example"); err == nil {
		t.Error("a non-otpauth link rendered")
	}
}
