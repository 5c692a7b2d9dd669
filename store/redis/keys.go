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
func (k scope) users() string                  { return k.prefix + "users" }
func (k scope) session(id string) string       { return k.prefix + "session:" + id }
func (k scope) userSessions(uid string) string { return k.prefix + "usersessions:" + uid }
func (k scope) counter(key string) string      { return k.prefix + "counter:" + key }

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
