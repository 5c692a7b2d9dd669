package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/partnergate/partnergate/scim/schema"
	"github.com/partnergate/partnergate/store"
)

// Schema URNs of the resources this server serves.
const (
	UserSchema       = "urn:ietf:params:scim:schemas:core:2.0:User"
	EnterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	GroupSchema      = "urn:ietf:params:scim:schemas:core:2.0:Group"
)

// Resource is a SCIM resource as JSON decodes it with UseNumber.
type Resource = map[string]any

// serverOwned are the attributes the server sets and a client cannot
// store: they are dropped from what is kept and rendered afresh.
var serverOwned = []string{"schemas", "id", "meta", "groups", "password"}

// storedUser is what a User resource sets on the stored user.
type storedUser struct {
	UserName   string
	ExternalID string
	Active     bool
	Name       string
	Email      string
	AltEmails  []string
	Profile    json.RawMessage
	// Password is the plain password a client sent, "" when none; it is
	// hashed by the caller and never kept in Profile.
	Password string
}

// toStored reads a User resource: userName is required, and the user
// needs an address to sign in with — the primary email, else the first
// one, else an email-shaped userName.
func toStored(res Resource) (storedUser, error) {
	var su storedUser
	userName, _ := lookup(res, "userName").(string)
	if strings.TrimSpace(userName) == "" {
		return su, invalidValue("userName is required")
	}
	su.UserName = userName
	if v, ok := lookup(res, "externalId").(string); ok {
		su.ExternalID = v
	}
	su.Active = true
	if v, ok := lookup(res, "active").(bool); ok {
		su.Active = v
	}
	su.Name = displayName(res)
	emails := emailValues(res)
	switch {
	case len(emails) > 0:
		su.Email = emails[0]
		for _, e := range emails[1:] {
			su.AltEmails = append(su.AltEmails, strings.ToLower(e))
		}
	case isEmail(userName):
		su.Email = userName
	default:
		return su, invalidValue("a user needs an email: send emails, or a userName that is an email address")
	}
	if msg := checkUserFields(su); msg != "" {
		return su, invalidValue(msg)
	}
	if v, ok := lookup(res, "password").(string); ok {
		su.Password = v
	}
	kept := maps.Clone(res)
	for k := range kept {
		for _, owned := range serverOwned {
			if strings.EqualFold(k, owned) {
				delete(kept, k)
			}
		}
	}
	profile, err := json.Marshal(kept)
	if err != nil {
		return su, fmt.Errorf("encode profile: %w", err)
	}
	su.Profile = profile
	return su, nil
}

// checkSchemas refuses a resource that names, in schemas or as the key of
// an extension's attributes, a schema rt does not have: what it holds
// would be kept unread while the client believes it applied. A resource
// without schemas is let through, as lenient to clients as the rest.
func checkSchemas(res Resource, rt *schema.ResourceType) error {
	if v, ok := lookup(res, "schemas").([]any); ok {
		for _, s := range v {
			urn, isString := s.(string)
			if !isString || (!strings.EqualFold(urn, rt.Schema.ID) && rt.Extension(urn) == nil && !isMarkerSchema(rt, urn)) {
				return schema.ErrInvalidSyntax.Errorf("schemas names %v, which is no schema of a %s; a %s has %s", s, rt.Name, rt.Name, schemaList(rt))
			}
		}
	} else if lookup(res, "schemas") != nil {
		return schema.ErrInvalidSyntax.Errorf("schemas must be an array of schema URNs")
	}
	for _, k := range slices.Sorted(maps.Keys(res)) {
		if len(k) > 4 && strings.EqualFold(k[:4], "urn:") && rt.Extension(k) == nil {
			return schema.ErrInvalidSyntax.Errorf("attribute %q names no extension of a %s; a %s has %s", k, rt.Name, rt.Name, schemaList(rt))
		}
	}
	return nil
}

// markerSchemas are schema URNs a client names in a resource's schemas
// though no attribute of the resource belongs to them, by resource type
// name. Entra's "Create Group" names Microsoft's own Group schema beside
// the core one; a Group keeps nothing but displayName, externalId and
// members, so naming it leaves nothing unread.
var markerSchemas = map[string][]string{
	"Group": {"http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"},
}

// isMarkerSchema reports whether urn is one of rt's markerSchemas.
func isMarkerSchema(rt *schema.ResourceType, urn string) bool {
	return slices.ContainsFunc(markerSchemas[rt.Name], func(m string) bool { return strings.EqualFold(m, urn) })
}

// schemaList names rt's schemas for an error's detail.
func schemaList(rt *schema.ResourceType) string {
	names := []string{rt.Schema.ID}
	for _, e := range rt.Extensions {
		names = append(names, e.Schema.ID)
	}
	return strings.Join(names, " and ")
}

// userResource renders a stored user. Fields the admin API can change
// too (email, name, active) come from the user record, so both views
// agree whoever changed them last.
func userResource(u store.User, groups []store.Group, location string) (Resource, error) {
	res := Resource{}
	if len(u.Profile) > 0 && !bytes.Equal(u.Profile, []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(u.Profile))
		dec.UseNumber()
		if err := dec.Decode(&res); err != nil {
			return nil, fmt.Errorf("decode profile of user %q: %w", u.ID, err)
		}
	}
	schemas := []any{UserSchema}
	if _, ok := res[EnterpriseSchema]; ok {
		schemas = append(schemas, EnterpriseSchema)
	}
	res["schemas"] = schemas
	res["id"] = u.ID
	res["userName"] = u.UserName
	if u.UserName == "" {
		res["userName"] = u.Email
	}
	if u.ExternalID != "" {
		res["externalId"] = u.ExternalID
	} else {
		delete(res, "externalId")
	}
	res["active"] = u.Active
	if u.Name != "" {
		res["displayName"] = u.Name
	}
	res["emails"] = renderEmails(res["emails"], u.Email)
	if len(groups) > 0 {
		refs := make([]any, 0, len(groups))
		for _, g := range groups {
			refs = append(refs, Resource{"value": g.ID, "display": g.Name, "type": "direct"})
		}
		res["groups"] = refs
	}
	res["meta"] = meta("User", u.CreatedAt, u.UpdatedAt, location)
	return res, nil
}

// groupResource renders a stored group with members, the rendered
// members or nil when they were not asked for. An empty list is left out,
// as RFC 7643 §2.5 asks of an unassigned attribute.
func groupResource(g store.Group, members []any, location string) Resource {
	res := Resource{
		"schemas":     []any{GroupSchema},
		"id":          g.ID,
		"displayName": g.Name,
		"meta":        meta("Group", g.CreatedAt, g.UpdatedAt, location),
	}
	if g.ExternalID != "" {
		res["externalId"] = g.ExternalID
	}
	if len(members) > 0 {
		res["members"] = members
	}
	return res
}

// meta is a resource's meta attribute (RFC 7643 §3.1).
func meta(resourceType string, created, updated time.Time, location string) Resource {
	return Resource{
		"resourceType": resourceType,
		"created":      created.UTC().Format(time.RFC3339Nano),
		"lastModified": updated.UTC().Format(time.RFC3339Nano),
		"location":     location,
		"version":      version(updated),
	}
}

// version is a weak ETag: it changes with every write, which is what
// clients compare, though two writes in one millisecond share it.
func version(updated time.Time) string {
	return fmt.Sprintf(`W/"%d"`, updated.UnixMilli())
}

// renderEmails keeps the client's list and makes its primary (or first)
// value the stored email, which the admin API may have changed.
func renderEmails(stored any, email string) []any {
	list, _ := stored.([]any)
	if len(list) == 0 {
		return []any{Resource{"value": email, "type": "work", "primary": true}}
	}
	out := make([]any, len(list))
	primary := primaryIndex(list)
	for i, v := range list {
		m, ok := v.(map[string]any)
		if !ok {
			out[i] = v
			continue
		}
		m = maps.Clone(m)
		if i == primary {
			m["value"] = email
		}
		out[i] = m
	}
	return out
}

// emailValues lists a resource's email values, the primary first.
func emailValues(res Resource) []string {
	list, _ := lookup(res, "emails").([]any)
	var out []string
	primary := primaryIndex(list)
	if primary >= 0 {
		if m, ok := list[primary].(map[string]any); ok {
			if v, ok := lookup(m, "value").(string); ok && v != "" {
				out = append(out, v)
			}
		}
	}
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok || i == primary {
			continue
		}
		if v, ok := lookup(m, "value").(string); ok && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// primaryIndex is the value marked primary, else the first, else -1.
func primaryIndex(list []any) int {
	for i, item := range list {
		if m, ok := item.(map[string]any); ok && lookup(m, "primary") == true {
			return i
		}
	}
	if len(list) > 0 {
		return 0
	}
	return -1
}

// displayName picks what the gateway shows as the user's name.
func displayName(res Resource) string {
	if v, ok := lookup(res, "displayName").(string); ok && v != "" {
		return v
	}
	name, _ := lookup(res, "name").(map[string]any)
	if v, ok := lookup(name, "formatted").(string); ok && v != "" {
		return v
	}
	given, _ := lookup(name, "givenName").(string)
	family, _ := lookup(name, "familyName").(string)
	return strings.TrimSpace(given + " " + family)
}

// lookup reads an attribute by name, case-insensitively as RFC 7643
// §2.1 asks; nil when absent.
func lookup(m map[string]any, name string) any {
	v, _, _ := schema.Member(m, name)
	return v
}

func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

// maxEmailBytes bounds an address as the admin API does.
const maxEmailBytes = 254

// checkUserFields holds what the gateway sends upstream (X-Auth-Name,
// X-Auth-Email) and the portal shows to the admin API's rules, which a
// directory must not get around: a bounded name free of control, line
// separator and bidi characters, and every email one bare address. It
// returns "" when they hold, else a message safe to show.
func checkUserFields(su storedUser) string {
	if strings.ContainsFunc(su.UserName, isUnsafeRune) {
		return "userName must not contain control characters"
	}
	switch {
	case utf8.RuneCountInString(su.Name) > maxNameRunes:
		return fmt.Sprintf("displayName must be at most %d characters", maxNameRunes)
	case strings.ContainsFunc(su.Name, isUnsafeRune):
		return "displayName and name must not contain control characters"
	}
	for _, e := range append([]string{su.Email}, su.AltEmails...) {
		if len(e) > maxEmailBytes || !isEmail(e) || strings.ContainsFunc(e, isUnsafeRune) {
			return "every emails value must be a single address such as name@example.com, without a display name"
		}
	}
	return ""
}

// isUnsafeRune covers control characters plus the invisible formatting
// runes that reorder or break displayed text, as the admin API does.
func isUnsafeRune(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r == '\u2028' || r == '\u2029':
		return true
	case '\u202a' <= r && r <= '\u202e', '\u2066' <= r && r <= '\u2069':
		return true
	}
	return false
}

func invalidValue(detail string) error {
	return schema.ErrInvalidValue.Errorf("%s", detail)
}
