package org_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/org"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// BenchmarkOrg5000Users backs up an org of 5,000 users, 200 departments and
// 500 groups of 10 members from the emulator, then again unchanged, and
// reports API requests and stored bytes per run (run with -benchtime=1x).
func BenchmarkOrg5000Users(b *testing.B) {
	o := y360emu.DefaultOrg()
	o.Users = y360emu.GenerateUsers(5000, "big.test")
	d := y360emu.OrgData{UserDepartments: map[string]int{}}
	for i := 0; i < 200; i++ {
		d.Departments = append(d.Departments, y360emu.Department{ID: i + 1, Name: fmt.Sprintf("Dept %d", i), ParentID: i / 10})
	}
	for i := 0; i < 500; i++ {
		g := y360emu.Group{ID: i + 1, Name: "Group " + strconv.Itoa(i)}
		for j := 0; j < 10; j++ {
			g.Members = append(g.Members, y360emu.Member{Type: "user", ID: o.Users[(i*10+j)%5000].ID})
		}
		d.Groups = append(d.Groups, g)
	}
	for i, u := range o.Users {
		d.UserDepartments[u.ID] = i%200 + 1
	}
	o.Org = &d
	for b.Loop() {
		e := newEnv(b, o, 1000)
		st := sourcetest.New()
		for run := 1; run <= 2; run++ {
			before := e.emu.Count("/")
			uploads, puts := st.BodyUploads, st.BodyPuts
			if err := e.src.Backup(context.Background(), sources.User{ID: "org"}, nil, st); err != nil {
				b.Fatal(err)
			}
			if len(st.Failures) > 0 {
				b.Fatal(st.Failures)
			}
			b.ReportMetric(float64(e.emu.Count("/")-before), fmt.Sprintf("requests/run%d", run))
			b.ReportMetric(float64(st.BodyUploads-uploads), fmt.Sprintf("new-bodies/run%d", run))
			b.ReportMetric(float64(st.BodyPuts-puts), fmt.Sprintf("body-puts/run%d", run))
		}
		var bytes int64
		for _, k := range org.Kinds() {
			for _, it := range st.Items(k) {
				bytes += it.Size
			}
		}
		b.ReportMetric(float64(bytes), "stored-bytes")
	}
}
