package schema

// Schema URNs (RFC 7643 §8.2 and §8.3).
const (
	UserURN           = "urn:ietf:params:scim:schemas:core:2.0:User"
	EnterpriseUserURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	GroupURN          = "urn:ietf:params:scim:schemas:core:2.0:Group"
)

// User is the core User schema of RFC 7643 §4.1 and §8.7.1.
var User = &Schema{
	ID:          UserURN,
	Name:        "User",
	Description: "User Account",
	Attributes: []*Attribute{
		{Name: "userName", Type: String, Required: true, Uniqueness: UniqueServer,
			Description: "Unique identifier for the User, typically used by the user to directly authenticate to the service provider. Each User MUST include a non-empty userName value. This identifier MUST be unique across the service provider's entire set of Users. REQUIRED."},
		{Name: "name", Type: Complex,
			Description: "The components of the user's real name. Providers MAY return just the full name as a single string in the formatted sub-attribute, or they MAY return just the individual component attributes using the other sub-attributes, or they MAY return both. If both variants are returned, they SHOULD be describing the same name, with the formatted name indicating how the component attributes should be combined.",
			SubAttributes: []*Attribute{
				{Name: "formatted", Type: String, Description: "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display (e.g., 'Ms. Barbara J Jensen, III')."},
				{Name: "familyName", Type: String, Description: "The family name of the User, or last name in most Western languages (e.g., 'Jensen' given the full name 'Ms. Barbara J Jensen, III')."},
				{Name: "givenName", Type: String, Description: "The given name of the User, or first name in most Western languages (e.g., 'Barbara' given the full name 'Ms. Barbara J Jensen, III')."},
				{Name: "middleName", Type: String, Description: "The middle name(s) of the User (e.g., 'Jane' given the full name 'Ms. Barbara J Jensen, III')."},
				{Name: "honorificPrefix", Type: String, Description: "The honorific prefix(es) of the User, or title in most Western languages (e.g., 'Ms.' given the full name 'Ms. Barbara J Jensen, III')."},
				{Name: "honorificSuffix", Type: String, Description: "The honorific suffix(es) of the User, or suffix in most Western languages (e.g., 'III' given the full name 'Ms. Barbara J Jensen, III')."},
			}},
		{Name: "displayName", Type: String, Description: "The name of the User, suitable for display to end-users. The name SHOULD be the full name of the User being described, if known."},
		{Name: "nickName", Type: String, Description: "The casual way to address the user in real life, e.g., 'Bob' or 'Bobby' instead of 'Robert'. This attribute SHOULD NOT be used to represent a User's username (e.g., 'bjensen' or 'mpepperidge')."},
		{Name: "profileUrl", Type: Reference, ReferenceTypes: []string{"external"}, Description: "A fully qualified URL pointing to a page representing the User's online profile."},
		{Name: "title", Type: String, Description: "The user's title, such as \"Vice President.\""},
		{Name: "userType", Type: String, Description: "Used to identify the relationship between the organization and the user. Typical values used might be 'Contractor', 'Employee', 'Intern', 'Temp', 'External', and 'Unknown', but any value may be used."},
		{Name: "preferredLanguage", Type: String, Description: "Indicates the User's preferred written or spoken language. Generally used for selecting a localized user interface; e.g., 'en_US' specifies the language English and country US."},
		{Name: "locale", Type: String, Description: "Used to indicate the User's default location for purposes of localizing items such as currency, date time format, or numerical representations."},
		{Name: "timezone", Type: String, Description: "The User's time zone in the 'Olson' time zone database format, e.g., 'America/Los_Angeles'."},
		{Name: "active", Type: Boolean, Description: "A Boolean value indicating the User's administrative status."},
		{Name: "password", Type: String, Mutability: WriteOnly, Returned: Never,
			Description: "The User's cleartext password. This attribute is intended to be used as a means to specify an initial password when creating a new User or to reset an existing User's password."},
		multi("emails", "Email addresses for the user. The value SHOULD be canonicalized by the service provider, e.g., 'bjensen@example.com' instead of 'bjensen@EXAMPLE.COM'. Canonical type values of 'work', 'home', and 'other'.",
			&Attribute{Name: "value", Type: String, Description: "Email addresses for the user. The value SHOULD be canonicalized by the service provider, e.g., 'bjensen@example.com' instead of 'bjensen@EXAMPLE.COM'. Canonical type values of 'work', 'home', and 'other'."},
			display("A human-readable name, primarily used for display purposes. READ-ONLY."),
			typ("A label indicating the attribute's function, e.g., 'work' or 'home'.", "work", "home", "other"),
			primary("A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred mailing address or primary email address. The primary attribute value 'true' MUST appear no more than once."),
		),
		multi("phoneNumbers", "Phone numbers for the User. The value SHOULD be canonicalized by the service provider according to the format specified in RFC 3966, e.g., 'tel:+1-201-555-0123'. Canonical type values of 'work', 'home', 'mobile', 'fax', 'pager', and 'other'.",
			&Attribute{Name: "value", Type: String, Description: "Phone number of the User."},
			display("A human-readable name, primarily used for display purposes. READ-ONLY."),
			typ("A label indicating the attribute's function, e.g., 'work', 'home', 'mobile'.", "work", "home", "mobile", "fax", "pager", "other"),
			primary("A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred phone number or primary phone number. The primary attribute value 'true' MUST appear no more than once."),
		),
		multi("ims", "Instant messaging addresses for the User.",
			&Attribute{Name: "value", Type: String, Description: "Instant messaging address for the User."},
			display("A human-readable name, primarily used for display purposes. READ-ONLY."),
			typ("A label indicating the attribute's function, e.g., 'aim', 'gtalk', 'xmpp'.", "aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
			primary("A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred messenger or primary messenger. The primary attribute value 'true' MUST appear no more than once."),
		),
		multi("photos", "URLs of photos of the User.",
			&Attribute{Name: "value", Type: Reference, ReferenceTypes: []string{"external"}, Description: "URL of a photo of the User."},
			display("A human-readable name, primarily used for display purposes. READ-ONLY."),
			typ("A label indicating the attribute's function, i.e., 'photo' or 'thumbnail'.", "photo", "thumbnail"),
			primary("A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred photo or thumbnail. The primary attribute value 'true' MUST appear no more than once."),
		),
		multi("addresses", "A physical mailing address for this User. Canonical type values of 'work', 'home', and 'other'. This attribute is a complex type with the following sub-attributes.",
			&Attribute{Name: "formatted", Type: String, Description: "The full mailing address, formatted for display or use with a mailing label. This attribute MAY contain newlines."},
			&Attribute{Name: "streetAddress", Type: String, Description: "The full street address component, which may include house number, street name, P.O. box, and multi-line extended street address information. This attribute MAY contain newlines."},
			&Attribute{Name: "locality", Type: String, Description: "The city or locality component."},
			&Attribute{Name: "region", Type: String, Description: "The state or region component."},
			&Attribute{Name: "postalCode", Type: String, Description: "The zip code or postal code component."},
			&Attribute{Name: "country", Type: String, Description: "The country name component."},
			typ("A label indicating the attribute's function, e.g., 'work' or 'home'.", "work", "home", "other"),
			// §8.7.1 omits primary here, but §4.1.2 describes it for
			// addresses and provisioning clients send it.
			primary("A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred mailing address. The primary attribute value 'true' MUST appear no more than once."),
		),
		readOnly(multi("groups", "A list of groups to which the user belongs, either through direct membership, through nested groups, or dynamically calculated.",
			&Attribute{Name: "value", Type: String, Description: "The identifier of the User's group."},
			&Attribute{Name: "$ref", Type: Reference, ReferenceTypes: []string{"User", "Group"}, Description: "The URI of the corresponding 'Group' resource to which the user belongs."},
			display("A human-readable name, primarily used for display purposes. READ-ONLY."),
			typ("A label indicating the attribute's function, e.g., 'direct' or 'indirect'.", "direct", "indirect"),
		)),
		multi("entitlements", "A list of entitlements for the User that represent a thing the User has.",
			&Attribute{Name: "value", Type: String, Description: "The value of an entitlement."},
			display("A human-readable name, primarily used for display purposes. READ-ONLY."),
			typ("A label indicating the attribute's function."),
			primary("A Boolean value indicating the 'primary' or preferred attribute value for this attribute. The primary attribute value 'true' MUST appear no more than once."),
		),
		multi("roles", "A list of roles for the User that collectively represent who the User is, e.g., 'Student', 'Faculty'.",
			&Attribute{Name: "value", Type: String, Description: "The value of a role."},
			display("A human-readable name, primarily used for display purposes. READ-ONLY."),
			typ("A label indicating the attribute's function."),
			primary("A Boolean value indicating the 'primary' or preferred attribute value for this attribute. The primary attribute value 'true' MUST appear no more than once."),
		),
		multi("x509Certificates", "A list of certificates issued to the User.",
			&Attribute{Name: "value", Type: Binary, Description: "The value of an X.509 certificate."},
			display("A human-readable name, primarily used for display purposes. READ-ONLY."),
			typ("A label indicating the attribute's function."),
			primary("A Boolean value indicating the 'primary' or preferred attribute value for this attribute. The primary attribute value 'true' MUST appear no more than once."),
		),
	},
}

// EnterpriseUser is the Enterprise User extension of RFC 7643 §4.3 and
// §8.7.1.
var EnterpriseUser = &Schema{
	ID:          EnterpriseUserURN,
	Name:        "EnterpriseUser",
	Description: "Enterprise User",
	Attributes: []*Attribute{
		{Name: "employeeNumber", Type: String, Description: "Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization."},
		{Name: "costCenter", Type: String, Description: "Identifies the name of a cost center."},
		{Name: "organization", Type: String, Description: "Identifies the name of an organization."},
		{Name: "division", Type: String, Description: "Identifies the name of a division."},
		{Name: "department", Type: String, Description: "Identifies the name of a department."},
		{Name: "manager", Type: Complex,
			Description: "The User's manager. A complex type that optionally allows service providers to represent organizational hierarchy by referencing the 'id' attribute of another User.",
			SubAttributes: []*Attribute{
				{Name: "value", Type: String, Description: "The id of the SCIM resource representing the User's manager. REQUIRED."},
				{Name: "$ref", Type: Reference, ReferenceTypes: []string{"User"}, Description: "The URI of the SCIM resource representing the User's manager. REQUIRED."},
				{Name: "displayName", Type: String, Mutability: ReadOnly, Description: "The displayName of the User's manager. OPTIONAL and READ-ONLY."},
			}},
	},
}

// Group is the core Group schema of RFC 7643 §4.2 and §8.7.1.
var Group = &Schema{
	ID:          GroupURN,
	Name:        "Group",
	Description: "Group",
	Attributes: []*Attribute{
		{Name: "displayName", Type: String, Description: "A human-readable name for the Group. REQUIRED."},
		multi("members", "A list of members of the Group.",
			&Attribute{Name: "value", Type: String, Mutability: Immutable, Description: "Identifier of the member of this Group."},
			&Attribute{Name: "$ref", Type: Reference, ReferenceTypes: []string{"User", "Group"}, Mutability: Immutable, Description: "The URI corresponding to a SCIM resource that is a member of this Group."},
			// §8.7.1 has no display here, but §2.4 makes it a default
			// sub-attribute of multi-valued attributes and Okta and Entra
			// send it with every member.
			&Attribute{Name: "display", Type: String, Mutability: Immutable, Description: "A human-readable name, primarily used for display purposes."},
			&Attribute{Name: "type", Type: String, CanonicalValues: []string{"User", "Group"}, Mutability: Immutable, Description: "A label indicating the type of resource, e.g., 'User' or 'Group'."},
		),
	},
}

// multi returns a multi-valued complex attribute with the given
// sub-attributes, the shape of every plural attribute in §8.7.1.
func multi(name, desc string, subs ...*Attribute) *Attribute {
	return &Attribute{Name: name, Type: Complex, MultiValued: true, Description: desc, SubAttributes: subs}
}

// readOnly marks a and its sub-attributes readOnly, as §8.7.1 marks groups.
func readOnly(a *Attribute) *Attribute {
	a.Mutability = ReadOnly
	for _, s := range a.SubAttributes {
		s.Mutability = ReadOnly
	}
	return a
}

func display(desc string) *Attribute {
	return &Attribute{Name: "display", Type: String, Description: desc}
}

func typ(desc string, canonical ...string) *Attribute {
	return &Attribute{Name: "type", Type: String, Description: desc, CanonicalValues: canonical}
}

func primary(desc string) *Attribute {
	return &Attribute{Name: "primary", Type: Boolean, Description: desc}
}

// complete fills the characteristics the definitions leave out with RFC
// 7643 §2.2's defaults, so the literals above state only what differs.
func complete(attrs []*Attribute) {
	for _, a := range attrs {
		if a.Mutability == "" {
			a.Mutability = ReadWrite
		}
		if a.Returned == "" {
			a.Returned = ReturnDefault
		}
		if a.Uniqueness == "" {
			a.Uniqueness = UniqueNone
		}
		complete(a.SubAttributes)
	}
}

func init() {
	for _, s := range []*Schema{User, EnterpriseUser, Group} {
		complete(s.Attributes)
	}
	complete(common)
}
