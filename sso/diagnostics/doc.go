// Package diagnostics runs a partner admin's test sign-ins. An admin asks
// the admin API for a test of a connection and gets a single-use link;
// whoever opens it signs in at the IdP, and the result (the claims
// received, the profile and roles they map to, or the typed failure) is
// kept for the admin to read, in the API and on the page the browser
// lands on. A test sign-in never creates a session or a user and changes
// no membership.
package diagnostics
