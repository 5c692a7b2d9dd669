package session

import (
	"fmt"
	"testing"
)

func TestCacheIndexesStayConsistent(t *testing.T) {
	t.Parallel()
	c := newCache()
	key := func(p, u string, n int) (cacheKey, *entry) {
		id := &Identity{PartnerID: p, UserID: u, SessionID: fmt.Sprintf("%s-%s-%d", p, u, n)}
		return cacheKey{p, "cookie-" + id.SessionID}, &entry{identity: id}
	}
	for _, p := range []string{"acme", "globex"} {
		for _, u := range []string{"u1", "u2"} {
			for n := range 3 {
				c.add(key(p, u, n))
			}
		}
	}
	c.removeUser(userKey{"acme", "u1"})
	c.removeSession(sessionKey{"acme", "acme-u2-0"})
	c.removePartner("globex")
	var left []string
	for k, e := range c.byCookie {
		left = append(left, e.identity.SessionID)
		if c.bySession[sessionKey{k.partnerID, e.identity.SessionID}] != k {
			t.Errorf("session index lost %s", e.identity.SessionID)
		}
		if _, ok := c.byUser[userKey{k.partnerID, e.identity.UserID}][k]; !ok {
			t.Errorf("user index lost %s", e.identity.SessionID)
		}
	}
	if len(left) != 2 || len(c.bySession) != 2 || len(c.byUser) != 1 {
		t.Errorf("left %v, %d session entries, %d user entries; want acme-u2-1 and acme-u2-2 only", left, len(c.bySession), len(c.byUser))
	}
	c.shrink()
	if len(c.byCookie) != len(c.bySession) {
		t.Errorf("after shrink: %d cookies, %d sessions indexed", len(c.byCookie), len(c.bySession))
	}
}
