package preset

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// contract are the preset ids SSO connections accept (issue 5).
var contract = []string{"okta", "entra", "ping", "onelogin", "google", "generic-oidc", "generic-saml"}

var testURLs = URLsFor("https", "acme.example")

func TestIDsMatchContract(t *testing.T) {
	t.Parallel()
	if got := IDs(); !slices.Equal(got, contract) {
		t.Errorf("IDs() = %v, want %v", got, contract)
	}
	for _, id := range contract {
		if p, ok := Get(id); !ok || p.ID != id {
			t.Errorf("Get(%q) = %q, %v", id, p.ID, ok)
		}
	}
	if _, ok := Get("nope"); ok {
		t.Error("Get of an unknown id succeeded")
	}
}

// Every preset is complete: nothing a wizard shows is empty, every
// placeholder is one Render fills, and each protocol brings back what a
// connection of it needs.
func TestPresetsComplete(t *testing.T) {
	t.Parallel()
	for _, p := range All() {
		t.Run(p.ID, func(t *testing.T) {
			if p.Name == "" || len(p.Protocols) == 0 {
				t.Errorf("name %q, protocols %v", p.Name, p.Protocols)
			}
			if p.OIDC != nil {
				o := p.OIDC
				if len(o.IssuerHints) == 0 || slices.Contains(o.IssuerHints, "") {
					t.Errorf("issuer hints %q", o.IssuerHints)
				}
				for _, h := range o.IssuerHints {
					if !strings.HasPrefix(h, "https://") {
						t.Errorf("issuer hint %q is not https", h)
					}
				}
				if !slices.Equal(o.Scopes[:3], []string{"openid", "email", "profile"}) {
					t.Errorf("scopes %v", o.Scopes)
				}
				checkMapping(t, "oidc", p.ID, o.Mapping)
				need := []Value{ClientID, ClientSecret}
				// A fixed issuer (no tenant part) need not be brought back.
				if len(o.IssuerHints) > 1 || strings.Contains(o.IssuerHints[0], "{") {
					need = append(need, Issuer)
				}
				checkSteps(t, "oidc", o.Steps, need, RedirectURI)
			}
			if p.SAML != nil {
				checkMapping(t, "saml", p.ID, p.SAML.Mapping)
				checkSteps(t, "saml", p.SAML.Steps, []Value{MetadataURL, MetadataXML}, ACSURL, SPEntityID)
			}
			if p.OIDC == nil && p.SAML == nil {
				t.Error("no protocol")
			}
		})
	}
}

func checkMapping(t *testing.T, proto, id string, m Mapping) {
	t.Helper()
	lists := map[string][]string{"email": m.Email, "name": m.Name, "given_name": m.GivenName, "family_name": m.FamilyName, "groups": m.Groups}
	for field, names := range lists {
		// Google alone sends no groups.
		if len(names) == 0 && (field != "groups" || id != "google") {
			t.Errorf("%s mapping of %s is empty", proto, field)
		}
		if slices.Contains(names, "") {
			t.Errorf("%s mapping of %s has an empty name", proto, field)
		}
	}
}

func checkSteps(t *testing.T, proto string, steps []Step, bring []Value, copyAll ...Placeholder) {
	t.Helper()
	if len(steps) == 0 {
		t.Fatalf("%s has no steps", proto)
	}
	copied := map[Placeholder]bool{}
	brought := map[Value]bool{}
	for i, s := range steps {
		if s.Title == "" || s.Body == "" {
			t.Errorf("%s step %d: title %q, body %q", proto, i, s.Title, s.Body)
		}
		for _, f := range s.Copy {
			if !slices.Contains(Placeholders, f.Name) || f.Label == "" || f.Value != "{"+string(f.Name)+"}" {
				t.Errorf("%s step %d copies %+v", proto, i, f)
			}
			copied[f.Name] = true
		}
		for _, v := range s.BringBack {
			brought[v] = true
		}
	}
	for _, p := range copyAll {
		if !copied[p] {
			t.Errorf("%s steps never copy %s", proto, p)
		}
	}
	for _, v := range bring {
		if !brought[v] {
			t.Errorf("%s steps never bring back %s", proto, v)
		}
	}
}

func TestRenderFillsEveryPlaceholder(t *testing.T) {
	t.Parallel()
	want := map[Placeholder]string{
		RedirectURI:   "https://acme.example/.partnergate/callback/oidc",
		ACSURL:        "https://acme.example/.partnergate/saml/acs",
		SPEntityID:    "https://acme.example/.partnergate/saml/metadata",
		SPMetadataURL: "https://acme.example/.partnergate/saml/metadata",
	}
	for _, p := range All() {
		r := Render(p, testURLs)
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, ph := range Placeholders {
			if strings.Contains(string(b), "{"+string(ph)+"}") {
				t.Errorf("%s: rendered still shows {%s}", p.ID, ph)
			}
		}
		for _, steps := range r.steps() {
			for _, s := range steps {
				for _, f := range s.Copy {
					if f.Value != want[f.Name] {
						t.Errorf("%s: %s = %q, want %q", p.ID, f.Name, f.Value, want[f.Name])
					}
				}
			}
		}
	}
}

// Render and All hand out copies: changing one changes no preset.
func TestCopiesAreIndependent(t *testing.T) {
	t.Parallel()
	p, _ := Get("okta")
	_ = Render(p, testURLs)
	if v := p.OIDC.Steps[1].Copy[0].Value; v != "{redirect_uri}" {
		t.Fatalf("Render changed its argument: %q", v)
	}
	p.OIDC.Scopes[0] = "changed"
	p.OIDC.Steps[1].Copy[0].Value = "changed"
	again, _ := Get("okta")
	if again.OIDC.Scopes[0] != "openid" || again.OIDC.Steps[1].Copy[0].Value != "{redirect_uri}" {
		t.Error("changing a returned preset changed the preset")
	}
}

// JSON always shows lists as arrays, never null, so strict clients and
// the OpenAPI schema can rely on them.
func TestJSONHasNoNulls(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(All())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "null") {
		t.Errorf("presets JSON has null: %s", b)
	}
}
