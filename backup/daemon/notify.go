package daemon

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// Notifier sends state changes to systemd over the datagram socket named by
// $NOTIFY_SOCKET (sd_notify(3)): READY=1 once the daemon serves, WATCHDOG=1
// on every loop heartbeat, STOPPING=1 when shutting down, STATUS=... for
// `systemctl status`. A nil *Notifier (not under systemd) ignores every call.
type Notifier struct {
	addr string
}

// NewNotifier returns a Notifier for socket, the value of $NOTIFY_SOCKET, or
// nil when it is empty. A leading "@" names an abstract socket.
func NewNotifier(socket string) *Notifier {
	if socket == "" {
		return nil
	}
	if socket[0] == '@' {
		socket = "\x00" + socket[1:]
	}
	return &Notifier{addr: socket}
}

// Notify sends one state string such as "READY=1" or "STATUS=idle".
func (n *Notifier) Notify(state string) error {
	if n == nil {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}

// WatchdogInterval reads $WATCHDOG_USEC and $WATCHDOG_PID (passed as
// strings) and returns how often systemd expects WATCHDOG=1 from process
// pid, or 0 when the watchdog is off or meant for another process.
func WatchdogInterval(usec, wpid string, pid int) time.Duration {
	if usec == "" {
		return 0
	}
	if wpid != "" {
		p, err := strconv.Atoi(wpid)
		if err != nil || p != pid {
			return 0
		}
	}
	u, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || u <= 0 {
		return 0
	}
	return time.Duration(u) * time.Microsecond
}
