package calendar

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/sources"
)

func TestRestoredSegment(t *testing.T) {
	a := restoredSegment("Restored 2026-11-25 12.00", "events-default")
	tests := []struct {
		name      string
		got       string
		wantEqual bool
	}{
		{"rerun gets the same collection", restoredSegment("Restored 2026-11-25 12.00", "events-default"), true},
		{"another snapshot, another collection", restoredSegment("Restored 2026-11-26 12.00", "events-default"), false},
		{"another original, another collection", restoredSegment("Restored 2026-11-25 12.00", "todos-1"), false},
		{"no ambiguity from joining", restoredSegment("Restored 2026-11-25 12.00e", "vents-default"), false},
	}
	for _, tt := range tests {
		if (tt.got == a) != tt.wantEqual {
			t.Errorf("%s: %q vs %q", tt.name, tt.got, a)
		}
	}
	if !strings.HasPrefix(a, "restored-") || len(a) != len("restored-")+12 || strings.ContainsAny(a, " /%") {
		t.Errorf("segment %q: want restored-<12 hex>", a)
	}
}

func TestMkcalendarBody(t *testing.T) {
	b := string(mkcalendarBody(calendarSpec{DisplayName: "Restored — Работа & <встречи>", Color: "#ff7b00", Components: []string{"VTODO"}}))
	for _, want := range []string{
		"<D:displayname>Restored — Работа &amp; &lt;встречи&gt;</D:displayname>",
		"<I:calendar-color>#ff7b00</I:calendar-color>",
		`<C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set>`,
	} {
		if !strings.Contains(b, want) {
			t.Errorf("body lacks %s:\n%s", want, b)
		}
	}
	if b := string(mkcalendarBody(calendarSpec{})); strings.Contains(b, "displayname") || strings.Contains(b, "component-set") {
		t.Errorf("empty spec sets properties: %s", b)
	}
}

func TestComponentsOf(t *testing.T) {
	item := func(m itemMeta) sources.RestoreItem {
		b, _ := json.Marshal(m)
		return sources.RestoreItem{Item: sources.Item{Meta: b}}
	}
	got := componentsOf([]sources.RestoreItem{
		item(itemMeta{Component: "VTODO"}), item(itemMeta{Component: "VEVENT"}), item(itemMeta{Component: "VTODO"}),
		item(itemMeta{Component: "VJUNK", Malformed: true}), {Item: sources.Item{Meta: []byte(`not json`)}},
	})
	if strings.Join(got, ",") != "VEVENT,VTODO" {
		t.Errorf("componentsOf = %v", got)
	}
	if got := componentsOf(nil); got != nil {
		t.Errorf("no items: %v", got)
	}
}
