package y360

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/sources"
)

func TestDecodeUsersPage(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		ids     string // comma-joined ids handed to fn
		pages   int
		errHave string
	}{
		{"string ids", `{"users":[{"id":"1130000018743049","email":"a@x","isEnabled":true}],"page":1,"pages":2,"perPage":1,"total":2}`, "1130000018743049", 2, ""},
		{"number ids", `{"users":[{"id":1130000018743049},{"id":780891246}],"pages":1}`, "1130000018743049,780891246", 1, ""},
		{"pages before users", `{"pages":5,"users":[{"id":"7"}]}`, "7", 5, ""},
		{"unknown keys and nested objects skipped", `{"x":{"y":[1,{"z":2}]},"users":[{"id":"7","name":{"first":"A"},"contacts":[{"type":"email"}]}],"pages":1}`, "7", 1, ""},
		{"null users", `{"users":null,"pages":0}`, "", 0, ""},
		{"empty", `{"users":[],"pages":0,"total":0}`, "", 0, ""},
		{"missing id", `{"users":[{"email":"a@x"}]}`, "", 0, "has no id"},
		{"id object", `{"users":[{"id":{}}]}`, "", 0, "neither a string nor a number"},
		{"not an object", `[]`, "", 0, "expected"},
		{"users not array", `{"users":{}}`, "", 0, "expected an array"},
		{"truncated", `{"users":[{"id":"1"},`, "1", 0, "EOF"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ids []string
			p, err := decodeUsersPage(json.NewDecoder(strings.NewReader(tc.body)), func(u sources.User) error {
				ids = append(ids, u.ID)
				return nil
			})
			if tc.errHave != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHave) {
					t.Fatalf("err = %v, want %q", err, tc.errHave)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if p.pages != tc.pages {
				t.Errorf("pages %d, want %d", p.pages, tc.pages)
			}
			if got := strings.Join(ids, ","); got != tc.ids {
				t.Errorf("ids %q, want %q", got, tc.ids)
			}
		})
	}
}
