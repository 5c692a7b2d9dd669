package portal

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
)

//go:embed html/*.html
var pageFiles embed.FS

//go:embed assets
var assetFiles embed.FS

// pages holds one template set per page, each with the layout, so every
// page defines its own "content" and "title".
var pages = mustParsePages()

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2 Jan 2006, 15:04 UTC")
	},
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2 Jan 2006")
	},
	"query":   url.QueryEscape,
	"pathseg": url.PathEscape,
	"join":    strings.Join,
	"navItem": func(base, active, key, href, label string) navItem {
		return navItem{Href: base + href, Label: label, Active: active == key}
	},
	"copyField": func(id, label, value string) copyValue {
		return copyValue{ID: id, Label: label, Value: value}
	},
}

// copyValue is the data of the "copy" template: a read-only field with
// a button that copies it.
type copyValue struct {
	ID, Label, Value string
}

// navItem is one entry of the portal's navigation.
type navItem struct {
	Href, Label string
	Active      bool
}

func mustParsePages() map[string]*template.Template {
	names, err := fs.Glob(pageFiles, "html/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, name := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "html/"), ".html")
		if base == "layout" {
			continue
		}
		t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(pageFiles, "html/layout.html", name))
		out[base] = t
	}
	return out
}

// frame is the data the layout needs; every page's data embeds it.
type frame struct {
	Title string
	// Nav is the active navigation entry's key.
	Nav     string
	Viewer  viewerInfo
	Base    string
	CSRF    string
	Notice  string
	Problem *apiError
}

// viewerInfo is what the layout shows about who is signed in.
type viewerInfo struct {
	Name      string
	PartnerID string
	Operator  bool
	Setup     bool
	Partner   bool
	ReadOnly  bool
}

func (h *Handler) frame(r *http.Request, v *viewer, title, nav string) frame {
	f := frame{Title: title, Nav: nav, Base: basePath(r), Notice: notices[r.URL.Query().Get("done")]}
	if v != nil {
		f.Base, f.CSRF = v.base, v.csrf
		f.Viewer = viewerInfo{Name: v.name, PartnerID: v.partnerID, Operator: v.kind == operatorViewer, Setup: v.kind == setupViewer, Partner: v.kind == partnerAdminViewer, ReadOnly: v.readOnly}
	}
	return f
}

// notices are the confirmations a redirect after a write may show, by
// key: the query names a key, never the text, so a crafted link cannot
// put words on the page.
var notices = map[string]string{}

// notice registers confirmations; each area's file adds its own.
func notice(key, text string) string {
	notices[key] = text
	return key
}

// done redirects after a successful write to a page showing a notice.
func done(w http.ResponseWriter, r *http.Request, to, key string) error {
	sep := "?"
	if strings.Contains(to, "?") {
		sep = "&"
	}
	http.Redirect(w, r, to+sep+"done="+url.QueryEscape(key), http.StatusSeeOther)
	return nil
}

// render writes a page. It renders into a buffer first, so a template
// error becomes a clean error page rather than half a page.
func (h *Handler) render(w http.ResponseWriter, status int, name string, data any) error {
	t, ok := pages[name]
	if !ok {
		return errors.New("portal: no page " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.Write(nil)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// errorPage is the data of the page for a request that could not be done.
type errorPage struct {
	frame
	Heading string
	Message string
	Back    string
}

// fail shows err: the API's own message for a refusal, a generic one
// for anything else, whose detail goes to the log only.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	var ae *apiError
	page := errorPage{frame: h.frame(r, v, "Something went wrong", ""), Back: basePath(r) + "/"}
	status := http.StatusInternalServerError
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		status, page.Title, page.Heading = http.StatusNotFound, "Not found", "Page not found"
		page.Message = "There is nothing here, or you do not have access to it."
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		h.toSignIn(w, r)
		return
	case errors.As(err, &ae) && ae.Status < 500 && ae.Status >= 400:
		status, page.Heading, page.Message = ae.Status, "That did not work", ae.Message
		if ae.Status == http.StatusForbidden {
			page.Title, page.Heading = "Not allowed", "You cannot do this"
		}
	case errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable:
		status, page.Heading, page.Message = ae.Status, "Temporarily unavailable", "The service is briefly unavailable. Try again in a few seconds."
	default:
		page.Heading, page.Message = "Something went wrong", "The request could not be completed. Try again; if it keeps failing, contact your platform's support."
		h.log.Error("portal page failed", zap.String("path", r.URL.Path), zap.Error(err))
	}
	if rerr := h.render(w, status, "error", page); rerr != nil {
		h.log.Error("render error page", zap.Error(rerr))
		http.Error(w, page.Message, status)
	}
}

func assetFS() fs.FS {
	sub, err := fs.Sub(assetFiles, "assets")
	if err != nil {
		panic(err)
	}
	return sub
}
