package api

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// UID is a Yandex user id. The Directory API sends it as a JSON string
// ("1130000018743049"); UnmarshalJSON also accepts a bare JSON number so a
// server (or proxy) that emits numbers does not break the listing. The digits
// are kept as text, never converted to float64.
type UID string

// UnmarshalJSON accepts "123", 123 and null.
func (u *UID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		*u = ""
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*u = UID(s)
		return nil
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("user id %s is neither a string nor a number", b)
		}
		*u = UID(n.String())
		return nil
	}
}

// User is one entry of GET /directory/v1/org/{orgId}/users. Only the fields the
// backup needs are decoded; the rest of the object is skipped.
type User struct {
	ID          UID    `json:"id"`
	Nickname    string `json:"nickname"`
	Email       string `json:"email"`
	IsEnabled   bool   `json:"isEnabled"`
	IsRobot     bool   `json:"isRobot"`
	IsDismissed bool   `json:"isDismissed"`
	IsAdmin     bool   `json:"isAdmin"`
}

// UsersPage is the envelope of the users list. Users is decoded element by
// element by the client; the struct documents the shape.
type UsersPage struct {
	Users   []User `json:"users"`
	Page    int    `json:"page"`
	Pages   int    `json:"pages"`
	PerPage int    `json:"perPage"`
	Total   int    `json:"total"`
}

// TokenResponse is the success body of the OAuth token exchange.
type TokenResponse struct {
	AccessToken     string `json:"access_token"`
	ExpiresIn       int64  `json:"expires_in"`
	IssuedTokenType string `json:"issued_token_type"`
	Scope           string `json:"scope"`
	TokenType       string `json:"token_type"`
}

// ServiceApp is one entry of the organization's service-application list:
// ID is the OAuth app's client id.
type ServiceApp struct {
	ID     string   `json:"id"`
	Scopes []string `json:"scopes"`
}

// ServiceApps is the body of GET and POST /security/v1/org/{orgId}/service_applications.
type ServiceApps struct {
	Applications []ServiceApp `json:"applications"`
}

// Whoami is the body of GET /whoami (undocumented token introspection).
type Whoami struct {
	Login  string   `json:"login"`
	Scopes []string `json:"scopes"`
	OrgIDs []UID    `json:"orgIds"`
}

// ErrorBody is the union of the three error body styles Yandex services use:
//
//	api360 (gRPC gateway): {"code":7,"message":"Not an admin","details":[]}
//	OAuth:                 {"error":"invalid_client","error_description":"..."}
//	Disk REST:             {"message":"...","description":"...","error":"DiskNotFoundError"}
//
// Code is a pointer so an absent code is told apart from code 0 (OK).
type ErrorBody struct {
	Code             *int            `json:"code"`
	Message          string          `json:"message"`
	Details          json.RawMessage `json:"details"`
	Error            string          `json:"error"`
	ErrorDescription string          `json:"error_description"`
	Description      string          `json:"description"`
}
