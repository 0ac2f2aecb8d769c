package caldavdemo

import (
	"fmt"
	"strings"
	"time"
)

// Demo calendar names, shaped like Yandex's (events-default, events-<id>, todos-<id>).
const (
	DemoDefault = "events-default"
	DemoWork    = "events-21904"
	DemoTodos   = "todos-7731"
)

// DemoCalendar is one collection of the demo set.
type DemoCalendar struct {
	Name string // path segment
	Info CalendarInfo
}

// DemoObject is one object of the demo set.
type DemoObject struct {
	Calendar, Name string
	ICS            string // CRLF line ends
}

// DemoCalendars returns the demo set's collections, the default one first
// (every Yandex user has it; New creates it for each user).
func DemoCalendars() []DemoCalendar {
	return []DemoCalendar{
		{DemoDefault, CalendarInfo{DisplayName: "Мои события", Color: "#49a2ff", Components: []string{"VEVENT"}}},
		{DemoWork, CalendarInfo{DisplayName: "Работа и встречи", Color: "#ff7b00", Description: "Рабочий календарь", Components: []string{"VEVENT"}}},
		{DemoTodos, CalendarInfo{DisplayName: "Не забыть", Color: "#2bb24c", Components: []string{"VTODO"}}},
	}
}

// DemoObjects returns the demo set's objects, so tests can seed other
// servers (Radicale) with the same data.
func DemoObjects() []DemoObject {
	return []DemoObject{
		{DemoDefault, "1716201145402.ics", crlf(recurring)},
		{DemoDefault, "b6f4d1c0a7e24d52yandex.ru.ics", crlf(telemost)},
		{DemoWork, "2f9a0c.ics", crlf(allDay)},
		{DemoTodos, "task-1.ics", crlf(todoOpen)},
		{DemoTodos, "task-2.ics", crlf(todoDone)},
	}
}

// SeedDemo gives email the demo set: a weekly recurring meeting with a moved
// and a cancelled occurrence (RECURRENCE-ID override, EXDATE), an event with
// Telemost conference properties, a calendar with a Cyrillic display name,
// and a task list with open and completed todos. Object names are not the
// UIDs (numeric names, Yandex-style "…yandex.ru.ics"), as on Yandex.
func SeedDemo(s *Server, email string) error {
	s.AddUser(email)
	for _, c := range DemoCalendars()[1:] {
		if err := s.CreateCalendar(email, c.Name, c.Info); err != nil {
			return err
		}
	}
	for _, o := range DemoObjects() {
		if _, err := s.PutObject(email, o.Calendar, o.Name, []byte(o.ICS)); err != nil {
			return err
		}
	}
	return nil
}

// SeedBulk adds n generated one-hour events to calendar (creating it if
// needed), named "bulk-<i>.ics" with UIDs that differ from the names.
func SeedBulk(s *Server, email, calendar string, n int) error {
	s.AddUser(email)
	if !contains(s.Calendars(email), calendar) {
		if err := s.CreateCalendar(email, calendar, CalendarInfo{DisplayName: "Bulk " + calendar}); err != nil {
			return err
		}
	}
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		if _, err := s.PutObject(email, calendar, fmt.Sprintf("bulk-%d.ics", i), []byte(BulkEvent(i, start.Add(time.Duration(i)*time.Hour)))); err != nil {
			return err
		}
	}
	return nil
}

// BulkEvent is a small VEVENT used by bulk seeds and tests.
func BulkEvent(i int, start time.Time) string {
	const f = "20060102T150405Z"
	return crlf(fmt.Sprintf(`BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Yandex LLC//Yandex Calendar//EN
BEGIN:VEVENT
UID:%08x-bulk@yandex.ru
DTSTAMP:20260101T000000Z
DTSTART:%s
DTEND:%s
SUMMARY:Встреча №%d
DESCRIPTION:Generated event %d
END:VEVENT
END:VCALENDAR
`, i*7919+1, start.Format(f), start.Add(time.Hour).Format(f), i, i))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

const recurring = `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Yandex LLC//Yandex Calendar//EN
BEGIN:VTIMEZONE
TZID:Europe/Moscow
BEGIN:STANDARD
DTSTART:19700101T000000
TZOFFSETFROM:+0300
TZOFFSETTO:+0300
TZNAME:MSK
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
UID:Rp8kvzXByandex.ru
DTSTAMP:20260110T080000Z
DTSTART;TZID=Europe/Moscow:20260112T110000
DTEND;TZID=Europe/Moscow:20260112T113000
RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=20
EXDATE;TZID=Europe/Moscow:20260126T110000
SUMMARY:Планёрка
ORGANIZER;CN=Анна Петрова:mailto:anna@example.org
ATTENDEE;CN=Борис;PARTSTAT=ACCEPTED:mailto:boris@example.org
SEQUENCE:2
END:VEVENT
BEGIN:VEVENT
UID:Rp8kvzXByandex.ru
RECURRENCE-ID;TZID=Europe/Moscow:20260202T110000
DTSTAMP:20260110T080000Z
DTSTART;TZID=Europe/Moscow:20260203T150000
DTEND;TZID=Europe/Moscow:20260203T153000
SUMMARY:Планёрка (перенесена на вторник)
SEQUENCE:3
END:VEVENT
END:VCALENDAR
`

const telemost = `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Yandex LLC//Yandex Calendar//EN
BEGIN:VEVENT
UID:5c1bd2e8-1f0a-4d4e-9b7e-telemost@yandex.ru
DTSTAMP:20260110T080000Z
DTSTART:20260115T120000Z
DTEND:20260115T130000Z
SUMMARY:Созвон в Телемосте
DESCRIPTION:Ссылка на встречу: https://telemost.yandex.ru/j/12345678901234
LOCATION:https://telemost.yandex.ru/j/12345678901234
X-TELEMOST-CONFERENCE:https://telemost.yandex.ru/j/12345678901234
X-TELEMOST-REQUIRED:TRUE
X-YANDEX-RESOURCES:Переговорка «Юпитер»
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:Reminder
TRIGGER:-PT10M
END:VALARM
END:VEVENT
END:VCALENDAR
`

const allDay = `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Yandex LLC//Yandex Calendar//EN
BEGIN:VEVENT
UID:all-day-7e3f@yandex.ru
DTSTAMP:20260110T080000Z
DTSTART;VALUE=DATE:20260301
DTEND;VALUE=DATE:20260302
SUMMARY:Квартальный отчёт; сдать до 18:00\, без опозданий
CATEGORIES:работа,отчёты
END:VEVENT
END:VCALENDAR
`

const todoOpen = `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Yandex LLC//Yandex Calendar//EN
BEGIN:VTODO
UID:todo-77a1@yandex.ru
DTSTAMP:20260110T080000Z
DUE;VALUE=DATE:20260120
SUMMARY:Продлить пропуск
STATUS:NEEDS-ACTION
PRIORITY:1
END:VTODO
END:VCALENDAR
`

const todoDone = `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Yandex LLC//Yandex Calendar//EN
BEGIN:VTODO
UID:todo-77a2@yandex.ru
DTSTAMP:20260110T080000Z
SUMMARY:Купить воду в офис
STATUS:COMPLETED
COMPLETED:20260111T101500Z
PERCENT-COMPLETE:100
END:VTODO
END:VCALENDAR
`
