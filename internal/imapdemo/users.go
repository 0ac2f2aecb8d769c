package imapdemo

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// user is one mailbox owner. imapmemserver keeps the messages; the folder
// registry here exists because imapmemserver can neither enumerate folders
// nor store special-use attributes, and its LIST hard-codes "/".
type user struct {
	email string
	mem   *imapmemserver.User

	mu      sync.Mutex
	folders map[string][]imap.MailboxAttr // name → special-use attributes
}

// ensureUser returns the user for email, creating the mailbox (INBOX plus
// Options.DefaultFolders) the first time.
func (s *Server) ensureUser(email string) *user {
	key := strings.ToLower(email)
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[key]; u != nil {
		return u
	}
	u := &user{email: email, mem: imapmemserver.NewUser(email, ""), folders: map[string][]imap.MailboxAttr{}}
	u.create("INBOX", nil) // cannot fail on a new user
	for _, f := range s.opts.DefaultFolders {
		u.create(f.Name, f.Attrs)
	}
	s.users[key] = u
	return u
}

func (u *user) create(name string, attrs []imap.MailboxAttr) error {
	if strings.EqualFold(name, "INBOX") {
		name = "INBOX"
	}
	if err := u.mem.Create(name, nil); err != nil {
		return err
	}
	u.mu.Lock()
	u.folders[name] = append([]imap.MailboxAttr(nil), attrs...)
	u.mu.Unlock()
	return nil
}

func (u *user) remove(name string) error {
	if err := u.mem.Delete(name); err != nil {
		return err
	}
	u.mu.Lock()
	delete(u.folders, name)
	u.mu.Unlock()
	return nil
}

func (u *user) rename(oldName, newName string) error {
	if err := u.mem.Rename(oldName, newName, nil); err != nil {
		return err
	}
	u.mu.Lock()
	u.folders[newName] = u.folders[oldName]
	delete(u.folders, oldName)
	u.mu.Unlock()
	return nil
}

// snapshot returns the folder registry plus implied parents ("A|B" without
// "A" gives "A" with \Noselect), sorted by name.
func (u *user) snapshot(delim rune) []imap.ListData {
	u.mu.Lock()
	all := map[string][]imap.MailboxAttr{}
	for name, attrs := range u.folders {
		all[name] = attrs
	}
	u.mu.Unlock()
	for name := range all {
		parts := strings.Split(name, string(delim))
		for i := 1; i < len(parts); i++ {
			parent := strings.Join(parts[:i], string(delim))
			if _, ok := all[parent]; !ok {
				all[parent] = []imap.MailboxAttr{imap.MailboxAttrNoSelect}
			}
		}
	}
	out := make([]imap.ListData, 0, len(all))
	for name, attrs := range all {
		out = append(out, imap.ListData{Mailbox: name, Delim: delim, Attrs: attrs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Mailbox < out[j].Mailbox })
	return out
}

// withMailbox runs fn on a private selected view of a folder.
func (u *user) withMailbox(folder string, fn func(*imapmemserver.UserSession) error) error {
	sess := imapmemserver.NewUserSession(u.mem)
	if _, err := sess.Select(folder, nil); err != nil {
		return err
	}
	defer sess.Close()
	return fn(sess)
}

// CreateFolder creates a folder (any depth, the name uses Options.Delim) with
// optional special-use attributes. The user is created if needed.
func (s *Server) CreateFolder(email, name string, attrs ...imap.MailboxAttr) error {
	if err := s.ensureUser(email).create(name, attrs); err != nil {
		return fmt.Errorf("imapdemo: create %q for %s: %w", name, email, err)
	}
	return nil
}

// DeleteFolder deletes a folder and its messages. Re-creating it afterwards
// gives it a new UIDVALIDITY.
func (s *Server) DeleteFolder(email, name string) error {
	if err := s.ensureUser(email).remove(name); err != nil {
		return fmt.Errorf("imapdemo: delete %q for %s: %w", name, email, err)
	}
	return nil
}

// RenameFolder renames a folder (children are not moved).
func (s *Server) RenameFolder(email, oldName, newName string) error {
	if err := s.ensureUser(email).rename(oldName, newName); err != nil {
		return fmt.Errorf("imapdemo: rename %q for %s: %w", oldName, email, err)
	}
	return nil
}

// Folders lists a user's folder names, sorted.
func (s *Server) Folders(email string) []string {
	var names []string
	for _, d := range s.ensureUser(email).snapshot(s.opts.Delim) {
		names = append(names, d.Mailbox)
	}
	return names
}

type sizedReader struct {
	io.Reader
	n int64
}

func (r sizedReader) Size() int64 { return r.n }

// Append stores a message with flags and an INTERNALDATE (zero = now) and
// returns its UID.
func (s *Server) Append(email, folder string, msg []byte, flags []imap.Flag, date time.Time) (imap.UID, error) {
	return s.AppendReader(email, folder, bytes.NewReader(msg), int64(len(msg)), flags, date)
}

// AppendReader is Append for a message read from r (exactly size bytes).
func (s *Server) AppendReader(email, folder string, r io.Reader, size int64, flags []imap.Flag, date time.Time) (imap.UID, error) {
	u := s.ensureUser(email)
	data, err := u.mem.Append(folder, sizedReader{io.LimitReader(r, size), size}, &imap.AppendOptions{Flags: flags, Time: date})
	if err != nil {
		return 0, fmt.Errorf("imapdemo: append to %q for %s: %w", folder, email, err)
	}
	return data.UID, nil
}

// SetFlags replaces the flags of one message.
func (s *Server) SetFlags(email, folder string, uid imap.UID, flags ...imap.Flag) error {
	err := s.ensureUser(email).withMailbox(folder, func(sess *imapmemserver.UserSession) error {
		// A nil FetchWriter is fine: with Silent the store writes no response.
		return sess.Store(nil, imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsSet, Silent: true, Flags: flags}, nil)
	})
	if err != nil {
		return fmt.Errorf("imapdemo: set flags of %q uid %d for %s: %w", folder, uid, email, err)
	}
	return nil
}

// Expunge deletes messages by UID, as \Deleted + EXPUNGE would.
func (s *Server) Expunge(email, folder string, uids ...imap.UID) error {
	set := imap.UIDSetNum(uids...)
	err := s.ensureUser(email).withMailbox(folder, func(sess *imapmemserver.UserSession) error {
		if err := sess.Store(nil, set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil); err != nil {
			return err
		}
		return sess.Expunge(nil, &set)
	})
	if err != nil {
		return fmt.Errorf("imapdemo: expunge %q for %s: %w", folder, email, err)
	}
	return nil
}

// MessageCount returns the number of messages in a folder.
func (s *Server) MessageCount(email, folder string) (int, error) {
	st, err := s.ensureUser(email).mem.Status(folder, &imap.StatusOptions{NumMessages: true})
	if err != nil {
		return 0, fmt.Errorf("imapdemo: status %q for %s: %w", folder, email, err)
	}
	return int(*st.NumMessages), nil
}

// UIDValidity returns a folder's UIDVALIDITY.
func (s *Server) UIDValidity(email, folder string) (uint32, error) {
	st, err := s.ensureUser(email).mem.Status(folder, &imap.StatusOptions{UIDValidity: true})
	if err != nil {
		return 0, fmt.Errorf("imapdemo: status %q for %s: %w", folder, email, err)
	}
	return st.UIDValidity, nil
}
