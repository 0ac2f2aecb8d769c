package caldavdemo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
)

// backend is the caldav.Backend over Server's in-memory state; the user is
// the one authenticated for the request (userFrom(ctx)).
type backend struct{ s *Server }

var _ caldav.Backend = (*backend)(nil)

func httpErr(code int, err error) error { return webdav.NewHTTPError(code, err) }

func (b *backend) CurrentUserPrincipal(ctx context.Context) (string, error) {
	return principalPath(userFrom(ctx)), nil
}

func (b *backend) CalendarHomeSetPath(ctx context.Context) (string, error) {
	return homePath(userFrom(ctx)), nil
}

// locate resolves a request path to the user's collection (and object name).
func (b *backend) locate(ctx context.Context, p string) (*collection, string, error) {
	email := userFrom(ctx)
	col, obj, ok := splitPath(email, p)
	if !ok || col == "" {
		return nil, "", httpErr(http.StatusForbidden, fmt.Errorf("%s is not in your calendar home", p))
	}
	c, err := b.s.calLocked(email, col)
	if err != nil {
		return nil, "", httpErr(http.StatusNotFound, err)
	}
	return c, obj, nil
}

func (b *backend) CreateCalendar(ctx context.Context, cal *caldav.Calendar) error {
	email := userFrom(ctx)
	col, obj, ok := splitPath(email, cal.Path)
	if !ok || col == "" || obj != "" {
		return httpErr(http.StatusForbidden, fmt.Errorf("cannot create a calendar at %s", cal.Path))
	}
	comps := cal.SupportedComponentSet
	if err := b.s.CreateCalendar(email, col, CalendarInfo{DisplayName: cal.Name, Description: cal.Description, Components: comps}); err != nil {
		return httpErr(http.StatusMethodNotAllowed, err)
	}
	return nil
}

func (b *backend) calendar(email string, c *collection) caldav.Calendar {
	return caldav.Calendar{
		Path:                  homePath(email) + c.name + "/",
		Name:                  c.info.DisplayName,
		Description:           c.info.Description,
		SupportedComponentSet: append([]string(nil), c.info.Components...),
	}
}

func (b *backend) ListCalendars(ctx context.Context) ([]caldav.Calendar, error) {
	email := userFrom(ctx)
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	u := b.s.userLocked(email)
	out := make([]caldav.Calendar, 0, len(u.cals))
	for _, name := range sortedNames(u.cals) {
		out = append(out, b.calendar(email, u.cals[name]))
	}
	return out, nil
}

func (b *backend) GetCalendar(ctx context.Context, p string) (*caldav.Calendar, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	c, obj, err := b.locate(ctx, p)
	if err != nil {
		return nil, err
	}
	if obj != "" {
		return nil, httpErr(http.StatusNotFound, errNoCalendar)
	}
	cal := b.calendar(userFrom(ctx), c)
	return &cal, nil
}

func (b *backend) object(email string, c *collection, o *object) caldav.CalendarObject {
	return caldav.CalendarObject{
		Path:          homePath(email) + c.name + "/" + o.name,
		ModTime:       o.mod,
		ContentLength: int64(len(o.data)),
		ETag:          o.etag,
		Data:          o.cal, // never mutated: PUT replaces the object
	}
}

func (b *backend) GetCalendarObject(ctx context.Context, p string, _ *caldav.CalendarCompRequest) (*caldav.CalendarObject, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	c, name, err := b.locate(ctx, p)
	if err != nil {
		return nil, err
	}
	o := c.objs[name]
	if o == nil {
		return nil, httpErr(http.StatusNotFound, fmt.Errorf("%s: %w", p, errNoObject))
	}
	co := b.object(userFrom(ctx), c, o)
	return &co, nil
}

func (b *backend) ListCalendarObjects(ctx context.Context, p string, _ *caldav.CalendarCompRequest) ([]caldav.CalendarObject, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	c, _, err := b.locate(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]caldav.CalendarObject, 0, len(c.objs))
	for _, name := range sortedNames(c.objs) {
		out = append(out, b.object(userFrom(ctx), c, c.objs[name]))
	}
	return out, nil
}

func (b *backend) QueryCalendarObjects(ctx context.Context, p string, q *caldav.CalendarQuery) ([]caldav.CalendarObject, error) {
	all, err := b.ListCalendarObjects(ctx, p, nil)
	if err != nil {
		return nil, err
	}
	return caldav.Filter(q, all)
}

func (b *backend) PutCalendarObject(ctx context.Context, p string, cal *ical.Calendar, opts *caldav.PutCalendarObjectOptions) (*caldav.CalendarObject, error) {
	if _, _, err := caldav.ValidateCalendarObject(cal); err != nil {
		return nil, caldav.NewPreconditionError(caldav.PreconditionValidCalendarObjectResource)
	}
	data, model, err := encodeModel(cal)
	if err != nil {
		return nil, httpErr(http.StatusBadRequest, err)
	}
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	c, name, err := b.locate(ctx, p)
	if err != nil {
		return nil, err
	}
	if name == "" || path.Base(p) != name {
		return nil, httpErr(http.StatusForbidden, fmt.Errorf("cannot PUT %s", p))
	}
	old := c.objs[name]
	if owner, ok := c.uids[uidOf(model)]; ok && owner != name {
		return nil, caldav.NewPreconditionError(caldav.PreconditionNoUIDConflict)
	}
	if opts != nil {
		if opts.IfNoneMatch.IsWildcard() && old != nil {
			return nil, httpErr(http.StatusPreconditionFailed, errors.New("object exists"))
		}
		if opts.IfMatch.IsSet() {
			want, err := opts.IfMatch.ETag()
			if old == nil || (!opts.IfMatch.IsWildcard() && (err != nil || want != old.etag)) {
				return nil, httpErr(http.StatusPreconditionFailed, errors.New("etag mismatch"))
			}
		}
	}
	b.s.putLocked(c, name, data, model)
	co := b.object(userFrom(ctx), c, c.objs[name])
	return &co, nil
}

func (b *backend) DeleteCalendarObject(ctx context.Context, p string) error {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	c, name, err := b.locate(ctx, p)
	if err != nil {
		return err
	}
	if name == "" {
		return httpErr(http.StatusForbidden, errors.New("deleting calendars over HTTP is not supported"))
	}
	if err := b.s.deleteLocked(c, name); err != nil {
		return httpErr(http.StatusNotFound, err)
	}
	return nil
}
