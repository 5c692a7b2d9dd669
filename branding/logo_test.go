package branding

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

// Produced with `cwebp -lossless` and `cwebp -q 80` from an 8×6 gradient.
var (
	webpLossless = []byte("\x52\x49\x46\x46\x2a\x00\x00\x00\x57\x45\x42\x50\x56\x50\x38\x4c\x1e\x00\x00\x00\x2f\x07\x40\x01\x00\x99\x8c\xe8\x7f\x6c\x22\xa2\xff\x01\x21\x01\x61\x8e\xff\x1b\x25\x0b\xc6\x63\x90\x63\x02\x90\x5a\x36")
	webpLossy    = []byte("\x52\x49\x46\x46\x54\x00\x00\x00\x57\x45\x42\x50\x56\x50\x38\x20\x48\x00\x00\x00\x30\x02\x00\x9d\x01\x2a\x08\x00\x06\x00\x01\x40\x26\x25\xb0\x02\x74\xba\x00\xd4\x00\x03\xaa\x6c\x78\x20\x00\xfe\xf8\xa7\xea\xd5\xdf\xf5\x05\x66\xb5\x10\x1d\xbf\x8f\xff\x34\x56\xe5\xd5\x75\x4b\xdf\xd9\xaa\x2d\x8b\x3c\xc7\xfe\xa3\xe1\x72\xe6\xe2\x71\xf0\x83\xfd\xb1\xff\x45\x2e\xac\x80\x00")
)

const payload = "<html><script>alert(document.cookie)</script></html>"

func gradient(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	return m
}

func encodePNG(t *testing.T, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t *testing.T, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngChunk builds a PNG chunk with a correct CRC, for crafting files.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// checkOutput asserts the result is a PNG we can decode, of the reported
// size, no larger than LogoSide, and free of the payload.
func checkOutput(t *testing.T, logo Logo) image.Image {
	t.Helper()
	if !bytes.HasPrefix(logo.PNG, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("output is not PNG: % x", logo.PNG[:min(8, len(logo.PNG))])
	}
	m, err := png.Decode(bytes.NewReader(logo.PNG))
	if err != nil {
		t.Fatalf("output does not decode: %v", err)
	}
	if b := m.Bounds(); b.Dx() != logo.Width || b.Dy() != logo.Height {
		t.Fatalf("reported %dx%d, PNG is %v", logo.Width, logo.Height, b)
	}
	if logo.Width > LogoSide || logo.Height > LogoSide {
		t.Fatalf("output %dx%d exceeds %d", logo.Width, logo.Height, LogoSide)
	}
	for _, s := range []string{"script", "alert", "<html", "cookie"} {
		if bytes.Contains(bytes.ToLower(logo.PNG), []byte(s)) {
			t.Fatalf("output contains %q", s)
		}
	}
	// The PNG is ours: IHDR, IDAT(s), IEND and nothing after IEND.
	if !bytes.HasSuffix(logo.PNG, pngChunk("IEND", nil)) {
		t.Fatalf("output does not end at IEND")
	}
	for _, c := range []string{"tEXt", "zTXt", "iTXt", "eXIf", "iCCP"} {
		if bytes.Contains(logo.PNG, []byte(c)) {
			t.Fatalf("output has a %s chunk", c)
		}
	}
	return m
}

func TestProcessLogoAcceptsFormats(t *testing.T) {
	for _, tc := range []struct {
		name       string
		data       []byte
		wantW, wan int
	}{
		{"png small", encodePNG(t, gradient(40, 20)), 40, 20},
		{"jpeg small", encodeJPEG(t, gradient(40, 20)), 40, 20},
		{"webp lossless", webpLossless, 8, 6},
		{"webp lossy", webpLossy, 8, 6},
		{"png wide scaled", encodePNG(t, gradient(2000, 500)), 512, 128},
		{"jpeg tall scaled", encodeJPEG(t, gradient(300, 1200)), 128, 512},
		{"png exactly 512 kept", encodePNG(t, gradient(512, 512)), 512, 512},
		{"png extreme aspect", encodePNG(t, gradient(4096, 1)), 512, 1},
		{"paletted png", encodePNG(t, image.NewPaletted(image.Rect(0, 0, 10, 10), color.Palette{color.Black, color.White})), 10, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logo, err := ProcessLogo(tc.data)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			checkOutput(t, logo)
			if logo.Width != tc.wantW || logo.Height != tc.wan {
				t.Fatalf("size %dx%d, want %dx%d", logo.Width, logo.Height, tc.wantW, tc.wan)
			}
		})
	}
}

func TestProcessLogoKeepsPixels(t *testing.T) {
	src := gradient(16, 16)
	src.SetNRGBA(3, 4, color.NRGBA{1, 2, 3, 128}) // alpha survives
	logo, err := ProcessLogo(encodePNG(t, src))
	if err != nil {
		t.Fatal(err)
	}
	got := checkOutput(t, logo)
	for y := range 16 {
		for x := range 16 {
			if a, b := color.NRGBAModel.Convert(got.At(x, y)), src.NRGBAAt(x, y); a != b {
				t.Fatalf("pixel %d,%d = %v, want %v", x, y, a, b)
			}
		}
	}
}

func TestProcessLogoPolyglots(t *testing.T) {
	base := encodePNG(t, gradient(32, 32))

	// A valid PNG with an HTML document after IEND: a browser sniffing
	// it as HTML would run the script.
	appended := append(append([]byte{}, base...), payload...)

	// A PNG with the payload in a tEXt chunk before IEND.
	iend := len(base) - 12
	withText := append(append(append([]byte{}, base[:iend]...),
		pngChunk("tEXt", []byte("Comment\x00"+payload))...), base[iend:]...)

	// A JPEG with the payload as a COM segment right after SOI, plus
	// trailing bytes after EOI.
	j := encodeJPEG(t, gradient(32, 32))
	com := []byte{0xff, 0xfe, 0, 0}
	binary.BigEndian.PutUint16(com[2:], uint16(2+len(payload)))
	jpegCom := append(append(append([]byte{}, j[:2]...), append(com, payload...)...), j[2:]...)
	jpegCom = append(jpegCom, payload...)

	// A WebP with the payload appended past the RIFF size.
	webpTail := append(append([]byte{}, webpLossless...), payload...)

	for name, data := range map[string][]byte{
		"png+html after IEND": appended,
		"png tEXt chunk":      withText,
		"jpeg COM + trailer":  jpegCom,
		"webp + trailer":      webpTail,
	} {
		t.Run(name, func(t *testing.T) {
			if !bytes.Contains(data, []byte(payload)) {
				t.Fatal("test input lacks the payload")
			}
			logo, err := ProcessLogo(data)
			if err != nil {
				t.Fatalf("refused: %v (polyglots are accepted and cleaned)", err)
			}
			checkOutput(t, logo)
		})
	}
}

func TestProcessLogoRefuses(t *testing.T) {
	good := encodePNG(t, gradient(32, 32))

	// A tiny PNG whose IHDR claims a huge image and which has no IDAT at
	// all: ErrLogoDimensions (not ErrLogoCorrupt) proves the header was
	// checked before any decoding was attempted.
	claim := func(w, h uint32) []byte {
		ihdr := make([]byte, 13)
		binary.BigEndian.PutUint32(ihdr[0:], w)
		binary.BigEndian.PutUint32(ihdr[4:], h)
		ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
		return append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr)...)
	}
	// A JPEG SOF0 claiming 65000×65000.
	jpegBomb := func() []byte {
		j := encodeJPEG(t, gradient(8, 8))
		i := bytes.Index(j, []byte{0xff, 0xc0})
		out := append([]byte{}, j...)
		binary.BigEndian.PutUint16(out[i+5:], 65000)
		binary.BigEndian.PutUint16(out[i+7:], 65000)
		return out
	}()

	oversized := append(append([]byte{}, good...), make([]byte, MaxLogoBytes+1-len(good))...)
	exactlyMax := oversized[:MaxLogoBytes]
	if _, err := ProcessLogo(exactlyMax); err != nil {
		t.Fatalf("a 1 MiB file (padding after IEND) should be accepted: %v", err)
	}

	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"1 MiB + 1", oversized, ErrLogoTooLarge},
		{"svg with script", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>`), ErrLogoFormat},
		{"svg with xml prolog and BOM", []byte("\xef\xbb\xbf<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>"), ErrLogoFormat},
		{"html", []byte(payload), ErrLogoFormat},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), ErrLogoFormat},
		{"riff but not webp", []byte("RIFF\x04\x00\x00\x00WAVE"), ErrLogoFormat},
		{"empty", nil, ErrLogoFormat},
		{"png signature with leading byte", append([]byte{' '}, good...), ErrLogoFormat},
		{"png claims 100000×100000", claim(100000, 100000), ErrLogoDimensions},
		{"png claims 4097×1", claim(4097, 1), ErrLogoDimensions},
		{"png claims 4000×4001 (16M pixels)", claim(4000, 4001), ErrLogoDimensions},
		{"jpeg claims 65000×65000", jpegBomb, ErrLogoDimensions},
		{"png claims 0×0", claim(0, 0), ErrLogoCorrupt},
		{"png header only, no pixels", claim(10, 10), ErrLogoCorrupt},
		{"truncated png", good[:len(good)/2], ErrLogoCorrupt},
		{"truncated png signature", good[:8], ErrLogoCorrupt},
		{"truncated jpeg", func() []byte { j := encodeJPEG(t, gradient(64, 64)); return j[:len(j)/2] }(), ErrLogoCorrupt},
		{"truncated webp", webpLossy[:40], ErrLogoCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logo, err := ProcessLogo(tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if logo.PNG != nil {
				t.Fatalf("refused logo still returned bytes")
			}
			// Messages are for the partner: no decoder internals.
			if m := err.Error(); strings.Contains(m, "png:") || strings.Contains(m, "jpeg") && tc.want != ErrLogoFormat {
				t.Fatalf("message leaks internals: %q", m)
			}
		})
	}
}
