package portal

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

func (h *Handler) userRoutes() {
	h.mux.Handle("GET /users", h.page(h.usersPage, partnerAdminViewer))
	h.mux.Handle("POST /users/invite", h.page(h.inviteUser, partnerAdminViewer))
	h.mux.Handle("GET /users/{id}", h.page(h.userPage, partnerAdminViewer))
	h.mux.Handle("POST /users/{id}/suspend", h.page(h.userAction("POST", noticeUserSuspended, "suspend"), partnerAdminViewer))
	h.mux.Handle("POST /users/{id}/resume", h.page(h.userAction("POST", noticeUserResumed, "resume"), partnerAdminViewer))
	h.mux.Handle("POST /users/{id}/password-reset", h.page(h.userAction("POST", noticeResetSent, "password-reset"), partnerAdminViewer))
	h.mux.Handle("POST /users/{id}/sign-out", h.page(h.userAction("DELETE", noticeSignedOut, "sessions"), partnerAdminViewer))
	h.mux.Handle("POST /users/{id}/sessions/{sid}/revoke", h.page(h.revokeSession, partnerAdminViewer))
	h.mux.Handle("POST /users/{id}/mfa-methods/{mid}/remove", h.page(h.removeMFAMethod, partnerAdminViewer))
	h.mux.Handle("POST /users/{id}/delete", h.page(h.deleteUser, partnerAdminViewer))
}

var (
	noticeInvited       = notice("user_invited", "Invitation sent.")
	noticeUserSuspended = notice("user_suspended", "User suspended. Their sessions have ended.")
	noticeUserResumed   = notice("user_resumed", "User resumed.")
	noticeResetSent     = notice("password_reset_sent", "Password reset link sent.")
	noticeSignedOut     = notice("user_signed_out", "The user was signed out everywhere.")
	noticeSessionEnded  = notice("session_revoked", "Session ended.")
	noticeMFARemoved    = notice("mfa_removed", "Second factor removed.")
	noticeUserDeleted   = notice("user_deleted", "User deleted.")
)

// userRow is a user as the pages show one: with the names of its groups
// and a badge for its status.
type userRow struct {
	userJSON
	GroupNames []string
}

// BadgeClass colours the status badge; the status is always written out
// too, so colour is never the only cue.
func (u userJSON) BadgeClass() string {
	switch u.Status {
	case "active":
		return "badge-ok"
	case "suspended":
		return "badge-danger"
	}
	return "badge-warn"
}

// DisplayName is the user's name, or their email when they have none.
func (u userJSON) DisplayName() string {
	if u.Name != "" {
		return u.Name
	}
	return u.Email
}

type sessionJSON struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
}

type mfaMethodJSON struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// usersPage lists and searches the partner's users and invites new ones.
type usersPage struct {
	frame
	Users []userRow
	// Search is the filter as asked; Searched says whether any is set.
	Search   userSearch
	Searched bool
	// SearchProblem is the API refusing the search; frame.Problem is its
	// refusing an invitation.
	SearchProblem *apiError
	Next, First   string
	InviteEmail   string
	InviteName    string
	// EmailError and NameError are the API's words on each invite field.
	EmailError, NameError string
}

type userSearch struct {
	Email, Name, Status, Cursor string
}

func (s userSearch) values() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"email": s.Email, "name": s.Name, "status": s.Status, "cursor": s.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// usersPageSize is how many users one page of the list shows.
const usersPageSize = "50"

func (h *Handler) usersPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return h.renderUsers(w, r, v, http.StatusOK, nil, "", "")
}

func (h *Handler) renderUsers(w http.ResponseWriter, r *http.Request, v *viewer, status int, problem *apiError, email, name string) error {
	q := r.URL.Query()
	s := userSearch{Email: strings.TrimSpace(q.Get("email")), Name: strings.TrimSpace(q.Get("name")), Status: q.Get("status"), Cursor: q.Get("cursor")}
	page := usersPage{frame: h.frame(r, v, "Users", "users"), Search: s, Searched: s.Email != "" || s.Name != "" || s.Status != "", InviteEmail: email, InviteName: name}
	page.Problem = problem
	page.EmailError, page.NameError = problem.problemFor("email"), problem.problemFor("name")
	names, err := groupNames(v)
	if err != nil {
		return err
	}
	ask := s.values()
	ask.Set("limit", usersPageSize)
	var users list[userJSON]
	err = v.api.do("GET", apiPath("partners", v.partnerID, "users")+"?"+ask.Encode(), nil, &users)
	if ae := asRefusal(err); ae != nil {
		page.SearchProblem = ae
		if status == http.StatusOK {
			status = ae.Status
		}
	} else if err != nil {
		return err
	}
	for _, u := range users.Data {
		page.Users = append(page.Users, userRow{userJSON: u, GroupNames: namesOf(u.Groups, names)})
	}
	if users.NextCursor != "" {
		next := s
		next.Cursor = users.NextCursor
		page.Next = v.link("/users?" + next.values().Encode())
	}
	if s.Cursor != "" {
		first := s
		first.Cursor = ""
		page.First = v.link("/users?" + first.values().Encode())
	}
	return h.render(w, status, "users", page)
}

// inviteUser creates the user if needed and has the API mail them a link
// to set a password. Without a mail sender the API refuses, and the page
// says so beside the form.
func (h *Handler) inviteUser(w http.ResponseWriter, r *http.Request, v *viewer) error {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	name := strings.TrimSpace(r.PostForm.Get("name"))
	var out struct {
		User userJSON `json:"user"`
	}
	err := v.api.do("POST", apiPath("partners", v.partnerID, "invitations"), map[string]string{"email": email, "name": name}, &out)
	if ae := asRefusal(err); ae != nil {
		return h.renderUsers(w, r, v, ae.Status, ae, email, name)
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/users/"+url.PathEscape(out.User.ID)), noticeInvited)
}

// userPage is one user: profile, actions, sessions, second factors and
// groups.
type userPage struct {
	frame
	User     userJSON
	Groups   []groupRef
	Sessions []sessionJSON
	MFA      []mfaMethodJSON
}

type groupRef struct {
	ID, Name string
}

func (h *Handler) userPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return h.renderUser(w, r, v, http.StatusOK, nil)
}

func (h *Handler) renderUser(w http.ResponseWriter, r *http.Request, v *viewer, status int, problem *apiError) error {
	id := r.PathValue("id")
	page := userPage{frame: h.frame(r, v, "User", "users")}
	page.Problem = problem
	if err := v.api.do("GET", apiPath("partners", v.partnerID, "users", id), nil, &page.User); err != nil {
		return err
	}
	page.Title = page.User.DisplayName()
	names, err := groupNames(v)
	if err != nil {
		return err
	}
	for _, g := range page.User.Groups {
		page.Groups = append(page.Groups, groupRef{ID: g, Name: names[g]})
	}
	var sessions list[sessionJSON]
	if err := v.api.do("GET", apiPath("partners", v.partnerID, "users", id, "sessions"), nil, &sessions); err != nil {
		return err
	}
	page.Sessions = sessions.Data
	var mfa list[mfaMethodJSON]
	if err := v.api.do("GET", apiPath("partners", v.partnerID, "users", id, "mfa-methods"), nil, &mfa); err != nil {
		return err
	}
	page.MFA = mfa.Data
	return h.render(w, status, "user", page)
}

// userAction is a write on the user with no body, e.g. suspend: the API
// call is method on the user's path plus suffix.
func (h *Handler) userAction(method, doneKey, suffix string) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, v *viewer) error {
		id := r.PathValue("id")
		err := v.api.do(method, apiPath("partners", v.partnerID, "users", id, suffix), nil, nil)
		return h.afterUserWrite(w, r, v, err, doneKey)
	}
}

func (h *Handler) revokeSession(w http.ResponseWriter, r *http.Request, v *viewer) error {
	err := v.api.do("DELETE", apiPath("partners", v.partnerID, "users", r.PathValue("id"), "sessions", r.PathValue("sid")), nil, nil)
	return h.afterUserWrite(w, r, v, err, noticeSessionEnded)
}

func (h *Handler) removeMFAMethod(w http.ResponseWriter, r *http.Request, v *viewer) error {
	err := v.api.do("DELETE", apiPath("partners", v.partnerID, "users", r.PathValue("id"), "mfa-methods", r.PathValue("mid")), nil, nil)
	return h.afterUserWrite(w, r, v, err, noticeMFARemoved)
}

// afterUserWrite goes back to the user's page: with a notice, or showing
// the API's refusal.
func (h *Handler) afterUserWrite(w http.ResponseWriter, r *http.Request, v *viewer, err error, doneKey string) error {
	if ae := asRefusal(err); ae != nil {
		return h.renderUser(w, r, v, ae.Status, ae)
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/users/"+url.PathEscape(r.PathValue("id"))), doneKey)
}

// deleteUser deletes without If-Match: the API makes it optional, and a
// delete does not depend on what the admin last saw of the user.
func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, v *viewer) error {
	err := v.api.do("DELETE", apiPath("partners", v.partnerID, "users", r.PathValue("id")), nil, nil)
	if ae := asRefusal(err); ae != nil {
		return h.renderUser(w, r, v, ae.Status, ae)
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/users"), noticeUserDeleted)
}
