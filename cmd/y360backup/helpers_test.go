package main

import (
	"context"
	"testing"

	"github.com/y360backup/y360backup/backup"
	fssink "github.com/y360backup/y360backup/sinks/fs"
)

func openTestRepo(t *testing.T, dir string) *backup.Repository {
	t.Helper()
	c := fssink.NewConfig()
	c.Path = dir
	s, err := fssink.Open(c)
	if err != nil {
		t.Fatal(err)
	}
	r, err := backup.Open(context.Background(), s, backup.RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// countItems counts the items of one container of one user in a snapshot.
func countItems(t *testing.T, r *backup.Repository, snap *backup.Snapshot, email, container string) int {
	t.Helper()
	n := 0
	err := r.Select(context.Background(), snap, backup.Selection{Users: []string{email}, Sources: []string{"mail"}, Containers: []string{container}},
		func(sc backup.SelectedContainer) error {
			if sc.Head.Name == container {
				n += len(sc.Items)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
