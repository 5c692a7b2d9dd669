package gateway

// UnavailableUsers wraps an SSO store so that user lookups fail as in a
// store outage.
func UnavailableUsers(st SSOStore) SSOStore { return unavailableStore{st} }
