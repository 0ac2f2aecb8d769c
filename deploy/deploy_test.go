// Package deploy_test checks the operator files against the binary: the
// Grafana dashboard must be valid JSON whose every query names only
// metrics the daemon registers, and so must the Prometheus rules. The
// rules' behaviour is tested by promtool (scripts/test.sh).
package deploy_test

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/metrics"
)

const (
	dashboardFile = "grafana/y360backup.json"
	rulesFile     = "prometheus/y360backup.rules.yml"
)

// exported returns every metric name the daemon's registry serves. A
// vector appears only once it has a series, so every hook is called once;
// a new metric used by a dashboard needs its hook called here too.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	m := metrics.New(metrics.Options{Version: "test"})
	m.RunStarted("j")
	m.Start("j", 1)
	m.UserDone("j", backup.UserSnapshot{ID: "1", Email: "a@example.com", Sources: map[string]*backup.SourceSnapshot{
		"mail":     {Status: backup.StatusPartial, Stats: backup.Stats{Items: 1, Bytes: 1, Failed: 1}},
		"calendar": {Status: backup.StatusFailed},
	}})
	m.RunFinished("j", "ok", true, time.Second)
	m.Skipped("j")
	m.Next("j", time.Now())
	m.Heartbeat(time.Now())
	m.Reload(nil)
	m.HTTP("h", 429, time.Second, true)
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		n := f.GetName()
		names[n] = true
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			names[n+"_bucket"], names[n+"_sum"], names[n+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[n+"_sum"], names[n+"_count"] = true, true
		}
	}
	return names
}

// checkNames fails for every metric an expression names that is not exported.
func checkNames(t *testing.T, where string, exprs []string, have map[string]bool) {
	t.Helper()
	if len(exprs) == 0 {
		t.Fatalf("%s: no PromQL expressions found", where)
	}
	for _, p := range unknownNames(exprs, have) {
		t.Errorf("%s: %s", where, p)
	}
}

// unknownNames describes each metric named by exprs that have lacks, and
// each expression that names no metric at all (a lexer slip would hide names).
func unknownNames(exprs []string, have map[string]bool) []string {
	var problems []string
	for _, e := range exprs {
		names := metricNames(e)
		if len(names) == 0 {
			problems = append(problems, "expression names no metric: "+e)
		}
		for _, n := range names {
			if !have[n] {
				problems = append(problems, n+" is not a metric the binary exports (renamed? or add its hook to exported())\n  in: "+e)
			}
		}
	}
	return problems
}

func TestDashboardReferencesOnlyExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardFile, err)
	}
	if err := d.validate(); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	checkNames(t, dashboardFile, d.exprs(), exported(t))
}

func TestRulesReferenceOnlyExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert  string `yaml:"alert"`
				Record string `yaml:"record"`
				Expr   string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	var exprs []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	checkNames(t, rulesFile, exprs, exported(t))
}

// dashboard is the part of Grafana's dashboard model the test reads.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID      int     `json:"id"`
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"` // collapsed rows hold theirs
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

func (d *dashboard) all() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// validate checks what Grafana needs to import the dashboard and to tell
// its panels and queries apart.
func (d *dashboard) validate() error {
	var errs []error
	if d.UID == "" || d.Title == "" {
		errs = append(errs, errors.New("uid and title must be set"))
	}
	ids := map[int]bool{}
	for _, p := range d.all() {
		if p.ID == 0 || ids[p.ID] {
			errs = append(errs, errors.New("panel "+p.Title+": id missing or repeated"))
		}
		ids[p.ID] = true
		if p.Type != "row" && len(p.Targets) == 0 {
			errs = append(errs, errors.New("panel "+p.Title+": no queries"))
		}
		var refs []string
		for _, tg := range p.Targets {
			if tg.Expr == "" || tg.RefID == "" || slices.Contains(refs, tg.RefID) {
				errs = append(errs, errors.New("panel "+p.Title+": a query without expr or with an empty or repeated refId"))
			}
			refs = append(refs, tg.RefID)
		}
	}
	return errors.Join(errs...)
}

// labelValues matches Grafana's label_values(expr, label) variable query.
var labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$`)

// exprs returns every PromQL expression: panel queries and query variables.
func (d *dashboard) exprs() []string {
	var out []string
	for _, p := range d.all() {
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		if json.Unmarshal(v.Query, &q) != nil {
			var obj struct{ Query string }
			_ = json.Unmarshal(v.Query, &obj)
			q = obj.Query
		}
		if m := labelValues.FindStringSubmatch(q); m != nil {
			q = m[1]
		}
		out = append(out, q)
	}
	return out
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`rate(a_total{x="y", z=~"b{c}"}[5m])`, []string{"a_total"}},
		{`sum by (job, le) (rate(h_bucket[$__rate_interval])) / on(job) group_left(v) b`, []string{"h_bucket", "b"}},
		{`time() - m{instance=~"$instance"} > 26 * 3600 and bool x offset 5m`, []string{"m", "x"}},
		{`count(a > $rpo_hours * 3600) or vector(0)`, []string{"a"}},
		{`{__name__="named_metric", job="j"}`, []string{"named_metric"}},
		{`histogram_quantile(0.9, sum without (instance) (rate(d_seconds_bucket[1h]))) > 1e3`, []string{"d_seconds_bucket"}},
		{`label_replace(a, "dst", "$1", "src", "(.*)") + ${var}`, []string{"a"}},
	}
	for _, tt := range tests {
		got := metricNames(tt.expr)
		if !slices.Equal(got, tt.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}

// TestCheckNamesCatchesRename makes sure the check can fail: a dashboard
// naming a metric the binary does not export is reported.
func TestCheckNamesCatchesRename(t *testing.T) {
	have := exported(t)
	for _, want := range []string{"y360backup_user_last_success_timestamp_seconds", "y360backup_run_duration_seconds_bucket", "process_resident_memory_bytes"} {
		if !have[want] {
			t.Errorf("exported() lacks %s; got %v", want, keys(have))
		}
	}
	if have["y360backup_user_last_success_seconds"] {
		t.Fatal("a metric that does not exist is reported as exported")
	}
	bad := []string{`time() - y360backup_user_last_success_seconds > 3600`, `y360backup_last_run_success == 0`}
	got := unknownNames(bad, have)
	if len(got) != 1 || !strings.HasPrefix(got[0], "y360backup_user_last_success_seconds ") {
		t.Errorf("renamed metric not reported exactly once: %q", got)
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
