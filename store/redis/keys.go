package redis

import (
	"fmt"
	"strings"

	"github.com/partnergate/partnergate/store"
)

// Global keys; they live outside every partner's slot.
const (
	partnersKey   = "pg:partners"
	hostnamesKey  = "pg:hostnames"
	eventsChannel = "pg:events"

	// The platform audit stream belongs to no partner; its own hash tag
	// keeps its records and head in one slot.
	platformAuditKey     = "pg:audit:{platform}:records"
	platformAuditHeadKey = "pg:audit:{platform}:head"

	// The governance baseline belongs to no partner either. Its hash tag
	// follows the platform audit stream's and sits after a fixed word, so
	// no partner's pattern (pg:{<id>}:*) matches it, not even a partner
	// named "platform": DeletePartner's sweep can never drop it.
	governanceKey = "pg:governance:{platform}"
)

// scope builds the keys of one partner. Its zero value is never used: get
// one from scopeOf, which rejects ids that would break the hash tag.
type scope struct{ prefix string }

func validPartnerID(id string) bool {
	return id != "" && !strings.ContainsAny(id, "{}")
}

// scopeOf answers store.ErrNotFound for an invalid id, since no partner can
// have it.
func scopeOf(partnerID string) (scope, error) {
	if !validPartnerID(partnerID) {
		return scope{}, fmt.Errorf("partner %q: %w", partnerID, store.ErrNotFound)
	}
	return scope{prefix: "pg:{" + partnerID + "}:"}, nil
}

func (k scope) partner() string                { return k.prefix + "partner" }
func (k scope) user(id string) string          { return k.prefix + "user:" + id }
func (k scope) email(email string) string      { return k.prefix + "email:" + strings.ToLower(email) }
func (k scope) userName(name string) string    { return k.prefix + "username:" + strings.ToLower(name) }
func (k scope) externalID(id string) string    { return k.prefix + "externalid:" + id }
func (k scope) altEmail(email string) string   { return k.prefix + "altemail:" + strings.ToLower(email) }
func (k scope) users() string                  { return k.prefix + "users" }
func (k scope) session(id string) string       { return k.prefix + "session:" + id }
func (k scope) userSessions(uid string) string { return k.prefix + "usersessions:" + uid }
func (k scope) counter(key string) string      { return k.prefix + "counter:" + key }

func (k scope) group(id string) string             { return k.prefix + "group:" + id }
func (k scope) groupName(name string) string       { return k.prefix + "groupname:" + strings.ToLower(name) }
func (k scope) groupExternalID(id string) string   { return k.prefix + "groupexternalid:" + id }
func (k scope) groups() string                     { return k.prefix + "groups" }
func (k scope) groupMembers(gid string) string     { return k.prefix + "groupmembers:" + gid }
func (k scope) groupRoles(gid string) string       { return k.prefix + "grouproles:" + gid }
func (k scope) roleMapping(id string) string       { return k.prefix + "rolemapping:" + id }
func (k scope) roleMappings() string               { return k.prefix + "rolemappings" }
func (k scope) token(id string) string             { return k.prefix + "token:" + id }
func (k scope) tokens(kind store.TokenKind) string { return k.prefix + "tokens:" + string(kind) }
func (k scope) ticket(id string) string            { return k.prefix + "ticket:" + id }

func (k scope) ssoConnection(id string) string { return k.prefix + "ssoconnection:" + id }
func (k scope) ssoConnections() string         { return k.prefix + "ssoconnections" }
func (k scope) ssoFailures(id string) string   { return k.prefix + "ssofailures:" + id }
func (k scope) ssoDomain(domain string) string {
	return k.prefix + "ssodomain:" + strings.ToLower(domain)
}

// mfaMethods is a hash of the user's MFA methods, method id -> MFAMethod:
// one key per user, so no user or method id can make two users' keys meet.
func (k scope) mfaMethods(uid string) string { return k.prefix + "mfamethods:" + uid }

// mfaID names the user holding an MFA method id: ids are unique within
// the partner.
func (k scope) mfaID(id string) string { return k.prefix + "mfaid:" + id }
func (k scope) mfaCredential(credentialID string) string {
	return k.prefix + "mfacredential:" + credentialID
}

func (k scope) audit() string     { return k.prefix + "audit" }
func (k scope) auditHead() string { return k.prefix + "audithead" }

func (k scope) scimRequests() string { return k.prefix + "scimrequests" }

func (k scope) policy() string { return k.prefix + "policy" }

// branding is the partner's Branding as JSON, LogoVersion left out; logo
// is a hash of the logo's raw bytes (field png) and its version (field
// version), the one place the version lives.
func (k scope) branding() string { return k.prefix + "branding" }
func (k scope) logo() string     { return k.prefix + "logo" }

// pattern matches every key of the partner for SCAN.
func (k scope) pattern() string {
	return escapeGlob(k.prefix) + "*"
}

// escapeGlob quotes SCAN MATCH metacharacters so an id like "a*" cannot
// match other partners' keys.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
