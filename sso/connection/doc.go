// Package connection is the stored form of an SSO connection's protocol
// settings: what the admin API writes into store.SSOConnection.Config and
// what the sign-in endpoints read back. Secrets inside (an OIDC client
// secret, a SAML service provider's private key) are only ever stored
// sealed, bound to their partner and connection, so a sealed value copied
// to another connection does not open.
package connection
