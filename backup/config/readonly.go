package config

import (
	"os"
	"strings"
)

// LoadForReading is Load for the commands that only read the repository
// (snapshots, ls, export, verify): they never reach the organization, so
// its credentials need not be set, resolvable or readable. Every other
// problem is still reported.
func LoadForReading(file string) (*Config, error) {
	data, err := read(file)
	if err != nil {
		return nil, err
	}
	return ParseForReading(file, data, os.LookupEnv)
}

// ParseForReading is LoadForReading on bytes.
func ParseForReading(file string, data []byte, env func(string) (string, bool)) (*Config, error) {
	cfg, probs := parse(data, env)
	var keep []Problem
	for _, p := range probs {
		if !strings.HasPrefix(p.Key, "organization.") && p.Key != "organization" {
			keep = append(keep, p)
		}
	}
	if len(keep) > 0 {
		return nil, &Error{File: file, Problems: keep}
	}
	return cfg, nil
}

// ForRepository is the configuration of a command given only a repository
// (y360backup -r PATH|s3:...): every other setting at its default.
func ForRepository(r Repository) *Config {
	c := &Config{Repository: r}
	c.applyDefaults()
	return c
}

// read reads a config file; a missing or unreadable one is a config
// problem (exit code 2), named with what to do.
func read(file string) ([]byte, error) {
	data, err := readSmallFile(file, maxConfigBytes)
	if err != nil {
		msg := err.Error()
		if os.IsNotExist(err) {
			msg = "no such file: pass -c FILE or set Y360BACKUP_CONFIG (commands that only read a repository also take -r PATH|s3:BUCKET/PREFIX)"
		}
		return nil, &Error{File: file, Problems: []Problem{{Msg: msg}}}
	}
	return data, nil
}
