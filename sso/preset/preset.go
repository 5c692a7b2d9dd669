package preset

import (
	"net/url"
	"slices"
	"strings"
)

// Protocol is the single sign-on protocol of a connection.
type Protocol string

const (
	OIDC Protocol = "oidc"
	SAML Protocol = "saml"
)

// Placeholder names a per-partner value an admin copies into the IdP.
// Unrendered, a step shows it as "{name}"; Render replaces it.
type Placeholder string

const (
	RedirectURI   Placeholder = "redirect_uri"
	ACSURL        Placeholder = "acs_url"
	SPEntityID    Placeholder = "sp_entity_id"
	SPMetadataURL Placeholder = "sp_metadata_url"
)

// Placeholders are every placeholder Render fills.
var Placeholders = []Placeholder{RedirectURI, ACSURL, SPEntityID, SPMetadataURL}

// Value names a setting an admin brings back from the IdP; the names are
// the fields of an SSO connection. MetadataURL and MetadataXML are
// alternatives: a SAML connection needs one of them.
type Value string

const (
	Issuer       Value = "issuer"
	ClientID     Value = "client_id"
	ClientSecret Value = "client_secret"
	MetadataURL  Value = "metadata_url"
	MetadataXML  Value = "metadata_xml"
)

// Preset is one identity provider's defaults and setup instructions. At
// least one of OIDC and SAML is set; Protocols lists which.
type Preset struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Protocols []Protocol `json:"protocols"`
	OIDC      *OIDCSetup `json:"oidc,omitempty"`
	SAML      *SAMLSetup `json:"saml,omitempty"`
}

// OIDCSetup is how to connect the provider over OpenID Connect.
type OIDCSetup struct {
	// IssuerHints are the shapes of the provider's issuer; a part in
	// braces is the tenant's own value, and a hint without braces is the
	// issuer itself.
	IssuerHints []string `json:"issuer_hints"`
	Scopes      []string `json:"scopes"`
	Mapping     Mapping  `json:"attribute_mapping"`
	Steps       []Step   `json:"steps"`
}

// SAMLSetup is how to connect the provider over SAML 2.0.
type SAMLSetup struct {
	Mapping Mapping `json:"attribute_mapping"`
	Steps   []Step  `json:"steps"`
}

// Mapping gives, for each profile field, the claim or attribute names
// that carry it, most preferred first: providers differ in which claims a
// token has (Entra may send email, preferred_username or upn), so the
// first one present wins. Groups is empty when the provider sends none.
type Mapping struct {
	Email      []string `json:"email"`
	Name       []string `json:"name"`
	GivenName  []string `json:"given_name"`
	FamilyName []string `json:"family_name"`
	Groups     []string `json:"groups"`
}

// Step is one instruction. Body is plain text; Copy are the values to
// enter into the IdP in this step, BringBack those to take from it.
type Step struct {
	Title     string  `json:"title"`
	Body      string  `json:"body"`
	Copy      []Field `json:"copy"`
	BringBack []Value `json:"bring_back"`
}

// Field is a value to copy: Value is "{name}" until Render fills it.
type Field struct {
	Name  Placeholder `json:"name"`
	Label string      `json:"label"`
	Value string      `json:"value"`
}

// PartnerURLs are one partner's values for the placeholders.
type PartnerURLs struct {
	RedirectURI   string
	ACSURL        string
	SPEntityID    string
	SPMetadataURL string
}

// The paths the SSO endpoints serve on every partner hostname.
const (
	CallbackPath = "/.partnergate/callback/oidc"
	ACSPath      = "/.partnergate/saml/acs"
	MetadataPath = "/.partnergate/saml/metadata"
	// TestPath opens an admin's test sign-in link.
	TestPath = "/.partnergate/sso/test"
)

// URLsFor returns the URLs of a partner served at host with scheme
// (https, or http for a local setup). The SP entity id is the metadata
// URL, as SAML recommends: it is unique per partner and resolvable.
func URLsFor(scheme, host string) PartnerURLs {
	at := func(path string) string {
		return (&url.URL{Scheme: scheme, Host: host, Path: path}).String()
	}
	return PartnerURLs{
		RedirectURI:   at(CallbackPath),
		ACSURL:        at(ACSPath),
		SPEntityID:    at(MetadataPath),
		SPMetadataURL: at(MetadataPath),
	}
}

// value is the URL for one placeholder, "" for an unknown one.
func (u PartnerURLs) value(p Placeholder) string {
	switch p {
	case RedirectURI:
		return u.RedirectURI
	case ACSURL:
		return u.ACSURL
	case SPEntityID:
		return u.SPEntityID
	case SPMetadataURL:
		return u.SPMetadataURL
	}
	return ""
}

// RenderedPreset is a preset with its placeholders filled for one partner.
// It has the same shape as Preset, so a client reads both alike.
type RenderedPreset = Preset

// Render fills every placeholder of p's steps with the partner's URLs.
// p is not changed.
func Render(p Preset, urls PartnerURLs) RenderedPreset {
	out := clone(p)
	for _, steps := range out.steps() {
		for i := range steps {
			for j := range steps[i].Copy {
				f := &steps[i].Copy[j]
				f.Value = urls.value(f.Name)
			}
		}
	}
	return out
}

// steps are the step lists of every protocol p has.
func (p *Preset) steps() [][]Step {
	var out [][]Step
	if p.OIDC != nil {
		out = append(out, p.OIDC.Steps)
	}
	if p.SAML != nil {
		out = append(out, p.SAML.Steps)
	}
	return out
}

// All returns every preset, in the order the wizard offers them. The
// result is a copy: callers may change it without changing the presets.
func All() []Preset {
	out := make([]Preset, len(presets))
	for i, p := range presets {
		out[i] = clone(p)
	}
	return out
}

// Get returns the preset with the id, and whether there is one.
func Get(id string) (Preset, bool) {
	for _, p := range presets {
		if p.ID == id {
			return clone(p), true
		}
	}
	return Preset{}, false
}

// IDs are the preset ids, part of the API contract of SSO connections.
func IDs() []string {
	ids := make([]string, len(presets))
	for i, p := range presets {
		ids[i] = p.ID
	}
	return ids
}

// clone deep-copies p, turning nil lists into empty ones so that JSON
// always shows an array, and deriving Protocols from the setups present.
func clone(p Preset) Preset {
	out := Preset{ID: p.ID, Name: p.Name, Protocols: []Protocol{}}
	if p.OIDC != nil {
		out.Protocols = append(out.Protocols, OIDC)
		out.OIDC = &OIDCSetup{
			IssuerHints: cloneList(p.OIDC.IssuerHints),
			Scopes:      cloneList(p.OIDC.Scopes),
			Mapping:     p.OIDC.Mapping.clone(),
			Steps:       cloneSteps(p.OIDC.Steps),
		}
	}
	if p.SAML != nil {
		out.Protocols = append(out.Protocols, SAML)
		out.SAML = &SAMLSetup{Mapping: p.SAML.Mapping.clone(), Steps: cloneSteps(p.SAML.Steps)}
	}
	return out
}

func (m Mapping) clone() Mapping {
	return Mapping{
		Email:      cloneList(m.Email),
		Name:       cloneList(m.Name),
		GivenName:  cloneList(m.GivenName),
		FamilyName: cloneList(m.FamilyName),
		Groups:     cloneList(m.Groups),
	}
}

func cloneSteps(steps []Step) []Step {
	out := make([]Step, len(steps))
	for i, s := range steps {
		out[i] = Step{Title: s.Title, Body: s.Body, Copy: cloneList(s.Copy), BringBack: cloneList(s.BringBack)}
	}
	return out
}

func cloneList[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return slices.Clone(s)
}

// copyField is the unrendered field for a placeholder.
func copyField(p Placeholder) Field {
	return Field{Name: p, Label: labels[p], Value: "{" + string(p) + "}"}
}

var labels = map[Placeholder]string{
	RedirectURI:   "Redirect URI",
	ACSURL:        "Assertion Consumer Service (ACS) URL",
	SPEntityID:    "Service provider entity ID (audience)",
	SPMetadataURL: "Service provider metadata URL",
}

// fields is copyField over several placeholders.
func fields(ps ...Placeholder) []Field {
	out := make([]Field, len(ps))
	for i, p := range ps {
		out[i] = copyField(p)
	}
	return out
}

// text joins sentences, so the data below stays readable.
func text(sentences ...string) string { return strings.Join(sentences, " ") }
