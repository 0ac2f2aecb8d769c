package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/sources"
)

// selectionFlags are the item filters shared by restore and export.
type selectionFlags struct {
	users      []string
	sources    []string
	containers []string
	since      string
	until      string
	messageID  string
}

func (f *selectionFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&f.users, "user", "u", nil, "user (email or uid) to take items from; repeatable; default all")
	cmd.Flags().StringArrayVar(&f.sources, "source", nil, "mail, calendar, disk or contacts; repeatable; default all")
	cmd.Flags().StringArrayVar(&f.containers, "folder", nil, "folder, calendar or Disk container name glob; repeatable")
	cmd.Flags().StringVar(&f.since, "since", "", "only items dated at or after this time")
	cmd.Flags().StringVar(&f.until, "until", "", "only items dated before this time")
	cmd.Flags().StringVar(&f.messageID, "message-id", "", "only the mail with this Message-Id")
}

func (f *selectionFlags) selection() (backup.Selection, error) {
	sel := backup.Selection{Users: f.users, Sources: f.sources, Containers: f.containers, MessageID: f.messageID}
	var err error
	if f.since != "" {
		if sel.Since, err = parseTime(f.since); err != nil {
			return sel, fmt.Errorf("%w: --since: %v", errUsage, err)
		}
	}
	if f.until != "" {
		if sel.Until, err = parseTime(f.until); err != nil {
			return sel, fmt.Errorf("%w: --until: %v", errUsage, err)
		}
	}
	if !sel.Since.IsZero() && !sel.Until.IsZero() && !sel.Since.Before(sel.Until) {
		return sel, fmt.Errorf("%w: --since %s is not before --until %s: nothing would be selected", errUsage, f.since, f.until)
	}
	for _, name := range f.sources {
		if !slices.Contains(sourceNames, name) {
			return sel, fmt.Errorf("%w: --source %q: want one of %s", errUsage, name, strings.Join(sourceNames, ", "))
		}
	}
	return sel, nil
}

// sourceNames are the names --source accepts (the sources' item names in
// snapshots); a new source adds its name here.
var sourceNames = []string{"mail", "calendar", "disk", "contacts", "org"}

type restoreOptions struct {
	snapshotFlags
	selectionFlags
	toUser  string
	inPlace bool
	policy  string
}

func newRestoreCommand(g *globalOptions) *cobra.Command {
	var opts restoreOptions
	cmd := &cobra.Command{
		Use: "restore",
		Example: `  y360backup restore -u alice@example.com --source mail --folder INBOX
  y360backup restore -u alice@example.com --at 2026-11-20 --in-place --policy skip
  y360backup restore -u alice@example.com --to-user bob@example.com --since 2026-11-01`,
		Short: "Write backed-up items back into accounts (by default into a new 'Restored <time>' place)",
		Long: `Restores mail (IMAP APPEND with the original flags and date), calendar objects (CalDAV PUT),
Disk files (upload) and contacts (CardDAV PUT) from a snapshot. By default nothing is overwritten:
items go under a new "Restored <snapshot time>" folder/calendar/Disk folder/address book. --in-place writes into the original
places with a collision policy: skip (default: equal items already there are left alone),
copy (always another copy) or replace. A restore that was cut off can simply be run again:
what it already wrote is recognised and skipped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch opts.policy {
			case sources.PolicySkip, sources.PolicyCopy, sources.PolicyReplace:
			default:
				return fmt.Errorf("%w: --policy %q: use skip, copy or replace", errUsage, opts.policy)
			}
			sel, err := opts.selection()
			if err != nil {
				return err
			}
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			log, err := newLogger(cfg)
			if err != nil {
				return err
			}
			repo, err := openReadRepo(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer repo.Close()
			snap, err := opts.find(cmd, repo)
			if err != nil {
				return err
			}
			announce(cmd, snap)
			hc := politeTransport(cfg, nil).Client()
			org, err := newOrgClient(cfg, hc)
			if err != nil {
				return err
			}
			srcs, err := buildSources(cfg, org, hc)
			if err != nil {
				return err
			}
			ro := backup.RestoreOptions{Snapshot: snap, Selection: sel, InPlace: opts.inPlace, Policy: opts.policy,
				Restorers: restorers(srcs), Log: log,
				Tokens: func(u sources.User) sources.TokenSource { return org.Tokens(u) }}
			if opts.toUser != "" {
				u, err := findUser(cmd, org, opts.toUser)
				if err != nil {
					return err
				}
				ro.ToUser = &u
			}
			rep, err := repo.Restore(cmd.Context(), ro)
			if rep != nil {
				printRestore(cmd, g, snap, rep)
			}
			if rep == nil {
				return err
			}
			return finished(err, rep.Failed, "restore", "restored")
		},
	}
	opts.snapshotFlags.add(cmd)
	opts.selectionFlags.add(cmd)
	cmd.Flags().StringVar(&opts.toUser, "to-user", "", "restore into this user's account instead (email or uid)")
	cmd.Flags().BoolVar(&opts.inPlace, "in-place", false, "restore into the original folders/calendars/paths")
	cmd.Flags().StringVar(&opts.policy, "policy", sources.PolicySkip, "when an item exists at the destination: skip, copy or replace")
	return cmd
}

func printRestore(cmd *cobra.Command, g *globalOptions, snap *backup.Snapshot, rep *backup.RestoreReport) {
	out := cmd.OutOrStdout()
	if g.json {
		printJSON(out, rep)
		return
	}
	fmt.Fprintf(out, "restore from snapshot %s into %s: %d containers, %d items selected (%s), %d written, %d already there, %d failed\n",
		snap.ID, rep.Target, rep.Containers, rep.Items, humanBytes(rep.Bytes), rep.Written, rep.Items-rep.Written-rep.Failed, rep.Failed)
	for _, f := range rep.Failures {
		fmt.Fprintln(out, "  FAILED:", f)
	}
}

// restorers collects the sources that can restore.
func restorers(srcs []sources.Source) map[string]sources.Restorer {
	out := map[string]sources.Restorer{}
	for _, s := range srcs {
		if r, ok := s.(sources.Restorer); ok {
			out[s.Name()] = r
		}
	}
	return out
}

// findUser looks a user up in the organization by email or uid.
func findUser(cmd *cobra.Command, org backup.UserLister, who string) (sources.User, error) {
	var found *sources.User
	err := org.ListUsers(cmd.Context(), func(u sources.User) error {
		if strings.EqualFold(u.Email, who) || u.ID == who {
			found = &u
			return errFound
		}
		return nil
	})
	if found != nil {
		return *found, nil
	}
	if err != nil {
		return sources.User{}, err
	}
	return sources.User{}, fmt.Errorf("%w: no user %q in the organization", errUsage, who)
}

var errFound = errors.New("found")
