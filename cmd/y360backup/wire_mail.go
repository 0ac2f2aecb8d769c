package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/y360backup/y360backup/backup/config"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/mail"
)

// mailSource builds the IMAP source from the config.
func mailSource(cfg *config.Config) (sources.Source, error) {
	in := cfg.Sources.Mail
	c := mail.NewConfig()
	c.Addr, c.Security, c.InsecureSkipVerify = in.Addr, in.Security, in.InsecureSkipVerify
	c.IncludeFolders, c.ExcludeFolders, c.BatchSize = in.IncludeFolders, in.ExcludeFolders, in.BatchSize
	if d := cacheDir(cfg); d != "" {
		// A rerun after a killed restore removes the copies the killed run
		// made (sources/mail/restore_dedupe.go).
		c.RestoreJournalDir = filepath.Join(d, "mail-restore-journal")
	}
	if in.AppendPipeline > 0 {
		c.AppendPipeline = in.AppendPipeline
	}
	if in.CAFile != "" {
		pem, err := os.ReadFile(in.CAFile)
		if err != nil {
			return nil, fmt.Errorf("sources.mail.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sources.mail.ca_file %s: no PEM certificate in it", in.CAFile)
		}
		host, _, _ := net.SplitHostPort(in.Addr)
		c.TLSConfig = &tls.Config{ServerName: host, RootCAs: pool, MinVersion: tls.VersionTLS12, InsecureSkipVerify: in.InsecureSkipVerify}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return mail.New(c), nil
}
