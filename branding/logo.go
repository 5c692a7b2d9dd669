package branding

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// Limits for uploaded logos. The byte cap bounds what is read; the dimension
// and pixel caps bound what is allocated, because a few kilobytes of
// compressed data can declare gigabytes of pixels (a decompression bomb).
const (
	MaxLogoBytes  = 1 << 20 // 1 MiB
	MaxLogoSide   = 4096
	MaxLogoPixels = 16_000_000
	// LogoSide is the longest side of the stored logo: the page shows it
	// at a few dozen CSS pixels, so 512 covers high-density screens.
	LogoSide = 512
)

// Errors from ProcessLogo. Their messages are written for the partner and
// reveal nothing about decoder internals, so handlers may show them as-is.
var (
	ErrLogoTooLarge   = errors.New("the logo file is larger than 1 MiB")
	ErrLogoFormat     = errors.New("use a PNG, JPEG or WebP image")
	ErrLogoDimensions = errors.New("the logo is too large: at most 4096 × 4096 pixels and 16 megapixels")
	ErrLogoCorrupt    = errors.New("the logo could not be read; the file may be damaged or incomplete")
)

// Logo is a processed logo: a PNG the product encoded itself.
type Logo struct {
	PNG           []byte
	Width, Height int
}

type format struct {
	decodeConfig func([]byte) (image.Config, error)
	decode       func([]byte) (image.Image, error)
}

func reader(f func(*bytes.Reader) (image.Config, error)) func([]byte) (image.Config, error) {
	return func(b []byte) (image.Config, error) { return f(bytes.NewReader(b)) }
}

// sniff picks the decoder from magic bytes only. The declared Content-Type
// and file name are the uploader's claims; the bytes are what a decoder will
// actually parse. Specific decoders are called directly instead of
// image.Decode so that whatever else the binary happens to register (GIF,
// BMP, …) can never be reached through this path.
func sniff(b []byte) (format, bool) {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return format{
			decodeConfig: reader(func(r *bytes.Reader) (image.Config, error) { return png.DecodeConfig(r) }),
			decode:       func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) },
		}, true
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return format{
			decodeConfig: reader(func(r *bytes.Reader) (image.Config, error) { return jpeg.DecodeConfig(r) }),
			decode:       func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) },
		}, true
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return format{
			decodeConfig: reader(func(r *bytes.Reader) (image.Config, error) { return webp.DecodeConfig(r) }),
			decode:       func(b []byte) (image.Image, error) { return webp.Decode(bytes.NewReader(b)) },
		}, true
	}
	return format{}, false
}

// ProcessLogo checks an uploaded logo and returns it re-encoded as PNG, at
// most LogoSide pixels on its longest side. Only decoded pixels reach the
// output: metadata chunks, comments, colour profiles, EXIF and any bytes
// appended after the image end (polyglot payloads) are dropped, because the
// output is encoded afresh from a pixel buffer. SVG is refused by
// construction: it is a document that can carry script, not pixels.
func ProcessLogo(data []byte) (Logo, error) {
	if len(data) > MaxLogoBytes {
		return Logo{}, ErrLogoTooLarge
	}
	f, ok := sniff(data)
	if !ok {
		return Logo{}, ErrLogoFormat
	}
	// Read only the header first and refuse huge dimensions before the
	// decoder allocates a pixel buffer for them.
	cfg, err := f.decodeConfig(data)
	if err != nil {
		return Logo{}, ErrLogoCorrupt
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return Logo{}, ErrLogoCorrupt
	}
	if cfg.Width > MaxLogoSide || cfg.Height > MaxLogoSide || cfg.Width*cfg.Height > MaxLogoPixels {
		return Logo{}, ErrLogoDimensions
	}
	src, err := f.decode(data)
	if err != nil {
		return Logo{}, ErrLogoCorrupt
	}
	sb := src.Bounds()
	// The decoder should agree with its own header; if not, trust neither.
	if sb.Dx() != cfg.Width || sb.Dy() != cfg.Height {
		return Logo{}, ErrLogoCorrupt
	}
	// Either way the pixels are copied into a fresh buffer of our own, so
	// nothing but pixel values (no palette, no metadata) reaches the encoder.
	var dst draw.Image
	w, h := fit(sb.Dx(), sb.Dy(), LogoSide)
	if w == sb.Dx() && h == sb.Dy() {
		// NRGBA keeps translucent pixels exact.
		dst = image.NewNRGBA(image.Rect(0, 0, w, h))
		draw.Copy(dst, image.Point{}, src, sb, draw.Src, nil)
	} else {
		// RGBA is the destination x/image/draw has fast paths for; the
		// generic path is several times slower on a 4096-pixel source.
		// BiLinear as a Kernel widens with the scale factor, so large
		// reductions average source pixels instead of aliasing.
		dst = image.NewRGBA(image.Rect(0, 0, w, h))
		draw.BiLinear.Scale(dst, dst.Bounds(), src, sb, draw.Src, nil)
	}
	var out bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&out, dst); err != nil {
		return Logo{}, ErrLogoCorrupt
	}
	return Logo{PNG: out.Bytes(), Width: w, Height: h}, nil
}

// fit scales (w, h) down so the longest side is at most limit, keeping the
// aspect ratio and never producing a zero side.
func fit(w, h, limit int) (int, int) {
	if w <= limit && h <= limit {
		return w, h
	}
	if w >= h {
		return limit, max(1, (h*limit+w/2)/w)
	}
	return max(1, (w*limit+h/2)/h), limit
}
