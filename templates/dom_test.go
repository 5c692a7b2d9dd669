package templates_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/html"

	"github.com/partnergate/partnergate/templates"
)

// The tests read pages the way a browser does: parsed into a DOM, queried by
// element, attribute and visible text.

var (
	setOnce sync.Once
	set     *templates.Set
	setErr  error
)

func pages(t testing.TB) *templates.Set {
	t.Helper()
	setOnce.Do(func() { set, setErr = templates.Parse() })
	if setErr != nil {
		t.Fatalf("Parse: %v", setErr)
	}
	return set
}

// render renders a page and returns its source and its parsed document.
func render(t testing.TB, name string, data any) (string, *html.Node) {
	t.Helper()
	var buf bytes.Buffer
	if err := pages(t).Render(&buf, name, data); err != nil {
		t.Fatalf("Render(%q): %v", name, err)
	}
	src := buf.String()
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil {
		t.Fatalf("html.Parse: %v", err)
	}
	return src, doc
}

// findAll returns every element under n for which match is true, in document order.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && match(d) {
			out = append(out, d)
		}
	}
	return out
}

// find returns the only element under n that match accepts, failing otherwise.
func find(t testing.TB, n *html.Node, what string, match func(*html.Node) bool) *html.Node {
	t.Helper()
	got := findAll(n, match)
	if len(got) != 1 {
		t.Fatalf("%s: found %d elements, want 1", what, len(got))
	}
	return got[0]
}

func tag(name string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == name }
}

func hasClass(class string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		v, _ := attr(n, "class")
		for _, c := range strings.Fields(v) {
			if c == class {
				return true
			}
		}
		return false
	}
}

func withAttr(name, value string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		v, ok := attr(n, name)
		return ok && v == value
	}
}

func input(name string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		return n.Data == "input" && withAttr("name", name)(n)
	}
}

func attr(n *html.Node, name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}

// text returns the visible text under n with runs of white space collapsed.
func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
			b.WriteByte(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// labelFor returns the text of the <label for=id> of an input, failing if the
// input has no id or not exactly one label.
func labelFor(t testing.TB, doc, in *html.Node) string {
	t.Helper()
	id, ok := attr(in, "id")
	if !ok || id == "" {
		t.Fatalf("input %v has no id for a label to point at", in.Attr)
	}
	return text(find(t, doc, "label for="+id, func(n *html.Node) bool {
		return n.Data == "label" && withAttr("for", id)(n)
	}))
}
