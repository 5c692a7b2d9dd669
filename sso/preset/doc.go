// Package preset holds the identity provider presets a partner starts an
// SSO connection from: Okta, Microsoft Entra ID, Ping Identity, OneLogin,
// Google Workspace and generic OIDC and SAML providers. A preset is data:
// the protocols the provider speaks, the default scopes and the claim or
// attribute names its tokens and assertions carry, a hint of its issuer,
// and the setup instructions the portal's wizard shows, step by step.
//
// The instructions name the values a partner admin copies into the IdP
// (redirect URI, ACS URL, SP entity id, SP metadata URL) as placeholders,
// so one preset serves every partner; Render fills them with one
// partner's URLs, which URLsFor derives from the partner's hostname. The
// paths in URLsFor are the ones the SSO endpoints serve, kept here so the
// instructions and the endpoints cannot drift apart.
//
// The package has no dependencies beyond the standard library, so the
// admin API, the SSO endpoints and the tests share it freely.
package preset
