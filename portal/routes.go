package portal

import (
	"net/http"
	"strings"
)

// routes wires every page. Pages of one area live in that area's file.
func (h *Handler) routes() {
	h.mux.Handle("GET /assets/", http.StripPrefix("/assets/", h.assets()))
	h.mux.HandleFunc("GET /sign-in", h.showSignIn)
	h.mux.HandleFunc("POST /sign-in", h.signIn)
	h.mux.HandleFunc("POST /sign-out", h.signOut)
	h.mux.HandleFunc("GET /setup", h.showSetupStart)
	h.mux.HandleFunc("POST /setup", h.startSetup)
	h.mux.Handle("GET /{$}", h.page(h.home, operatorViewer, partnerAdminViewer, setupViewer))
	h.mux.Handle("POST /domains", h.page(h.addDomain, partnerAdminViewer, setupViewer))
	h.mux.Handle("POST /setup/finish", h.page(h.finishSetup, setupViewer))
	h.userRoutes()
	h.groupRoutes()
	h.auditRoutes()
	h.ssoRoutes()
	h.scimRoutes()
	h.brandingRoutes()
	h.policyRoutes()
	h.operatorRoutes()
	h.mux.Handle("/", h.page(func(w http.ResponseWriter, r *http.Request, v *viewer) error {
		return &apiError{Status: http.StatusNotFound}
	}, operatorViewer, partnerAdminViewer, setupViewer))
}

// home is each viewer's start page.
func (h *Handler) home(w http.ResponseWriter, r *http.Request, v *viewer) error {
	switch v.kind {
	case operatorViewer:
		return h.partnersPage(w, r, v)
	case setupViewer:
		return h.setupChecklist(w, r, v)
	default:
		return h.overview(w, r, v)
	}
}

func (h *Handler) assets() http.Handler {
	files := http.FileServerFS(assetFS())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		// Asset names carry no version, so a change is picked up within
		// the hour; pages themselves are never cached.
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}
