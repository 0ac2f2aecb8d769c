package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEveryCommandHasExamples walks the real command tree of the built
// binary (so commands added later are covered without editing this test)
// and fails on any command whose --help has no Examples section. Cobra's
// own help and completion commands are not ours to document.
func TestEveryCommandHasExamples(t *testing.T) {
	bin := harnessBinary(t)
	seen := 0
	var walk func(path []string)
	walk = func(path []string) {
		out, err := exec.Command(bin, append(path, "--help")...).CombinedOutput()
		name := strings.Join(append([]string{"y360backup"}, path...), " ")
		if err != nil {
			t.Errorf("%s --help: %v\n%s", name, err, out)
			return
		}
		seen++
		if !strings.Contains(string(out), "\nExamples:\n") {
			t.Errorf("%s --help has no examples (set Example on the cobra.Command)", name)
		}
		for _, sub := range subcommands(string(out)) {
			if sub == "help" || sub == "completion" {
				continue
			}
			walk(append(append([]string(nil), path...), sub))
		}
	}
	walk(nil)
	if seen < 15 {
		t.Errorf("walked only %d commands; the help layout may have changed", seen)
	}
}

// subcommands lists the names under "Available Commands:" in cobra's help.
func subcommands(help string) []string {
	_, rest, ok := strings.Cut(help, "\nAvailable Commands:\n")
	if !ok {
		return nil
	}
	var names []string
	for _, line := range strings.Split(rest, "\n") {
		if strings.TrimSpace(line) == "" {
			break
		}
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}
