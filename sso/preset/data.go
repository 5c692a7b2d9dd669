package preset

// The instructions name menus as the vendors do at the time of writing;
// where a console differs between editions they say what to set rather
// than where, since that outlives a redesign.

// oidcScopes are the standard scopes; withGroups adds the groups scope
// of providers that define one (Okta, OneLogin). Entra and Ping send
// groups through claim configuration instead, and reject or ignore an
// unknown scope, so they must not ask for it.
var (
	oidcScopes = []string{"openid", "email", "profile"}
	withGroups = []string{"openid", "email", "profile", "groups"}
)

// standardClaims are the OIDC standard claims.
var standardClaims = Mapping{
	Email:      []string{"email"},
	Name:       []string{"name"},
	GivenName:  []string{"given_name"},
	FamilyName: []string{"family_name"},
	Groups:     []string{"groups"},
}

// commonAttributes are SAML attribute names the instructions ask
// providers without fixed names (Okta, OneLogin, Ping, generic) to send.
var commonAttributes = Mapping{
	Email:      []string{"email"},
	Name:       []string{"displayName"},
	GivenName:  []string{"firstName"},
	FamilyName: []string{"lastName"},
	Groups:     []string{"groups"},
}

const attributeStatements = "email (the user's email), firstName, lastName, displayName and groups (the user's group names)."

// oidcCredentials is the last step of most OIDC setups.
func oidcCredentials(where string) Step {
	return Step{
		Title:     "Copy the credentials",
		Body:      text(where, "Enter them in the connection; the client secret is stored encrypted and never shown again."),
		BringBack: []Value{Issuer, ClientID, ClientSecret},
	}
}

var presets = []Preset{
	{
		ID:   "okta",
		Name: "Okta",
		OIDC: &OIDCSetup{
			IssuerHints: []string{"https://{yourOktaDomain}", "https://{yourOktaDomain}/oauth2/default"},
			Scopes:      withGroups,
			Mapping:     standardClaims,
			Steps: []Step{
				{
					Title: "Create an app integration",
					Body:  "In the Okta Admin Console, go to Applications > Applications > Create App Integration, choose OIDC - OpenID Connect and the Web Application type.",
				},
				{
					Title: "Set the redirect URI",
					Body:  "Enter this URI as the sign-in redirect URI and keep the Authorization Code grant type.",
					Copy:  fields(RedirectURI),
				},
				{
					Title: "Send groups",
					Body:  "On the app's Sign On tab, edit the OpenID Connect ID Token settings: set the groups claim name to groups and a filter that matches the groups to send (for example Matches regex .*).",
				},
				{
					Title:     "Assign users and copy the credentials",
					Body:      "Assign the people or groups who may sign in. Copy the Client ID and Client secret from the General tab. The issuer is your Okta domain, or your authorization server's issuer URI when you use one (for example the default one).",
					BringBack: []Value{Issuer, ClientID, ClientSecret},
				},
			},
		},
		SAML: &SAMLSetup{
			Mapping: commonAttributes,
			Steps: []Step{
				{
					Title: "Create an app integration",
					Body:  "In the Okta Admin Console, go to Applications > Applications > Create App Integration and choose SAML 2.0.",
				},
				{
					Title: "Configure SAML",
					Body:  "Enter the ACS URL as the Single sign-on URL and the entity ID as the Audience URI (SP Entity ID). Set the Name ID format to EmailAddress.",
					Copy:  fields(ACSURL, SPEntityID),
				},
				{
					Title: "Add attribute statements",
					Body:  "Add attribute statements email (user.email), firstName (user.firstName), lastName (user.lastName) and displayName (user.displayName), and a group attribute statement groups with a filter matching the groups to send.",
				},
				{
					Title:     "Assign users and copy the metadata",
					Body:      "Assign the people or groups who may sign in. On the Sign On tab, copy the Metadata URL, or download the metadata XML if the URL is not reachable from the internet.",
					BringBack: []Value{MetadataURL, MetadataXML},
				},
			},
		},
	},
	{
		ID:   "entra",
		Name: "Microsoft Entra ID",
		OIDC: &OIDCSetup{
			IssuerHints: []string{"https://login.microsoftonline.com/{tenant-id}/v2.0"},
			Scopes:      oidcScopes,
			Mapping: Mapping{
				Email:      []string{"email", "preferred_username", "upn"},
				Name:       []string{"name"},
				GivenName:  []string{"given_name"},
				FamilyName: []string{"family_name"},
				Groups:     []string{"groups"},
			},
			Steps: []Step{
				{
					Title: "Register an application",
					Body:  "In the Microsoft Entra admin center, go to App registrations > New registration. Choose accounts in this organizational directory only, and under Redirect URI choose the Web platform and enter this URI.",
					Copy:  fields(RedirectURI),
				},
				{
					Title: "Add claims",
					Body:  "Under Token configuration, add the optional ID token claims email, given_name and family_name, and add a groups claim (security groups). Entra sends group object IDs, not names: map those IDs to roles.",
				},
				{
					Title:     "Create a client secret",
					Body:      "Under Certificates & secrets, create a client secret and copy its Value, which Entra shows only once. Note its expiry: sign-ins stop when it expires.",
					BringBack: []Value{ClientSecret},
				},
				{
					Title:     "Copy the IDs",
					Body:      "From the Overview page, copy the Application (client) ID. The issuer is https://login.microsoftonline.com/ followed by the Directory (tenant) ID and /v2.0.",
					BringBack: []Value{ClientID, Issuer},
				},
			},
		},
		SAML: &SAMLSetup{
			Mapping: Mapping{
				Email:      []string{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"},
				Name:       []string{"http://schemas.microsoft.com/identity/claims/displayname"},
				GivenName:  []string{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"},
				FamilyName: []string{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"},
				Groups:     []string{"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"},
			},
			Steps: []Step{
				{
					Title: "Create an enterprise application",
					Body:  "In the Microsoft Entra admin center, go to Enterprise applications > New application > Create your own application (non-gallery), then open Single sign-on and choose SAML.",
				},
				{
					Title: "Basic SAML configuration",
					Body:  "Enter the entity ID as the Identifier (Entity ID) and the ACS URL as the Reply URL (Assertion Consumer Service URL).",
					Copy:  fields(SPEntityID, ACSURL),
				},
				{
					Title: "Attributes & Claims",
					Body:  "Keep the default claims and add a group claim (security groups). Entra sends group object IDs, not names: map those IDs to roles.",
				},
				{
					Title:     "Assign users and copy the metadata",
					Body:      "Under Users and groups, assign who may sign in. Under SAML Certificates, copy the App Federation Metadata Url, or download the Federation Metadata XML.",
					BringBack: []Value{MetadataURL, MetadataXML},
				},
			},
		},
	},
	{
		ID:   "ping",
		Name: "Ping Identity",
		OIDC: &OIDCSetup{
			IssuerHints: []string{"https://auth.pingone.com/{environment-id}/as", "https://{yourPingFederateHost}"},
			Scopes:      oidcScopes,
			Mapping:     standardClaims,
			Steps: []Step{
				{
					Title: "Add an application",
					Body:  "In PingOne, add an OIDC Web App application; in PingFederate, create an OAuth client. Use the Authorization Code grant with a client secret.",
				},
				{
					Title: "Set the redirect URI",
					Body:  "Enter this URI as the application's redirect URI.",
					Copy:  fields(RedirectURI),
				},
				{
					Title: "Map attributes",
					Body:  "Make sure email, name, given_name and family_name are released, and add an attribute named groups carrying the user's group names.",
				},
				oidcCredentials("Enable the application and copy its Client ID, Client Secret and Issuer."),
			},
		},
		SAML: &SAMLSetup{
			Mapping: commonAttributes,
			Steps: []Step{
				{
					Title: "Add an application",
					Body:  "In PingOne, add a SAML application; in PingFederate, create an SP connection. Choose to enter the service provider's details manually, or import its metadata from the metadata URL.",
					Copy:  fields(SPMetadataURL),
				},
				{
					Title: "Enter the service provider details",
					Body:  "Enter the ACS URL and the entity ID. Set the subject (Name ID) to the user's email.",
					Copy:  fields(ACSURL, SPEntityID),
				},
				{
					Title: "Map attributes",
					Body:  text("Add attributes", attributeStatements),
				},
				{
					Title:     "Enable the application and copy the metadata",
					Body:      "Enable the application and copy its IdP metadata URL, or download the metadata XML.",
					BringBack: []Value{MetadataURL, MetadataXML},
				},
			},
		},
	},
	{
		ID:   "onelogin",
		Name: "OneLogin",
		OIDC: &OIDCSetup{
			IssuerHints: []string{"https://{subdomain}.onelogin.com/oidc/2"},
			Scopes:      withGroups,
			Mapping:     standardClaims,
			Steps: []Step{
				{
					Title: "Add an app",
					Body:  "In the OneLogin admin portal, go to Applications > Add App and choose OpenId Connect (OIDC).",
				},
				{
					Title: "Set the redirect URI",
					Body:  "On the Configuration tab, enter this URI as a Redirect URI.",
					Copy:  fields(RedirectURI),
				},
				{
					Title: "Send groups",
					Body:  "On the Parameters tab, set the Groups parameter to the value to send (for example User Roles) and include it in the token.",
				},
				oidcCredentials("On the SSO tab, set the application type to Web and copy the Client ID, Client Secret and Issuer URL."),
			},
		},
		SAML: &SAMLSetup{
			Mapping: commonAttributes,
			Steps: []Step{
				{
					Title: "Add an app",
					Body:  "In the OneLogin admin portal, go to Applications > Add App and choose SAML Custom Connector (Advanced).",
				},
				{
					Title: "Configure the connector",
					Body:  "On the Configuration tab, enter the entity ID as the Audience (EntityID), the ACS URL as the Recipient and the ACS (Consumer) URL, and the same URL, as a regular expression, as the ACS URL Validator. Choose Service Provider as the SAML initiator.",
					Copy:  fields(SPEntityID, ACSURL),
				},
				{
					Title: "Add parameters",
					Body:  text("On the Parameters tab, add parameters included in the SAML assertion:", attributeStatements),
				},
				{
					Title:     "Copy the metadata",
					Body:      "On the SSO tab, copy the Issuer URL, which serves the IdP metadata, or download the metadata XML from More Actions > SAML Metadata.",
					BringBack: []Value{MetadataURL, MetadataXML},
				},
			},
		},
	},
	{
		ID:   "google",
		Name: "Google Workspace",
		OIDC: &OIDCSetup{
			IssuerHints: []string{"https://accounts.google.com"},
			Scopes:      oidcScopes,
			// Google's ID tokens carry no groups: roles come from the
			// partner's own groups instead.
			Mapping: Mapping{
				Email:      []string{"email"},
				Name:       []string{"name"},
				GivenName:  []string{"given_name"},
				FamilyName: []string{"family_name"},
			},
			Steps: []Step{
				{
					Title: "Configure the consent screen",
					Body:  "In the Google Cloud console, under APIs & Services > OAuth consent screen, choose the Internal user type, so that only your Workspace users can sign in.",
				},
				{
					Title: "Create an OAuth client",
					Body:  "Under APIs & Services > Credentials, create an OAuth client ID of type Web application, and enter this URI as an authorized redirect URI.",
					Copy:  fields(RedirectURI),
				},
				{
					Title:     "Copy the credentials",
					Body:      "Copy the Client ID and Client secret. The issuer is always https://accounts.google.com. Google does not send groups: grant roles through groups managed here.",
					BringBack: []Value{ClientID, ClientSecret},
				},
			},
		},
	},
	{
		ID:   "generic-oidc",
		Name: "Other OpenID Connect provider",
		OIDC: &OIDCSetup{
			IssuerHints: []string{"https://{your-idp-issuer}"},
			Scopes:      oidcScopes,
			Mapping:     standardClaims,
			Steps: []Step{
				{
					Title: "Register a web application",
					Body:  "In your identity provider, register a confidential web application (client) using the authorization code flow with PKCE, and enter this URI as its redirect URI.",
					Copy:  fields(RedirectURI),
				},
				{
					Title: "Release the claims",
					Body:  "Make sure the ID token or the userinfo response carries email, name, given_name and family_name, and groups if roles should follow the provider's groups. Other claim names can be set in the connection's attribute mapping.",
				},
				oidcCredentials("Copy the issuer URL (the one whose /.well-known/openid-configuration is published), the client ID and the client secret."),
			},
		},
	},
	{
		ID:   "generic-saml",
		Name: "Other SAML 2.0 provider",
		SAML: &SAMLSetup{
			Mapping: commonAttributes,
			Steps: []Step{
				{
					Title: "Register a service provider",
					Body:  "In your identity provider, add a SAML 2.0 service provider, importing its metadata from this URL if the provider can, or else entering the entity ID and the ACS URL (HTTP-POST binding).",
					Copy:  fields(SPMetadataURL, SPEntityID, ACSURL),
				},
				{
					Title: "Release the attributes",
					Body:  text("Set the Name ID to the user's email and release attributes", attributeStatements, "Other attribute names can be set in the connection's attribute mapping."),
				},
				{
					Title:     "Copy the metadata",
					Body:      "Copy the identity provider's metadata URL, or download its metadata XML.",
					BringBack: []Value{MetadataURL, MetadataXML},
				},
			},
		},
	},
}
