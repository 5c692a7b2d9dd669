package templates_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/partnergate/partnergate/templates"
)

// A gateway parses the pages once, serves the assets under the reserved
// prefix and renders a page per request.
func Example() {
	pages, err := templates.Parse()
	if err != nil {
		log.Fatal(err)
	}
	const assets = "/.partnergate/assets/"
	mux := http.NewServeMux()
	mux.Handle("GET "+assets, http.StripPrefix(assets, http.FileServerFS(templates.Assets())))
	mux.HandleFunc("GET /.partnergate/login", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		err := pages.Render(w, templates.PageLogin, templates.Login{
			Page:      templates.Page{PartnerName: "Acme Corp", AssetPrefix: assets, Title: "Sign in"},
			Action:    "/.partnergate/login",
			CSRFToken: "token-from-the-session",
			ReturnTo:  r.URL.Query().Get("return_to"),
		})
		if err != nil {
			// Render wrote nothing, so a clean error page can still go out.
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	})

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/.partnergate/login?return_to=/reports", nil))
	fmt.Println(rec.Code, strings.Contains(rec.Body.String(), `name="return_to" value="/reports"`))

	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", assets+"style.css", nil))
	fmt.Println(rec.Code, strings.HasPrefix(rec.Header().Get("Content-Type"), "text/css"))
	// Output:
	// 200 true
	// 200 true
}
