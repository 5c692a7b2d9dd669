package session

// cacheKey finds a cached session by the cookie itself, so a hit costs a
// map lookup: only cookies that passed the MAC check and the store ever
// enter the cache.
type cacheKey struct{ partnerID, cookie string }

// sessionKey names a session the way revocations do.
type sessionKey struct{ partnerID, sessionID string }

type userKey struct{ partnerID, userID string }

// cache holds sessions by cookie, with indexes by session and by user so a
// revocation touches only what it revokes, however large the cache. The
// Manager's lock guards it.
type cache struct {
	byCookie  map[cacheKey]*entry
	bySession map[sessionKey]cacheKey
	byUser    map[userKey]map[cacheKey]struct{}
}

func newCache() cache {
	return cache{
		byCookie:  map[cacheKey]*entry{},
		bySession: map[sessionKey]cacheKey{},
		byUser:    map[userKey]map[cacheKey]struct{}{},
	}
}

func (c *cache) add(k cacheKey, e *entry) {
	c.remove(k)
	c.byCookie[k] = e
	c.bySession[sessionKey{k.partnerID, e.identity.SessionID}] = k
	uk := userKey{k.partnerID, e.identity.UserID}
	if c.byUser[uk] == nil {
		c.byUser[uk] = map[cacheKey]struct{}{}
	}
	c.byUser[uk][k] = struct{}{}
}

func (c *cache) remove(k cacheKey) {
	e, ok := c.byCookie[k]
	if !ok {
		return
	}
	delete(c.byCookie, k)
	delete(c.bySession, sessionKey{k.partnerID, e.identity.SessionID})
	uk := userKey{k.partnerID, e.identity.UserID}
	delete(c.byUser[uk], k)
	if len(c.byUser[uk]) == 0 {
		delete(c.byUser, uk)
	}
}

func (c *cache) removeSession(sk sessionKey) {
	if k, ok := c.bySession[sk]; ok {
		c.remove(k)
	}
}

func (c *cache) removeUser(uk userKey) {
	for k := range c.byUser[uk] {
		c.remove(k)
	}
}

// removePartner scans the cache; partners change rarely.
func (c *cache) removePartner(partnerID string) {
	for k := range c.byCookie {
		if k.partnerID == partnerID {
			c.remove(k)
		}
	}
}

// shrink drops about an eighth of the cache; map order is random, so this
// evicts arbitrary entries, which reload from the store on next use.
func (c *cache) shrink() {
	drop := len(c.byCookie)/8 + 1
	for k := range c.byCookie {
		if drop == 0 {
			return
		}
		c.remove(k)
		drop--
	}
}

func (c *cache) clear() {
	clear(c.byCookie)
	clear(c.bySession)
	clear(c.byUser)
}
