package y360_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/y360"
)

func TestListUsersPaging(t *testing.T) {
	e := newEnv(t, func(o *y360emu.Options) { o.Users = y360emu.GenerateUsers(2500, "big.test") }, nil)
	var got []sources.User
	err := e.c.ListUsers(context.Background(), func(u sources.User) error {
		got = append(got, u)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2500 {
		t.Fatalf("%d users, want 2500", len(got))
	}
	if n := e.emu.Count("/directory/"); n != 3 {
		t.Errorf("%d directory requests, want 3 pages", n)
	}
	want := sources.User{ID: "1130000000102500", Email: "user02500@big.test", Nickname: "user02500", Enabled: true}
	if got[2499] != want {
		t.Errorf("last user %+v, want %+v", got[2499], want)
	}
	for _, h := range e.emu.Hits("/directory/") {
		if h.Method != "GET" {
			t.Errorf("method %s", h.Method)
		}
	}
}

func TestListUsersFlagsAndIDForms(t *testing.T) {
	for _, numeric := range []bool{false, true} {
		e := newEnv(t, func(o *y360emu.Options) { o.IDsAsNumbers = numeric }, nil)
		byEmail := map[string]sources.User{}
		if err := e.c.ListUsers(context.Background(), func(u sources.User) error {
			byEmail[u.Email] = u
			return nil
		}); err != nil {
			t.Fatalf("numeric=%v: %v", numeric, err)
		}
		checks := map[string]sources.User{
			"alice@demo.y360.test":                {ID: "1130000000000001", Email: "alice@demo.y360.test", Nickname: "alice", Enabled: true},
			"mallory@demo.y360.test":              {ID: "1130000000000007", Email: "mallory@demo.y360.test", Nickname: "mallory", Enabled: false},
			"yndx-forms-cnt-robot@demo.y360.test": {ID: "780891246", Email: "yndx-forms-cnt-robot@demo.y360.test", Nickname: "yndx-forms-cnt-robot", Enabled: true, Robot: true},
		}
		for email, want := range checks {
			if got := byEmail[email]; got != want {
				t.Errorf("numeric=%v: %s = %+v, want %+v", numeric, email, got, want)
			}
		}
		if len(byEmail) != 8 {
			t.Errorf("numeric=%v: %d users", numeric, len(byEmail))
		}
	}
}

func TestListUsersCallbackErrorStops(t *testing.T) {
	e := newEnv(t, func(o *y360emu.Options) { o.Users = y360emu.GenerateUsers(2500, "big.test") }, nil)
	stop := errors.New("enough")
	n := 0
	err := e.c.ListUsers(context.Background(), func(sources.User) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("err = %v, want the callback's error unwrapped", err)
	}
	if e.emu.Count("/directory/") != 1 {
		t.Errorf("kept paging after the callback failed")
	}
}

func TestListUsersErrors(t *testing.T) {
	cases := []struct {
		name      string
		cfg       func(*y360.Config)
		emu       func(*y360emu.Server)
		status    int
		msg       string
		predicate func(error) bool
	}{
		{"wrong admin token", func(c *y360.Config) { c.AdminToken = "not-the-admin" }, nil, 403, "Not an admin (code 7)", y360.IsPermanent},
		{"wrong org", func(c *y360.Config) { c.OrgID = "999" }, nil, 403, "Not an admin", y360.IsPermanent},
		{"rate limited to the end", nil, func(s *y360emu.Server) { s.ThrottleEvery("/directory/", "", 1) }, 429, "gave up after 4 attempts", y360.IsRateLimited},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil, tc.cfg)
			if tc.emu != nil {
				tc.emu(e.emu)
			}
			err := e.c.ListUsers(context.Background(), func(sources.User) error { return nil })
			var ae *y360.APIError
			if !errors.As(err, &ae) || ae.Status != tc.status {
				t.Fatalf("err = %v, want APIError %d", err, tc.status)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "list users page 1") {
				t.Errorf("message %q lacks %q", err, tc.msg)
			}
			if !tc.predicate(err) {
				t.Errorf("predicate false for %v", err)
			}
			e.errorMustNotLeak(t, err)
		})
	}
}
