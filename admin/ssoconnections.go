package admin

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/partnergate/partnergate/sso/connection"
	"github.com/partnergate/partnergate/sso/preset"
	"github.com/partnergate/partnergate/sso/saml"
	"github.com/partnergate/partnergate/store"
)

var errSSOConnectionNotFound = &apiError{status: http.StatusNotFound, code: "not_found", message: "SSO connection not found"}

const (
	// maxConnections bounds a partner's SSO connections: they are listed
	// whole, and a partner has one per IdP it runs.
	maxConnections = 20
	// maxMetadataXML bounds pasted IdP metadata; it leaves room in the
	// request body for the rest of the connection.
	maxMetadataXML = 48 << 10
	samlMetadataNS = "urn:oasis:names:tc:SAML:2.0:metadata"
)

var (
	ssoCreateFields = fieldSet{
		writable: []string{"name", "preset", "enabled", "domains", "jit", "oidc", "saml", "attribute_mapping"},
		readOnly: []string{"id", "created_at", "updated_at"},
	}
	// The preset fixes the protocol and the defaults a connection was
	// made from; another provider is another connection.
	ssoPatchFields = fieldSet{
		writable: []string{"name", "enabled", "domains", "jit", "oidc", "saml", "attribute_mapping"},
		readOnly: []string{"id", "preset", "created_at", "updated_at"},
	}
	oidcFields      = []string{"issuer", "client_id", "client_secret", "scopes", "userinfo"}
	samlFields      = []string{"metadata_url", "metadata_xml", "entity_id", "sso_url", "certificates", "allow_idp_initiated", "sign_requests"}
	attributeFields = []string{"email", "name", "given_name", "family_name", "groups"}
)

// ssoConnectionJSON is a connection on the wire. The client secret is
// write-only: a client learns only whether one is set.
type ssoConnectionJSON struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Preset    string         `json:"preset"`
	Enabled   bool           `json:"enabled"`
	Domains   []string       `json:"domains"`
	JIT       bool           `json:"jit"`
	OIDC      *oidcJSON      `json:"oidc,omitempty"`
	SAML      *samlJSON      `json:"saml,omitempty"`
	Mapping   preset.Mapping `json:"attribute_mapping"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

type oidcJSON struct {
	Issuer          string   `json:"issuer"`
	ClientID        string   `json:"client_id"`
	ClientSecretSet bool     `json:"client_secret_set"`
	Scopes          []string `json:"scopes"`
	Userinfo        bool     `json:"userinfo"`
}

// samlJSON shows the IdP as it was given and never the service
// provider's private key.
type samlJSON struct {
	MetadataURL       string `json:"metadata_url,omitempty"`
	MetadataXML       string `json:"metadata_xml,omitempty"`
	EntityID          string `json:"entity_id,omitempty"`
	SSOURL            string `json:"sso_url,omitempty"`
	Certificates      string `json:"certificates,omitempty"`
	AllowIdPInitiated bool   `json:"allow_idp_initiated"`
	SignRequests      bool   `json:"sign_requests"`
	// IdPCertificates are the IdP's signing certificates, flagged ahead
	// of their expiry. They are read from the IdP's metadata, which may
	// change without the connection changing, so the ETag leaves them
	// out.
	IdPCertificates []certificateJSON `json:"idp_certificates,omitempty"`
}

type certificateJSON struct {
	Subject     string    `json:"subject"`
	NotAfter    time.Time `json:"not_after"`
	ExpiresSoon bool      `json:"expires_soon"`
	Expired     bool      `json:"expired"`
}

// certificateWarning is how far ahead an expiring IdP certificate is
// flagged: time enough to roll it over at the IdP.
const certificateWarning = 30 * 24 * time.Hour

// certificateFetch bounds reading a metadata URL for an answer: a slow
// IdP leaves the list out, and the fetch goes on for the next read.
const certificateFetch = 2 * time.Second

// idpCertificates lists the IdP's signing certificates: from pasted
// metadata or certificates, or from the metadata URL through the cache
// the sign-ins share.
func (h *Handler) idpCertificates(r *http.Request, s *samlJSON) []certificateJSON {
	var idp saml.IdP
	var err error
	switch {
	case s.MetadataXML != "":
		idp, err = saml.ParseMetadata([]byte(s.MetadataXML))
	case s.Certificates != "":
		idp, err = saml.ManualIdP(s.EntityID, s.SSOURL, []byte(s.Certificates))
	case s.MetadataURL != "" && h.samlMetadata != nil:
		ctx, cancel := context.WithTimeout(r.Context(), certificateFetch)
		defer cancel()
		idp, err = h.samlMetadata.Get(ctx, s.MetadataURL)
	default:
		return nil
	}
	if err != nil {
		return nil
	}
	now := h.now()
	out := make([]certificateJSON, 0, len(idp.Certificates))
	for _, c := range idp.Certificates {
		out = append(out, certificateJSON{
			Subject: c.Subject.String(), NotAfter: c.NotAfter.UTC(),
			ExpiresSoon: c.NotAfter.Before(now.Add(certificateWarning)), Expired: c.NotAfter.Before(now),
		})
	}
	return out
}

// writeConnection answers one connection with its ETag, then its IdP
// certificates.
func (h *Handler) writeConnection(w http.ResponseWriter, r *http.Request, status int, out ssoConnectionJSON) error {
	w.Header().Set("ETag", etagOf(out))
	if out.SAML != nil {
		out.SAML.IdPCertificates = h.idpCertificates(r, out.SAML)
	}
	return writeJSON(w, status, out)
}

func (h *Handler) ssoConnectionOf(c store.SSOConnection) (ssoConnectionJSON, error) {
	cfg, err := connection.Decode(c)
	if err != nil {
		return ssoConnectionJSON{}, err
	}
	out := ssoConnectionJSON{
		ID: c.ID, Name: c.Name, Preset: c.Preset, Enabled: c.Enabled,
		Domains: nonNil(c.Domains), JIT: c.JIT, Mapping: cfg.Mapping,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	if o := cfg.OIDC; o != nil {
		out.OIDC = &oidcJSON{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecretSet: len(o.SealedSecret) > 0, Scopes: nonNil(o.Scopes), Userinfo: o.Userinfo}
	}
	if s := cfg.SAML; s != nil {
		out.SAML = &samlJSON{
			MetadataURL: s.MetadataURL, MetadataXML: s.MetadataXML,
			EntityID: s.EntityID, SSOURL: s.SSOURL, Certificates: s.Certificates,
			AllowIdPInitiated: s.AllowIdPInitiated, SignRequests: s.SignRequests,
		}
	}
	return out, nil
}

func ssoConnectionPath(partnerID, id string) string {
	return partnerPath(partnerID) + "/sso-connections/" + id
}

func (h *Handler) listSSOConnections(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	conns, err := h.store.ListSSOConnections(r.Context(), p.ID)
	if err != nil {
		return ssoConnectionError(err)
	}
	out := listJSON[ssoConnectionJSON]{Data: make([]ssoConnectionJSON, 0, len(conns))}
	for _, c := range conns {
		j, err := h.ssoConnectionOf(c)
		if err != nil {
			return err
		}
		if j.SAML != nil {
			j.SAML.IdPCertificates = h.idpCertificates(r, j.SAML)
		}
		out.Data = append(out.Data, j)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) getSSOConnection(w http.ResponseWriter, r *http.Request) error {
	c, err := h.ssoConnection(r)
	if err != nil {
		return err
	}
	out, err := h.ssoConnectionOf(c)
	if err != nil {
		return err
	}
	return h.writeConnection(w, r, http.StatusOK, out)
}

func (h *Handler) createSSOConnection(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	m, err := readObject(w, r, ssoCreateFields)
	if err != nil {
		return err
	}
	var ps problems
	in := decodeConnection(m, &ps)
	pr, ok := preset.Get(in.preset.val)
	if !in.preset.set || in.preset.null || in.preset.val == "" {
		ps.add("preset", "preset is required: one of "+strings.Join(preset.IDs(), ", "))
	} else if !ok {
		ps.add("preset", fmt.Sprintf("unknown preset %q: use one of %s", in.preset.val, strings.Join(preset.IDs(), ", ")))
	}
	c := store.SSOConnection{ID: store.NewID("sso_"), PartnerID: p.ID, Preset: pr.ID, CreatedBy: callerOf(r).creator()}
	var cfg connection.Config
	if ok {
		c.Protocol = string(in.protocol(pr, &ps))
		cfg = defaultConfig(pr, preset.Protocol(c.Protocol))
	}
	in.apply(pr, &c, &cfg, true, &ps)
	if err := ps.err(); err != nil {
		return err
	}
	if in.secret.set {
		cfg.OIDC.SealedSecret = connection.SealSecret(h.secrets, c.PartnerID, c.ID, in.secret.val)
	}
	if cfg.SAML != nil {
		// Each SAML connection gets a key pair of its own: a partner's
		// IdPs never share one, and deleting a connection retires its key.
		key, cert, err := saml.NewKeyPair(h.partnerHost(p), h.now())
		if err != nil {
			return err
		}
		cfg.SAML.SPCertificate = cert.Raw
		if cfg.SAML.SealedSPKey, err = connection.SealSPKey(h.secrets, c.PartnerID, c.ID, key); err != nil {
			return err
		}
	}
	existing, err := h.store.ListSSOConnections(r.Context(), p.ID)
	if err != nil {
		return ssoConnectionError(err)
	}
	if len(existing) >= maxConnections {
		return conflict("", fmt.Sprintf("a partner has at most %d SSO connections", maxConnections), nil)
	}
	if err := domainTaken(existing, c); err != nil {
		return err
	}
	if c.Config, err = connection.Encode(cfg); err != nil {
		return err
	}
	c.CreatedAt = h.timestamp()
	c.UpdatedAt = c.CreatedAt
	out, err := h.ssoConnectionOf(c)
	if err != nil {
		return err
	}
	noteTarget(r, "sso_connection", c.ID, diffConnection(ssoConnectionJSON{}, out, in.secret.set)...)
	if err := h.store.CreateSSOConnection(r.Context(), c); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return conflict("domains", "one of the domains is already routed to another SSO connection of this partner", err)
		}
		if errors.Is(err, store.ErrNotFound) {
			return errPartnerNotFound
		}
		return ssoConnectionError(err)
	}
	h.publish(r, store.Event{Kind: store.PartnersChanged, PartnerID: p.ID})
	w.Header().Set("Location", ssoConnectionPath(p.ID, c.ID))
	return h.writeConnection(w, r, http.StatusCreated, out)
}

func (h *Handler) updateSSOConnection(w http.ResponseWriter, r *http.Request) error {
	cur, err := h.ssoConnectionToChange(r)
	if err != nil {
		return err
	}
	m, err := readObject(w, r, ssoPatchFields)
	if err != nil {
		return err
	}
	var ps problems
	in := decodeConnection(m, &ps)
	pr, _ := preset.Get(cur.Preset)
	next := cur
	cfg, err := connection.Decode(cur)
	if err != nil {
		return err
	}
	if in.oidc.set && cfg.OIDC == nil {
		ps.add("oidc", "this connection speaks SAML; create another connection to use OIDC")
	}
	if in.saml.set && cfg.SAML == nil {
		ps.add("saml", "this connection speaks OIDC; create another connection to use SAML")
	}
	in.apply(pr, &next, &cfg, false, &ps)
	if err := ps.err(); err != nil {
		return err
	}
	if in.secret.set {
		cfg.OIDC.SealedSecret = connection.SealSecret(h.secrets, cur.PartnerID, cur.ID, in.secret.val)
	}
	if next.Config, err = connection.Encode(cfg); err != nil {
		return err
	}
	pre, err := preconditionOf(r)
	if err != nil {
		return err
	}
	if in.domains.set {
		existing, err := h.store.ListSSOConnections(r.Context(), cur.PartnerID)
		if err != nil {
			return ssoConnectionError(err)
		}
		if err := domainTaken(existing, next); err != nil {
			return err
		}
	}
	before, err := h.ssoConnectionOf(cur)
	if err != nil {
		return err
	}
	now := h.timestamp()
	updated, err := h.store.UpdateSSOConnection(r.Context(), cur.PartnerID, cur.ID, func(c store.SSOConnection) (store.SSOConnection, error) {
		// The change was computed from what was read above; a write since
		// then is a version the client did not see.
		if !c.UpdatedAt.Equal(cur.UpdatedAt) {
			if pre.set {
				return c, errPreconditionFailed
			}
			return c, errConcurrentUpdate
		}
		shown, err := h.ssoConnectionOf(c)
		if err != nil {
			return c, err
		}
		if err := pre.check(shown); err != nil {
			return c, err
		}
		next.UpdatedAt = now
		return next, nil
	})
	if err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return conflict("domains", "one of the domains is already routed to another SSO connection of this partner", err)
		}
		return ssoConnectionError(err)
	}
	out, err := h.ssoConnectionOf(updated)
	if err != nil {
		return err
	}
	noteTarget(r, "sso_connection", cur.ID, diffConnection(before, out, in.secret.set)...)
	h.publish(r, store.Event{Kind: store.PartnersChanged, PartnerID: cur.PartnerID})
	return h.writeConnection(w, r, http.StatusOK, out)
}

// errConcurrentUpdate answers a PATCH without If-Match that raced another
// write: applying it would silently undo that write.
var errConcurrentUpdate = conflict("", "the SSO connection changed while this request was applied; read it and try again", nil)

func (h *Handler) deleteSSOConnection(w http.ResponseWriter, r *http.Request) error {
	c, err := h.ssoConnectionToChange(r)
	if err != nil {
		return err
	}
	shown, err := h.ssoConnectionOf(c)
	if err != nil {
		return err
	}
	if err := checkIfMatch(r, shown); err != nil {
		return err
	}
	noteTarget(r, "sso_connection", c.ID, change{Field: "name", From: c.Name})
	if err := h.store.DeleteSSOConnection(r.Context(), c.PartnerID, c.ID); err != nil {
		return ssoConnectionError(err)
	}
	h.publish(r, store.Event{Kind: store.PartnersChanged, PartnerID: c.PartnerID})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) ssoConnection(r *http.Request) (store.SSOConnection, error) {
	p, err := h.partner(r)
	if err != nil {
		return store.SSOConnection{}, err
	}
	c, err := h.store.GetSSOConnection(r.Context(), p.ID, r.PathValue("connectionId"))
	if err != nil {
		return store.SSOConnection{}, ssoConnectionError(err)
	}
	return c, nil
}

// ssoConnectionToChange loads the path's connection for a change or a
// test sign-in, which only its creator may run if the caller is a setup
// session (see mayChange).
func (h *Handler) ssoConnectionToChange(r *http.Request) (store.SSOConnection, error) {
	c, err := h.ssoConnection(r)
	if err != nil {
		return store.SSOConnection{}, err
	}
	if !callerOf(r).mayChange(c.CreatedBy) {
		return store.SSOConnection{}, errSSOConnectionNotFound
	}
	return c, nil
}

func ssoConnectionError(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errSSOConnectionNotFound
	}
	return err
}

// domainTaken names the first of c's domains another of the partner's
// connections routes. The store refuses such a write too, but cannot say
// which domain collided.
func domainTaken(existing []store.SSOConnection, c store.SSOConnection) error {
	for _, other := range existing {
		if other.ID == c.ID {
			continue
		}
		for _, d := range c.Domains {
			if slices.Contains(other.Domains, d) {
				return conflict("domains", fmt.Sprintf("domain %s is already routed to SSO connection %s (%s)", d, other.ID, other.Name), nil)
			}
		}
	}
	return nil
}

// connectionInput holds the members a create or PATCH sent. Nested
// objects are merged member by member, so a PATCH of oidc.client_id keeps
// the secret, and a PATCH without client_secret keeps it too.
type connectionInput struct {
	name, preset            opt[string]
	enabled, jit            opt[bool]
	domains                 opt[[]string]
	oidc, saml              opt[members]
	issuer, clientID        opt[string]
	secret                  opt[string]
	scopes                  opt[[]string]
	userinfo                opt[bool]
	metadataURL, metadataXM opt[string]
	entityID, ssoURL, certs opt[string]
	idpInitiated, signReqs  opt[bool]
	mapping                 opt[members]
}

// decodeConnection reads every member, adding a problem for each of the
// wrong type or unknown, so one answer lists every bad field.
func decodeConnection(m members, ps *problems) connectionInput {
	var in connectionInput
	in.name = field[string](m, "", "name", ps)
	in.preset = field[string](m, "", "preset", ps)
	in.enabled = field[bool](m, "", "enabled", ps)
	in.jit = field[bool](m, "", "jit", ps)
	in.domains = field[[]string](m, "", "domains", ps)
	in.oidc = object(m, "oidc", oidcFields, ps)
	if o, ok := in.oidc.value(); ok {
		in.issuer = field[string](o, "oidc.", "issuer", ps)
		in.clientID = field[string](o, "oidc.", "client_id", ps)
		in.secret = field[string](o, "oidc.", "client_secret", ps)
		in.scopes = field[[]string](o, "oidc.", "scopes", ps)
		in.userinfo = field[bool](o, "oidc.", "userinfo", ps)
	}
	in.saml = object(m, "saml", samlFields, ps)
	if s, ok := in.saml.value(); ok {
		in.metadataURL = field[string](s, "saml.", "metadata_url", ps)
		in.metadataXM = field[string](s, "saml.", "metadata_xml", ps)
		in.entityID = field[string](s, "saml.", "entity_id", ps)
		in.ssoURL = field[string](s, "saml.", "sso_url", ps)
		in.certs = field[string](s, "saml.", "certificates", ps)
		in.idpInitiated = field[bool](s, "saml.", "allow_idp_initiated", ps)
		in.signReqs = field[bool](s, "saml.", "sign_requests", ps)
	}
	in.mapping = object(m, "attribute_mapping", attributeFields, ps)
	return in
}

// field decodes one member as member does, reporting a wrong type as a
// problem named by its path instead of failing at once.
func field[T any](m members, prefix, name string, ps *problems) opt[T] {
	v, err := member[T](m, name)
	if err != nil {
		var zero T
		ps.add(prefix+name, prefix+name+" must be "+jsonType(zero))
	}
	return v
}

// object decodes a nested object, naming unknown members exactly as
// readObject does at the top level.
func object(m members, name string, allowed []string, ps *problems) opt[members] {
	raw, ok := m[name]
	if !ok {
		return opt[members]{}
	}
	if bytes.Equal(raw, []byte("null")) {
		return opt[members]{set: true, null: true}
	}
	var o members
	if err := json.Unmarshal(raw, &o); err != nil {
		ps.add(name, name+" must be an object")
		return opt[members]{}
	}
	for k := range o {
		if !slices.Contains(allowed, k) {
			ps.add(name+"."+k, fmt.Sprintf("unknown field %q", k))
		}
	}
	return opt[members]{set: true, val: o}
}

// protocol is the one the create request chose with its oidc or saml
// object, checked against what the preset supports.
func (in connectionInput) protocol(pr preset.Preset, ps *problems) preset.Protocol {
	_, oidc := in.oidc.value()
	_, saml := in.saml.value()
	supports := func(p preset.Protocol) bool { return slices.Contains(pr.Protocols, p) }
	switch {
	case oidc && saml:
		ps.add("saml", "give exactly one of oidc and saml")
	case oidc && !supports(preset.OIDC):
		ps.add("oidc", fmt.Sprintf("preset %s does not support OIDC; use saml", pr.ID))
	case saml && !supports(preset.SAML):
		ps.add("saml", fmt.Sprintf("preset %s does not support SAML; use oidc", pr.ID))
	case oidc:
		return preset.OIDC
	case saml:
		return preset.SAML
	default:
		var names []string
		for _, p := range pr.Protocols {
			names = append(names, string(p))
		}
		ps.add("oidc", fmt.Sprintf("give exactly one of oidc and saml (preset %s supports %s)", pr.ID, strings.Join(names, " and ")))
	}
	return ""
}

// defaultConfig is an empty connection of the protocol with the preset's
// scopes and mapping.
func defaultConfig(pr preset.Preset, p preset.Protocol) connection.Config {
	switch p {
	case preset.OIDC:
		return connection.Config{OIDC: &connection.OIDC{Scopes: pr.OIDC.Scopes}, Mapping: pr.OIDC.Mapping}
	case preset.SAML:
		return connection.Config{SAML: &connection.SAML{SignRequests: true}, Mapping: pr.SAML.Mapping}
	}
	return connection.Config{}
}

// presetMapping is the preset's mapping for the protocol cfg speaks.
func presetMapping(pr preset.Preset, cfg connection.Config) preset.Mapping {
	switch {
	case cfg.OIDC != nil && pr.OIDC != nil:
		return pr.OIDC.Mapping
	case cfg.SAML != nil && pr.SAML != nil:
		return pr.SAML.Mapping
	}
	return preset.Mapping{}
}

// apply merges the input into c and cfg and checks the result, so a
// PATCH is held to the same rules as a create.
func (in connectionInput) apply(pr preset.Preset, c *store.SSOConnection, cfg *connection.Config, create bool, ps *problems) {
	if in.name.set || create {
		ps.add("name", checkName("name", in.name.val, true))
		c.Name = in.name.val
	}
	if v, ok := in.enabled.value(); ok {
		c.Enabled = v
	}
	if v, ok := in.jit.value(); ok {
		c.JIT = v
	}
	if in.domains.set {
		c.Domains = normalizeDomains(in.domains.val, ps)
	}
	if in.oidc.null || in.saml.null {
		ps.add("oidc", "oidc and saml cannot be removed; delete the connection instead")
	}
	if o := cfg.OIDC; o != nil {
		before := *o
		if in.issuer.set {
			o.Issuer = in.issuer.val
		}
		if in.clientID.set {
			o.ClientID = in.clientID.val
		}
		if in.scopes.set {
			o.Scopes = in.scopes.val
		}
		if in.scopes.null && pr.OIDC != nil {
			o.Scopes = pr.OIDC.Scopes
		}
		if v, ok := in.userinfo.value(); ok {
			o.Userinfo = v
		}
		checkOIDC(o, in, create, ps)
		// The stored secret belongs to the provider and client it was
		// made for: repointed without a new one, the next sign-in would
		// hand it to whoever runs the new issuer.
		if !create && !in.secret.set && (o.Issuer != before.Issuer || o.ClientID != before.ClientID) {
			ps.add("oidc.client_secret", "changing oidc.issuer or oidc.client_id needs the new client's oidc.client_secret in the same request")
		}
	}
	if s := cfg.SAML; s != nil {
		// The IdP is described from one source: naming one drops the
		// others.
		if in.metadataURL.set || in.metadataXM.set || in.entityID.set || in.ssoURL.set || in.certs.set {
			s.MetadataURL, s.MetadataXML = in.metadataURL.val, in.metadataXM.val
			s.EntityID, s.SSOURL, s.Certificates = in.entityID.val, in.ssoURL.val, in.certs.val
		}
		if v, ok := in.idpInitiated.value(); ok {
			s.AllowIdPInitiated = v
		}
		if v, ok := in.signReqs.value(); ok {
			s.SignRequests = v
		}
		checkSAML(s, ps)
	}
	defaults := presetMapping(pr, *cfg)
	if in.mapping.null {
		cfg.Mapping = defaults
	}
	if m, ok := in.mapping.value(); ok {
		mergeMapping(&cfg.Mapping, defaults, m, ps)
	}
	if (cfg.OIDC != nil || cfg.SAML != nil) && len(cfg.Mapping.Email) == 0 {
		// Without an email no user can be matched or provisioned.
		ps.add("attribute_mapping.email", "attribute_mapping.email must name at least one claim or attribute")
	}
}

func normalizeDomains(domains []string, ps *problems) []string {
	if len(domains) > maxDomains {
		ps.add("domains", fmt.Sprintf("domains must hold at most %d entries", maxDomains))
		return nil
	}
	out := make([]string, 0, len(domains))
	for i, raw := range domains {
		d, msg := normalizeHostname(raw)
		if msg != "" {
			ps.add(fmt.Sprintf("domains[%d]", i), "domain "+msg)
			continue
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
}

func checkOIDC(o *connection.OIDC, in connectionInput, create bool, ps *problems) {
	ps.add("oidc.issuer", checkIssuer(o.Issuer))
	if strings.TrimSpace(o.ClientID) == "" {
		ps.add("oidc.client_id", "oidc.client_id is required")
	}
	switch {
	case in.secret.set && in.secret.val == "":
		ps.add("oidc.client_secret", "oidc.client_secret must not be empty")
	case create && !in.secret.set:
		ps.add("oidc.client_secret", "oidc.client_secret is required")
	}
	if !slices.Contains(o.Scopes, "openid") {
		ps.add("oidc.scopes", `oidc.scopes must include "openid"`)
	}
	for i, s := range o.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			ps.add(fmt.Sprintf("oidc.scopes[%d]", i), "a scope must be a non-empty word without spaces or quotes")
		}
	}
}

// checkIssuer allows plain http only for a provider on this machine, as
// in development: anywhere else the discovery document and keys would
// travel unauthenticated.
func checkIssuer(issuer string) string {
	if issuer == "" {
		return "oidc.issuer is required"
	}
	u, err := url.Parse(issuer)
	switch {
	case err != nil || u.Host == "" || u.User != nil:
		return "oidc.issuer must be an absolute URL such as https://idp.example.com"
	case u.RawQuery != "" || u.Fragment != "" || strings.Contains(issuer, "#"):
		return "oidc.issuer must not have a query or fragment"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1"):
		return ""
	}
	return "oidc.issuer must be an https URL (http is allowed only for localhost and 127.0.0.1)"
}

func checkSAML(s *connection.SAML, ps *problems) {
	manual := s.EntityID != "" || s.SSOURL != "" || s.Certificates != ""
	sources := 0
	for _, given := range []bool{s.MetadataURL != "", s.MetadataXML != "", manual} {
		if given {
			sources++
		}
	}
	switch {
	case sources > 1:
		ps.add("saml.metadata_url", "describe the IdP one way: saml.metadata_url, saml.metadata_xml, or saml.entity_id with saml.sso_url and saml.certificates")
	case s.MetadataURL != "":
		ps.add("saml.metadata_url", checkFetchURL("saml.metadata_url", s.MetadataURL))
	case s.MetadataXML != "":
		ps.add("saml.metadata_xml", checkMetadataXML(s.MetadataXML))
	case manual:
		if strings.TrimSpace(s.EntityID) == "" {
			ps.add("saml.entity_id", "saml.entity_id is required with saml.sso_url and saml.certificates")
		}
		ps.add("saml.sso_url", checkFetchURL("saml.sso_url", s.SSOURL))
		ps.add("saml.certificates", checkCertificates(s.Certificates))
	default:
		ps.add("saml.metadata_url", "one of saml.metadata_url, saml.metadata_xml, or saml.entity_id with saml.sso_url and saml.certificates is required")
	}
}

// checkFetchURL allows plain http only for this machine, as checkIssuer
// does.
func checkFetchURL(name, raw string) string {
	if raw == "" {
		return name + " is required"
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.User != nil:
		return name + " must be an absolute https URL"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1"):
		return ""
	}
	return name + " must be an https URL (http is allowed only for localhost and 127.0.0.1)"
}

// checkCertificates wants one or more PEM certificates and nothing else.
func checkCertificates(certs string) string {
	if len(certs) > maxMetadataXML {
		return fmt.Sprintf("saml.certificates must be at most %d bytes", maxMetadataXML)
	}
	rest, n := []byte(certs), 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return "saml.certificates must hold only PEM CERTIFICATE blocks, found " + block.Type
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Sprintf("saml.certificates: certificate %d does not parse: %v", n+1, err)
		}
		n++
	}
	if strings.TrimSpace(string(rest)) != "" || n == 0 {
		return "saml.certificates must be one or more PEM certificates (-----BEGIN CERTIFICATE-----)"
	}
	return ""
}

// checkMetadataXML checks that pasted metadata is well-formed XML whose
// root is a SAML EntityDescriptor: enough to catch a paste of the wrong
// document. Its content is read when the connection is used.
func checkMetadataXML(doc string) string {
	if len(doc) > maxMetadataXML {
		return fmt.Sprintf("saml.metadata_xml must be at most %d bytes", maxMetadataXML)
	}
	dec := xml.NewDecoder(strings.NewReader(doc))
	root := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "saml.metadata_xml is not well-formed XML: " + err.Error()
		}
		if se, ok := tok.(xml.StartElement); ok && !root {
			if se.Name.Local != "EntityDescriptor" || se.Name.Space != samlMetadataNS {
				return "saml.metadata_xml must have an md:EntityDescriptor root element (SAML 2.0 metadata)"
			}
			root = true
		}
	}
	if !root {
		return "saml.metadata_xml holds no XML element"
	}
	return ""
}

// mergeMapping sets each named field of the mapping; null restores the
// field's default.
func mergeMapping(dst *preset.Mapping, defaults preset.Mapping, m members, ps *problems) {
	for _, name := range attributeFields {
		v := field[[]string](m, "attribute_mapping.", name, ps)
		if !v.set {
			continue
		}
		if v.null {
			*mappingField(dst, name) = *mappingField(&defaults, name)
			continue
		}
		for i, s := range v.val {
			if strings.TrimSpace(s) == "" {
				ps.add(fmt.Sprintf("attribute_mapping.%s[%d]", name, i), "a claim or attribute name must not be empty")
			}
		}
		*mappingField(dst, name) = v.val
	}
}

func mappingField(m *preset.Mapping, name string) *[]string {
	switch name {
	case "email":
		return &m.Email
	case "name":
		return &m.Name
	case "given_name":
		return &m.GivenName
	case "family_name":
		return &m.FamilyName
	}
	return &m.Groups
}

// diffConnection lists the fields that changed between two views. The
// secret is never in a view, so its change is named from the request and
// recorded without values; pasted metadata too, which is too large to
// repeat in every audit event.
func diffConnection(from, to ssoConnectionJSON, secretSet bool) []change {
	var out []change
	add := func(field string, a, b any) {
		fa, fb := auditValue(a), auditValue(b)
		if fa != fb {
			out = append(out, change{Field: field, From: fa, To: fb})
		}
	}
	add("name", from.Name, to.Name)
	add("preset", from.Preset, to.Preset)
	add("enabled", from.Enabled, to.Enabled)
	add("jit", from.JIT, to.JIT)
	add("domains", from.Domains, to.Domains)
	var fo, too oidcJSON
	if from.OIDC != nil {
		fo = *from.OIDC
	}
	if to.OIDC != nil {
		too = *to.OIDC
	}
	add("oidc.issuer", fo.Issuer, too.Issuer)
	add("oidc.client_id", fo.ClientID, too.ClientID)
	add("oidc.scopes", fo.Scopes, too.Scopes)
	add("oidc.userinfo", fo.Userinfo, too.Userinfo)
	if secretSet {
		out = append(out, change{Field: "oidc.client_secret", Redacted: true})
	}
	var fs, ts samlJSON
	if from.SAML != nil {
		fs = *from.SAML
	}
	if to.SAML != nil {
		ts = *to.SAML
	}
	add("saml.metadata_url", fs.MetadataURL, ts.MetadataURL)
	if fs.MetadataXML != ts.MetadataXML {
		out = append(out, change{Field: "saml.metadata_xml", Redacted: true})
	}
	add("saml.entity_id", fs.EntityID, ts.EntityID)
	add("saml.sso_url", fs.SSOURL, ts.SSOURL)
	if fs.Certificates != ts.Certificates {
		out = append(out, change{Field: "saml.certificates", Redacted: true})
	}
	add("saml.allow_idp_initiated", fs.AllowIdPInitiated, ts.AllowIdPInitiated)
	add("saml.sign_requests", fs.SignRequests, ts.SignRequests)
	add("attribute_mapping", from.Mapping, to.Mapping)
	return out
}

// auditValue renders a field for an audit change: strings as they are,
// anything else as JSON; the zero value as "".
func auditValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return boolString(v)
	}
	b, _ := json.Marshal(v)
	if s := string(b); s != "null" && s != "[]" {
		return s
	}
	return ""
}
