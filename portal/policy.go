package portal

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// policyPage is a security policy editor: a partner's own policy, held
// to the platform's baseline, or (Governance) the baseline itself.
type policyPage struct {
	frame
	Governance bool
	Partner    partnerJSON
	Rows       []policyRow
	Custom     bool
	Source     string
	UpdatedAt  time.Time
	UpdatedBy  string
}

var (
	noticePolicySaved = notice("policy_saved", "Security policy saved. It applies to the next sign-in.")
	noticePolicyReset = notice("policy_reset", "Your policy was removed: the platform's baseline applies.")
)

func (h *Handler) policyRoutes() {
	h.mux.Handle("GET /policy", h.page(h.policyEditor, partnerAdminViewer))
	h.mux.Handle("POST /policy", h.page(h.savePolicy, partnerAdminViewer))
	h.mux.Handle("POST /policy/reset", h.page(h.resetPolicy, partnerAdminViewer))
}

// ownPolicyJSON is the API's answer about a partner's own policy.
type ownPolicyJSON struct {
	Policy    json.RawMessage `json:"policy"`
	UpdatedAt time.Time       `json:"updated_at"`
	UpdatedBy string          `json:"updated_by"`
}

// effectivePolicyJSON is what is in force for a partner, and why.
type effectivePolicyJSON struct {
	Effective  json.RawMessage `json:"effective"`
	Baseline   json.RawMessage `json:"baseline"`
	Overridden []string        `json:"overridden"`
}

func (h *Handler) policyEditor(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return h.renderPolicy(w, r, v, http.StatusOK, nil, nil)
}

func (h *Handler) renderPolicy(w http.ResponseWriter, r *http.Request, v *viewer, status int, form url.Values, refusal *apiError) error {
	page := policyPage{frame: h.frame(r, v, "Security policy", "policy")}
	page.Problem = refusal
	if err := v.api.do("GET", apiPath("partners", v.partnerID), nil, &page.Partner); err != nil {
		return err
	}
	var own ownPolicyJSON
	if err := v.api.do("GET", apiPath("partners", v.partnerID, "policy"), nil, &own); err != nil {
		return err
	}
	var eff effectivePolicyJSON
	if err := v.api.do("GET", apiPath("partners", v.partnerID, "policy", "effective"), nil, &eff); err != nil {
		return err
	}
	ownFlat := flatPolicy(own.Policy)
	page.Custom, page.UpdatedAt, page.UpdatedBy = len(ownFlat) > 0, own.UpdatedAt, own.UpdatedBy
	page.Rows = policyRows(ownFlat, flatPolicy(eff.Baseline), flatPolicy(eff.Effective), eff.Overridden, form, refusal)
	return h.render(w, status, "policy", page)
}

func (h *Handler) savePolicy(w http.ResponseWriter, r *http.Request, v *viewer) error {
	err := v.api.do("PUT", apiPath("partners", v.partnerID, "policy"), policyBody(r.PostForm), nil)
	if ae := asRefusal(err); ae != nil {
		return h.renderPolicy(w, r, v, ae.Status, r.PostForm, ae)
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/policy"), noticePolicySaved)
}

func (h *Handler) resetPolicy(w http.ResponseWriter, r *http.Request, v *viewer) error {
	err := v.api.do("DELETE", apiPath("partners", v.partnerID, "policy"), nil, nil)
	if ae := asRefusal(err); ae != nil {
		return h.renderPolicy(w, r, v, ae.Status, nil, ae)
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/policy"), noticePolicyReset)
}

// policySetting is one setting of a security policy as the editor shows
// it. Values travel as the API's JSON text ("true", `"8h0m0s"`, `["totp"]`),
// so the portal never second-guesses what the API accepts.
type policySetting struct {
	Path  string // the API's field name, e.g. "session.idle_timeout"
	Label string
	Hint  string
	Kind  string // "choice", "duration", "number", "set" or "ranges"
	// Options are a choice's or a set's values; a choice's are JSON text.
	Options []policyOption
}

type policyOption struct{ Value, Label string }

var policySettings = []policySetting{
	{Path: "mfa.required", Label: "Multi-factor authentication", Hint: "Whether every user must have a second factor.", Kind: "choice",
		Options: []policyOption{{"true", "Required"}, {"false", "Optional"}}},
	{Path: "mfa.methods", Label: "Allowed MFA methods", Hint: "The methods users may enrol and use.", Kind: "set",
		Options: []policyOption{{"webauthn", "Passkey or security key"}, {"totp", "Authenticator app"}, {"push", "Push notification"}, {"sms", "Text message"}}},
	{Path: "mfa.accept_idp_mfa", Label: "Accept your identity provider's MFA", Hint: "Count the MFA done at your IdP as the second factor.", Kind: "choice",
		Options: []policyOption{{"true", "Accepted"}, {"false", "Not accepted"}}},
	{Path: "session.max_lifetime", Label: "Session lifetime", Hint: "How long a sign-in lasts at most, such as 8h.", Kind: "duration"},
	{Path: "session.idle_timeout", Label: "Idle timeout", Hint: "A session without activity ends after this, such as 30m.", Kind: "duration"},
	{Path: "session.remember_device", Label: "Remember devices for", Hint: "Skip MFA on a known device for this long; 0 remembers none.", Kind: "duration"},
	{Path: "password.min_length", Label: "Minimum password length", Hint: "In characters.", Kind: "number"},
	{Path: "password.require", Label: "Required character classes", Hint: "What every password must contain.", Kind: "set",
		Options: []policyOption{{"upper", "Upper-case letter"}, {"lower", "Lower-case letter"}, {"digit", "Digit"}, {"symbol", "Symbol"}}},
	{Path: "password.history", Label: "Password history", Hint: "How many old passwords may not be reused; 0 keeps none.", Kind: "number"},
	{Path: "password.max_age", Label: "Password maximum age", Hint: "Passwords expire after this, such as 2160h; 0 never expires them.", Kind: "duration"},
	{Path: "password.passwordless", Label: "Passwordless sign-in", Hint: "Whether users may, or must, sign in with a passkey.", Kind: "choice",
		Options: []policyOption{{`"allowed"`, "Allowed"}, {`"off"`, "Off"}, {`"required"`, "Required"}}},
	{Path: "password.block_common", Label: "Common passwords", Hint: "Refuse passwords found in breach lists.", Kind: "choice",
		Options: []policyOption{{"true", "Blocked"}, {"false", "Allowed"}}},
	{Path: "lockout.threshold", Label: "Lockout threshold", Hint: "Failed sign-ins in a row that lock an account; 0 locks none.", Kind: "number"},
	{Path: "lockout.duration", Label: "Lockout duration", Hint: "How long a locked account stays locked, such as 15m.", Kind: "duration"},
	{Path: "sso_required", Label: "Single sign-on", Hint: "Whether users must sign in through your identity provider.", Kind: "choice",
		Options: []policyOption{{"true", "Required"}, {"false", "Optional"}}},
	{Path: "allowed_ip_ranges", Label: "Allowed IP ranges", Hint: "One range per line, such as 203.0.113.0/24; an empty list allows every address.", Kind: "ranges"},
}

// policyRow is one setting on the page: the value set here ("" inherits),
// what the platform allows and what is in force.
type policyRow struct {
	policySetting
	// Own is the value as the form holds it; Set says whether a set or
	// range list is set at all (an empty one is set).
	Own       string
	Chosen    []string
	Set       bool
	Platform  string
	Effective string
	// Overridden: the platform's baseline, made stricter since, wins
	// over the value set here.
	Overridden bool
	Problems   []problem
}

// Checked reports whether a set's option is chosen.
func (r policyRow) Checked(v string) bool { return slices.Contains(r.Chosen, v) }

// Describe shows a value given as the API's JSON text in words.
func (r policyRow) Describe(raw string) string { return r.describe(json.RawMessage(raw)) }

func (s policySetting) describe(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return "—"
	}
	switch s.Kind {
	case "choice":
		for _, o := range s.Options {
			if o.Value == string(raw) {
				return o.Label
			}
		}
	case "duration":
		var d string
		if json.Unmarshal(raw, &d) == nil {
			return shortDuration(d)
		}
	case "set", "ranges":
		var list []string
		if json.Unmarshal(raw, &list) == nil {
			if len(list) == 0 {
				if s.Kind == "ranges" {
					return "Any address"
				}
				return "None"
			}
			for i, v := range list {
				for _, o := range s.Options {
					if o.Value == v {
						list[i] = o.Label
					}
				}
			}
			return strings.Join(list, ", ")
		}
	}
	return string(raw)
}

// formValue is a set value as the form's input holds it.
func (s policySetting) formValue(raw json.RawMessage) (value string, chosen []string) {
	switch s.Kind {
	case "duration":
		var d string
		_ = json.Unmarshal(raw, &d)
		return shortDuration(d), nil
	case "set", "ranges":
		_ = json.Unmarshal(raw, &chosen)
		return strings.Join(chosen, "\n"), chosen
	}
	return string(raw), nil
}

// shortDuration writes "12h0m0s" as "12h" and "1h30m0s" as "1h30m".
func shortDuration(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil || d == 0 {
		if err == nil {
			return "0"
		}
		return s
	}
	out := d.String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}

// flatPolicy is a policy as the API writes it, by field path.
func flatPolicy(raw json.RawMessage) map[string]json.RawMessage {
	var top map[string]json.RawMessage
	_ = json.Unmarshal(raw, &top)
	out := map[string]json.RawMessage{}
	for k, v := range top {
		var nested map[string]json.RawMessage
		if len(v) > 0 && v[0] == '{' && json.Unmarshal(v, &nested) == nil {
			for nk, nv := range nested {
				out[k+"."+nk] = nv
			}
			continue
		}
		out[k] = v
	}
	return out
}

// policyBody is the policy a submitted form asks for, in the API's
// shape. What cannot be a number or a list is sent as typed, for the API
// to refuse with its own words.
func policyBody(f url.Values) map[string]any {
	body := map[string]any{}
	put := func(path string, v any) {
		group, name, nested := strings.Cut(path, ".")
		if !nested {
			body[path] = v
			return
		}
		m, _ := body[group].(map[string]any)
		if m == nil {
			m = map[string]any{}
			body[group] = m
		}
		m[name] = v
	}
	for _, s := range policySettings {
		v := strings.TrimSpace(f.Get(s.Path))
		switch s.Kind {
		case "choice":
			if v != "" {
				put(s.Path, json.RawMessage(choiceJSON(s, v)))
			}
		case "duration":
			if v != "" {
				put(s.Path, v)
			}
		case "number":
			if n, err := strconv.Atoi(v); err == nil {
				put(s.Path, n)
			} else if v != "" {
				put(s.Path, v)
			}
		case "set":
			if f.Get(s.Path+".mode") == "set" {
				put(s.Path, append([]string{}, f[s.Path]...))
			}
		case "ranges":
			if f.Get(s.Path+".mode") == "set" {
				put(s.Path, append([]string{}, strings.Fields(strings.ReplaceAll(v, ",", " "))...))
			}
		}
	}
	return body
}

// choiceJSON keeps a choice to one of its options, so the form cannot
// smuggle arbitrary JSON into the body.
func choiceJSON(s policySetting, v string) string {
	for _, o := range s.Options {
		if o.Value == v {
			return v
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// policyRows lays out the page: own holds the values set here, platform
// the baseline, effective what is in force (nil on the governance page).
func policyRows(own, platform, effective map[string]json.RawMessage, overridden []string, form url.Values, refusal *apiError) []policyRow {
	rows := make([]policyRow, 0, len(policySettings))
	for _, s := range policySettings {
		row := policyRow{policySetting: s, Overridden: slices.Contains(overridden, s.Path)}
		if raw, ok := platform[s.Path]; ok {
			row.Platform = s.describe(raw)
		}
		if raw, ok := effective[s.Path]; ok {
			row.Effective = s.describe(raw)
		}
		if form != nil {
			row.Own, row.Chosen = strings.TrimSpace(form.Get(s.Path)), form[s.Path]
			row.Set = form.Get(s.Path+".mode") == "set"
		} else if raw, ok := own[s.Path]; ok && string(raw) != "null" {
			row.Own, row.Chosen = s.formValue(raw)
			row.Set = true
		} else if raw, ok := effective[s.Path]; ok && s.Kind == "set" {
			// Ticked as in force, so choosing "only these" starts there.
			_, row.Chosen = s.formValue(raw)
		}
		if refusal != nil {
			for _, d := range refusal.Details {
				if d.Field == s.Path {
					row.Problems = append(row.Problems, d)
				}
			}
			if row.Problems == nil && refusal.Field == s.Path {
				row.Problems = []problem{{Field: s.Path, Message: refusal.Message}}
			}
		}
		rows = append(rows, row)
	}
	return rows
}
