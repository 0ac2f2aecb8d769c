package org

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/y360backup/y360backup/sources"
)

// DelegateCause is the skip cause for mailboxes a service-application token
// cannot open over IMAP (shared mailboxes, blocked users): Yandex's own
// scripts reach them only through a delegate account (docs/org.md).
const DelegateCause = "not backed up: needs delegate access"

// Source is the organization source. It is safe for concurrent use; all
// per-run state lives in a run value.
type Source struct {
	api API
	cfg Config
}

var _ sources.Source = (*Source)(nil)

// New returns the source reading through api.
func New(api API, cfg Config) *Source {
	if cfg.PerPage <= 0 {
		cfg.PerPage = 1000
	}
	return &Source{api: api, cfg: cfg}
}

// Name implements sources.Source.
func (s *Source) Name() string { return "org" }

// userRef is what a run remembers of each listed user.
type userRef struct {
	id, email       string
	robot, disabled bool
}

// run is one backup of the organization.
type run struct {
	s         *Source
	st        sources.Store
	p         paths
	users     []userRef
	groups    []string
	mailboxes []string // shared and delegated resource ids, for their actors
	usersOK   bool     // the user list was read completely
	groupsOK  bool
	boxesOK   bool // both mailbox lists were read completely
	delegates int  // mailboxes reported as needing delegate access
}

// Backup implements sources.Source. u is the organization's pseudo-user and
// tok is unused: every call goes with the admin token. It fails as a whole
// only when the admin token is refused outright (401) on the first listing.
func (s *Source) Backup(ctx context.Context, u sources.User, _ sources.TokenSource, st sources.Store) error {
	r := &run{s: s, st: st, p: paths{org: url.PathEscape(s.api.OrgID())}}
	if err := r.listUsers(ctx); err != nil {
		return err
	}
	steps := []func(context.Context) error{
		r.listDepartments, r.listGroups, r.groupMembers, r.listDomains,
		r.listShared, r.listDelegated, r.mailboxActors, r.routingRules,
		r.mailSettings, r.serviceApps,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	r.reportBlocked()
	return ctx.Err()
}

// trouble records a kind's failure: a 403 as a skip naming the scope (the
// token may simply not carry it), a 404 as a skip too (some of these paths
// are UNCONFIRMED: a missing endpoint must not fail every run), anything
// else as a failure. It returns the error only when the run must stop.
func (r *run) trouble(ctx context.Context, kind, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, sources.ErrNotFound) {
		r.st.Skip(what, fmt.Sprintf("the API answered 404: no such endpoint here (its path is UNCONFIRMED, docs/org.md): %v", err))
		return nil
	}
	if isForbidden(err) {
		r.st.Skip(what, fmt.Sprintf("not permitted (the admin token needs scope %s): %v", Scope(kind), err))
		return nil
	}
	r.st.Fail(what, err)
	return nil
}

// isForbidden reports a 403 / PERMISSION_DENIED answer without importing the
// client package: its errors say "403 Forbidden".
func isForbidden(err error) bool {
	if errors.Is(err, sources.ErrNotFound) {
		return false
	}
	var f interface{ HTTPStatus() int }
	if errors.As(err, &f) {
		return f.HTTPStatus() == 403
	}
	return false
}

// listKind pages through a listing into its container. each sees every
// element with its id; it may return an error to record for that element.
func (r *run) listKind(ctx context.Context, kind, path string, keys []string,
	key func(head) (id, label string), each func(id string, h head, raw json.RawMessage)) (complete bool, err error) {
	w, err := openWriter(ctx, r.st, kind)
	if err != nil {
		return false, err
	}
	lerr := r.s.api.ListPages(ctx, path, keys, r.s.cfg.PerPage, func(raw json.RawMessage) error {
		var h head
		if err := json.Unmarshal(raw, &h); err != nil {
			r.st.Fail(kind+" (an element)", fmt.Errorf("not a JSON object: %w", err))
			return nil
		}
		id, label := key(h)
		if !validID(id) {
			r.st.Fail(fmt.Sprintf("%s %q", kind, truncate(id)), errors.New("missing or unusable id; element not stored"))
			return nil
		}
		if err := w.put(ctx, id, label, raw); err != nil {
			return err
		}
		if each != nil {
			each(id, h, raw)
		}
		return nil
	})
	if lerr != nil {
		if errors.Is(lerr, sources.ErrUnauthorized) && kind == KindUsers {
			_ = w.finish(ctx, false)
			return false, fmt.Errorf("org: admin token refused: %w", lerr)
		}
		if err := r.trouble(ctx, kind, kind+" listing", lerr); err != nil {
			_ = w.finish(context.WithoutCancel(ctx), false)
			return false, err
		}
	}
	return lerr == nil, w.finish(ctx, lerr == nil)
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func byID(h head) (string, string) {
	label := nameText(h.Name)
	if h.Email != "" && label == "" {
		label = h.Email
	}
	return idText(h.ID), label
}

func (r *run) listUsers(ctx context.Context) error {
	ok, err := r.listKind(ctx, KindUsers, r.p.users(), []string{"users"}, byID, func(id string, h head, _ json.RawMessage) {
		r.users = append(r.users, userRef{id: id, email: h.Email, robot: h.IsRobot, disabled: h.IsEnabled != nil && !*h.IsEnabled})
	})
	r.usersOK = ok
	return err
}

func (r *run) listDepartments(ctx context.Context) error {
	_, err := r.listKind(ctx, KindDepartments, r.p.departments(), []string{"departments"}, byID, nil)
	return err
}

func (r *run) listGroups(ctx context.Context) error {
	ok, err := r.listKind(ctx, KindGroups, r.p.groups(), []string{"groups"}, byID, func(id string, _ head, _ json.RawMessage) {
		r.groups = append(r.groups, id)
	})
	r.groupsOK = ok
	return err
}

func (r *run) listDomains(ctx context.Context) error {
	_, err := r.listKind(ctx, KindDomains, r.p.domains(), []string{"domains"}, func(h head) (string, string) {
		n := nameText(h.Name)
		return n, n
	}, nil)
	return err
}
