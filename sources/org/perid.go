package org

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/y360backup/y360backup/sources"
)

// perID fetches one object per id (a group's members, a mailbox's actors,
// a user's mail settings) into kind's container. A failed fetch is
// recorded and the stored object kept; deletions are recorded only when the
// ids came from a complete listing.
func (r *run) perID(ctx context.Context, kind string, ids []string, label func(string) string,
	path func(string) string, complete bool) error {
	w, err := openWriter(ctx, r.st, kind)
	if err != nil {
		return err
	}
	stopped, got := false, 0
	for _, id := range ids {
		if ctx.Err() != nil {
			stopped = true
			break
		}
		raw, err := r.s.api.GetRaw(ctx, path(id))
		if err != nil {
			w.keep(id)
			if errors.Is(err, sources.ErrNotFound) && got > 0 {
				// Deleted between the listing and this call.
				r.st.Skip(fmt.Sprintf("%s %s", kind, label(id)), "gone since it was listed (404)")
				continue
			}
			if terr := r.trouble(ctx, kind, fmt.Sprintf("%s %s", kind, label(id)), err); terr != nil {
				stopped = true
				break
			}
			if isForbidden(err) || errors.Is(err, sources.ErrNotFound) {
				// A 403, or a 404 before any success: the token lacks the
				// scope or the endpoint does not exist; the rest would
				// answer the same. Keep what is stored.
				for _, rest := range ids {
					w.keep(rest)
				}
				break
			}
			continue
		}
		got++
		if err := w.put(ctx, id, label(id), raw); err != nil {
			_ = w.finish(context.WithoutCancel(ctx), false)
			return err
		}
	}
	if stopped {
		_ = w.finish(context.WithoutCancel(ctx), false)
		return ctx.Err()
	}
	return w.finish(ctx, complete)
}

// single fetches one whole answer (routing rules, service applications)
// as the one item of kind's container.
func (r *run) single(ctx context.Context, kind, item, path string) error {
	raw, err := r.s.api.GetRaw(ctx, path)
	if err != nil {
		return r.trouble(ctx, kind, kind, err)
	}
	w, err := openWriter(ctx, r.st, kind)
	if err != nil {
		return err
	}
	if err := w.put(ctx, item, kind, raw); err != nil {
		_ = w.finish(context.WithoutCancel(ctx), false)
		return err
	}
	return w.finish(ctx, true)
}

func (r *run) groupMembers(ctx context.Context) error {
	return r.perID(ctx, KindGroupMembers, r.groups, func(id string) string { return "group " + id },
		r.p.members, r.groupsOK)
}

func (r *run) mailboxActors(ctx context.Context) error {
	return r.perID(ctx, KindActors, r.mailboxes, func(id string) string { return "mailbox " + id },
		r.p.actors, r.boxesOK)
}

func (r *run) routingRules(ctx context.Context) error {
	return r.single(ctx, KindRoutingRules, singleItemRules, r.p.routingRules())
}

func (r *run) serviceApps(ctx context.Context) error {
	return r.single(ctx, KindServiceApps, singleItemServices, r.p.serviceApps())
}

// mailSettings reads every non-robot user's forwards/autoreplies and sender info.
func (r *run) mailSettings(ctx context.Context) error {
	if r.s.cfg.SkipMailSettings {
		return nil
	}
	var ids []string
	email := map[string]string{}
	for _, u := range r.users {
		if !u.robot {
			ids = append(ids, u.id)
			email[u.id] = u.email
		}
	}
	label := func(id string) string { return email[id] }
	if err := r.perID(ctx, KindUserRules, ids, label, r.p.userRules, r.usersOK); err != nil {
		return err
	}
	return r.perID(ctx, KindSenderInfo, ids, label, r.p.senderInfo, r.usersOK)
}

// mailboxRef is a listed shared or delegated mailbox.
type mailboxRef struct{ id, email string }

// listShared lists the shared mailboxes, then stores each one's detail
// (GET .../mailboxes/shared/{id}). The documented list holds only
// {resourceId,count}; a Yandex script reads mailboxes[].email instead, so an
// element that already carries an email is stored as listed.
func (r *run) listShared(ctx context.Context) error {
	var refs []mailboxRef
	var listed []json.RawMessage
	w, err := openWriter(ctx, r.st, KindShared)
	if err != nil {
		return err
	}
	lerr := r.s.api.ListPages(ctx, r.p.shared(), []string{"resources", "mailboxes"}, r.s.cfg.PerPage, func(raw json.RawMessage) error {
		var h head
		if json.Unmarshal(raw, &h) != nil {
			r.st.Fail(KindShared+" (an element)", fmt.Errorf("not a JSON object"))
			return nil
		}
		id := idText(h.ResourceID)
		if id == "" {
			id = idText(h.ID)
		}
		if !validID(id) {
			r.st.Fail(fmt.Sprintf("%s %q", KindShared, truncate(id)), fmt.Errorf("missing or unusable id; element not stored"))
			return nil
		}
		refs = append(refs, mailboxRef{id: id, email: h.Email})
		if h.Email != "" {
			listed = append(listed, raw)
		} else {
			listed = append(listed, nil)
		}
		return nil
	})
	if lerr != nil {
		if err := r.trouble(ctx, KindShared, KindShared+" listing", lerr); err != nil {
			_ = w.finish(context.WithoutCancel(ctx), false)
			return err
		}
	}
	for i, ref := range refs {
		r.mailboxes = append(r.mailboxes, ref.id)
		raw := listed[i]
		if raw == nil {
			b, err := r.s.api.GetRaw(ctx, r.p.sharedOne(ref.id))
			if err != nil {
				w.keep(ref.id)
				if terr := r.trouble(ctx, KindShared, "shared mailbox "+ref.id, err); terr != nil {
					_ = w.finish(context.WithoutCancel(ctx), false)
					return terr
				}
				r.needsDelegate("shared mailbox " + ref.id)
				continue
			}
			raw = b
			var h head
			_ = json.Unmarshal(b, &h)
			refs[i].email = h.Email
		}
		label := refs[i].email
		if label == "" {
			label = ref.id
		}
		if err := w.put(ctx, ref.id, label, raw); err != nil {
			_ = w.finish(context.WithoutCancel(ctx), false)
			return err
		}
		r.needsDelegate("shared mailbox " + label)
	}
	r.boxesOK = lerr == nil
	return w.finish(ctx, lerr == nil)
}

// listDelegated stores the delegated-mailbox list as served. A delegated
// mailbox belongs to a user, whose own mail the mail source backs up; only
// one whose owner is blocked or not in the user list is reported as needing
// delegate access.
func (r *run) listDelegated(ctx context.Context) error {
	active := map[string]bool{}
	for _, u := range r.users {
		if !u.disabled && !u.robot {
			active[u.id] = true
		}
	}
	keys := []string{"resources", "mailboxes"}
	ok, err := r.listKind(ctx, KindDelegated, r.p.delegated(), keys, func(h head) (string, string) {
		id := idText(h.ResourceID)
		if id == "" {
			id = idText(h.ID)
		}
		return id, h.Email
	}, func(id string, h head, _ json.RawMessage) {
		r.mailboxes = append(r.mailboxes, id)
		if !active[id] && r.usersOK {
			label := h.Email
			if label == "" {
				label = id
			}
			r.needsDelegate("delegated mailbox " + label + " (owner blocked or not a user)")
		}
	})
	r.boxesOK = r.boxesOK && ok
	return err
}

// reportBlocked lists blocked users' mailboxes (service-application tokens
// cannot open them over IMAP either), then sums up the mailboxes past the
// per-item limit.
func (r *run) reportBlocked() {
	for _, u := range r.users {
		if u.disabled && !u.robot {
			r.needsDelegate("mailbox of blocked user " + u.email)
		}
	}
	if n := r.delegates - maxDelegateSkips; n > 0 {
		r.st.Skip(fmt.Sprintf("%d more shared, delegated or blocked mailboxes (all are in the org backup: "+
			"y360backup ls org org shared_mailboxes, delegated_mailboxes, users)", n), DelegateCause)
	}
}

// maxDelegateSkips is how many mailboxes are named one by one in the run's
// report (which keeps 200 skips at most); the rest are counted in one line.
const maxDelegateSkips = 150

// needsDelegate reports a mailbox the backup cannot open.
func (r *run) needsDelegate(what string) {
	r.delegates++
	if r.delegates <= maxDelegateSkips {
		r.st.Skip(what, DelegateCause)
	}
}
