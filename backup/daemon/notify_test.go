package daemon_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/y360backup/y360backup/backup/daemon"
)

func TestNotifier(t *testing.T) {
	abstract := fmt.Sprintf("@y360backup-test-%d", os.Getpid())
	for name, addr := range map[string]string{
		"path":     filepath.Join(t.TempDir(), "notify.sock"),
		"abstract": abstract,
	} {
		t.Run(name, func(t *testing.T) {
			listen := addr
			if listen[0] == '@' {
				listen = "\x00" + listen[1:]
			}
			conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: listen, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			n := daemon.NewNotifier(addr)
			for _, msg := range []string{"READY=1", "WATCHDOG=1", "STOPPING=1"} {
				if err := n.Notify(msg); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 256)
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				k, err := conn.Read(buf)
				if err != nil || string(buf[:k]) != msg {
					t.Errorf("got %q, %v; want %q", buf[:k], err, msg)
				}
			}
		})
	}
	var none *daemon.Notifier = daemon.NewNotifier("")
	if none != nil || none.Notify("READY=1") != nil {
		t.Error("without NOTIFY_SOCKET Notify must be a silent no-op")
	}
	if err := daemon.NewNotifier(filepath.Join(t.TempDir(), "missing")).Notify("READY=1"); err == nil {
		t.Error("a missing socket must be an error")
	}
}

func TestWatchdogInterval(t *testing.T) {
	tests := []struct {
		usec, pid string
		want      time.Duration
	}{
		{"", "", 0},
		{"30000000", "", 30 * time.Second},
		{"30000000", "4242", 30 * time.Second},
		{"30000000", "1", 0}, // meant for another process
		{"junk", "", 0},
		{"-5", "", 0},
	}
	for _, tt := range tests {
		if got := daemon.WatchdogInterval(tt.usec, tt.pid, 4242); got != tt.want {
			t.Errorf("WatchdogInterval(%q, %q) = %s, want %s", tt.usec, tt.pid, got, tt.want)
		}
	}
}
