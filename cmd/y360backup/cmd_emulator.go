package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/y360backup/y360backup/internal/y360emu"
)

type emulatorOptions struct {
	addr          string
	tokenLifetime time.Duration
	usersFile     string
	benchTokens   bool
}

func newEmulatorCommand() *cobra.Command {
	var opts emulatorOptions
	cmd := &cobra.Command{
		Use: "emulator",
		Example: `  y360backup emulator
  y360backup emulator --addr 127.0.0.1:9090 --users-file users.txt --token-lifetime 5m`,
		Short: "Serve the Yandex 360 API emulator (for tests and manual trials; not a real Yandex service)",
		Long: `Serves an emulated Yandex 360 organization: OAuth token exchange, Directory users,
service applications, the organization's objects (departments, groups, domains, shared
mailboxes, routing rules, mail settings: the demo org's), /whoami and a token introspection endpoint (POST /introspect)
that Dovecot's oauth2 passdb and the test Radicale call. Tokens are HMAC-signed with
$Y360_TEST_EMU_KEY (default key "y360emu-demo-key"), so emulators sharing a key accept
each other's tokens.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o := y360emu.DefaultOrg()
			if opts.tokenLifetime > 0 {
				o.TokenLifetime = opts.tokenLifetime
			}
			o.BenchTokens = opts.benchTokens
			if opts.usersFile != "" {
				users, err := readUsersFile(opts.usersFile)
				if err != nil {
					return err
				}
				o.Users = users
			}
			srv := y360emu.New(o)
			fmt.Fprintf(cmd.ErrOrStderr(), "y360backup emulator: org %s on http://%s (client id %q)\n",
				srv.OrgID(), opts.addr, o.ClientID)
			return srv.ListenAndServe(cmd.Context(), opts.addr)
		},
	}
	cmd.Flags().StringVar(&opts.addr, "addr", "127.0.0.1:8089", "listen address")
	cmd.Flags().DurationVar(&opts.tokenLifetime, "token-lifetime", 0, "lifetime of minted tokens (default 1h)")
	cmd.Flags().StringVar(&opts.usersFile, "users-file", "", "the org's users: one email per line (default: the demo org)")
	cmd.Flags().BoolVar(&opts.benchTokens, "bench-tokens", false, `mint "valid-<email>" tokens, as the bench harness's Dovecot expects (insecure: tests only)`)
	return cmd
}

// readUsersFile reads one email per line (blank lines and # comments skipped).
func readUsersFile(path string) ([]y360emu.User, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var users []y360emu.User
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		users = append(users, y360emu.User{ID: fmt.Sprintf("1130000%09d", len(users)+1), Email: line})
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("%s: no users", path)
	}
	return users, nil
}
