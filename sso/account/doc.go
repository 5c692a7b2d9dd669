// Package account turns a verified SSO sign-in into one of the partner's
// users: it links the sign-in to an existing user, creates or updates one
// when the connection provisions just in time, and keeps the user's group
// memberships in step with the groups the IdP sent.
//
// The rules, in the order they apply:
//   - A connection that routes email domains signs in only users of those
//     domains, whatever else its IdP asserts, and a connection without
//     domains signs in no user of a domain another connection routes: a
//     partner's second IdP cannot take over the accounts of the first
//     one's domain, by email or by externalId.
//   - A user is found by externalId equal to the IdP's subject (what Okta
//     provisions over SCIM), then by email.
//   - A suspended or deprovisioned user never gets in, whatever the IdP
//     asserts. When the partner provisions over SCIM (it has a live SCIM
//     token), SCIM owns the lifecycle: SSO creates no user, so one SCIM
//     deleted cannot come back by signing in, and SSO leaves group
//     memberships to SCIM.
//   - Otherwise, with just-in-time provisioning on, a missing user is
//     created and a found one gets the IdP's name; without it, a missing
//     user is refused.
//   - When the connection maps a groups claim and SCIM is off, the user's
//     memberships become exactly the partner's groups the IdP named (by
//     group name or externalId), so a leaver loses a role at the next
//     sign-in; a name that matches no group grants nothing.
package account
