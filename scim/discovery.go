package scim

import (
	"net/http"
	"strings"

	"github.com/partnergate/partnergate/scim/schema"
)

// serviceProviderConfig says truthfully what this server supports
// (RFC 7643 §5).
func (h *Handler) serviceProviderConfig(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, Resource{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"documentationUri": "https://github.com/partnergate/partnergate",
		"patch":            Resource{"supported": true},
		"bulk":             Resource{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           Resource{"supported": true, "maxResults": maxCount},
		"changePassword":   Resource{"supported": true},
		"sort":             Resource{"supported": true},
		"etag":             Resource{"supported": true},
		"authenticationSchemes": []Resource{{
			"type":        "oauthbearertoken",
			"name":        "Bearer token",
			"description": "A SCIM token of the partner, created through the admin API",
			"primary":     true,
		}},
		"meta": Resource{"resourceType": "ServiceProviderConfig", "location": base(r) + "ServiceProviderConfig"},
	})
	return nil
}

func (h *Handler) resourceTypes(w http.ResponseWriter, r *http.Request) error {
	types := []any{schema.UserResource.Representation(base(r)), schema.GroupResource.Representation(base(r))}
	writeJSON(w, http.StatusOK, Resource{
		"schemas": []string{listResponseURN}, "totalResults": len(types), "startIndex": 1, "itemsPerPage": len(types), "Resources": types,
	})
	return nil
}

func (h *Handler) resourceType(w http.ResponseWriter, r *http.Request) error {
	for _, rt := range []*schema.ResourceType{schema.UserResource, schema.GroupResource} {
		if strings.EqualFold(rt.Name, r.PathValue("name")) {
			writeJSON(w, http.StatusOK, rt.Representation(base(r)))
			return nil
		}
	}
	return &schema.Error{Status: http.StatusNotFound, Detail: "no such resource type"}
}

func (h *Handler) schemas(w http.ResponseWriter, r *http.Request) error {
	var list []any
	for _, s := range schema.Schemas() {
		list = append(list, s.Representation(base(r)))
	}
	writeJSON(w, http.StatusOK, Resource{
		"schemas": []string{listResponseURN}, "totalResults": len(list), "startIndex": 1, "itemsPerPage": len(list), "Resources": list,
	})
	return nil
}

func (h *Handler) schema(w http.ResponseWriter, r *http.Request) error {
	for _, s := range schema.Schemas() {
		if s.ID == r.PathValue("urn") {
			writeJSON(w, http.StatusOK, s.Representation(base(r)))
			return nil
		}
	}
	return &schema.Error{Status: http.StatusNotFound, Detail: "no such schema"}
}

// base is the partner's SCIM base URL, ending in a slash.
func base(r *http.Request) string {
	return strings.TrimSuffix(location(r, "", ""), "/")
}
