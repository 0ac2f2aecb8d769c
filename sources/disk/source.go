package disk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/y360"
)

// ContainerName is the one container each user's Disk is stored in.
const ContainerName = "disk"

// Source backs up users' Yandex Disk files over the REST API.
type Source struct {
	cfg Config
	api *y360.Doer // the API host: listings, download links
	dl  *y360.Doer // the download host: file bodies
}

var _ sources.Source = (*Source)(nil)

// New returns a Disk source. Zero fields of cfg take their defaults; call
// cfg.Validate first (Backup refuses an invalid Config). httpClient may be
// nil, which means a client with connection and response-header timeouts
// but no overall timeout: bodies of large files legitimately take long, and
// a stalled body is cut by Config.StallTimeout instead. A client passed in
// should likewise have Timeout 0. One Source serves many users at once; its
// rate limits hold across all of them.
func New(cfg Config, httpClient *http.Client) *Source {
	cfg = cfg.withDefaults()
	if httpClient == nil {
		httpClient = defaultClient()
	}
	var opts []y360.DoerOption
	if cfg.MinBackoff > 0 || cfg.MaxBackoff > 0 {
		opts = append(opts, y360.WithBackoff(cfg.MinBackoff, cfg.MaxBackoff))
	}
	return &Source{
		cfg: cfg,
		api: y360.NewDoer(httpClient, cfg.RPS, cfg.MaxRetries, opts...),
		dl:  y360.NewDoer(httpClient, cfg.DownloadRPS, cfg.MaxRetries, opts...),
	}
}

func defaultClient() *http.Client {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute, // Yandex may hash big files before answering
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: t}
}

// Name implements sources.Source.
func (s *Source) Name() string { return "disk" }

// Meta is the metadata recorded with every file (Item.Meta), as the API
// reported it at backup time.
type Meta struct {
	Path       string `json:"path"` // "disk:/a/b.txt", also the Item ID
	Size       int64  `json:"size"`
	MD5        string `json:"md5,omitempty"`
	SHA256     string `json:"sha256,omitempty"`
	Modified   string `json:"modified,omitempty"` // ISO 8601, verbatim
	Created    string `json:"created,omitempty"`
	MimeType   string `json:"mime_type,omitempty"`
	ResourceID string `json:"resource_id,omitempty"`
	// OriginalModified is the time Config.ModifiedProperty held: the file
	// was put there by a restore, so Modified is the restore's time and
	// this one the file's own. A later restore keeps it.
	OriginalModified string `json:"original_modified,omitempty"`
}

// Cursor is the container's resume state. The listing is the source of
// truth, so it only says how far the last runs got; a run cut mid-way
// resumes without downloading again because finished files are already in
// the container (or their bodies in the store, found by hash). It holds no
// times (the snapshot has them), so a run that changed nothing leaves it
// byte-identical and the repository writes nothing.
type Cursor struct {
	Version  int  `json:"v"`
	Listed   int  `json:"listed"`   // files it had listed when committing
	Complete bool `json:"complete"` // it listed everything and recorded deletions
}

// Backup implements sources.Source: it lists every file of the user, stores
// new and changed ones, records deletions, and commits as it goes. It
// returns an error only when the user as a whole failed (listing impossible,
// token refused twice, ctx done); a file that fails is recorded with st.Fail
// naming its path and the run goes on.
func (s *Source) Backup(ctx context.Context, u sources.User, tok sources.TokenSource, st sources.Store) error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	who := u.Email
	if who == "" {
		who = u.ID
	}
	c, err := st.Open(ctx, ContainerName)
	if err != nil {
		return fmt.Errorf("disk: user %s: open container: %w", who, err)
	}
	defer c.Close()
	r := &run{src: s, cfg: s.cfg, tok: tok, st: st, c: c, who: who, reported: map[string]struct{}{}}
	r.cur = Cursor{Version: 1}
	err = r.backup(ctx)
	if err != nil {
		// Keep what was stored, the cursor saying "incomplete". A cancelled
		// run writes nothing more: bodies already stored are found by hash
		// next time, so nothing is downloaded twice anyway.
		if ctx.Err() == nil {
			if cerr := c.Commit(ctx, r.cur); cerr != nil {
				err = errors.Join(err, fmt.Errorf("disk: user %s: commit: %w", who, cerr))
			}
		}
		return err
	}
	r.cur.Complete = true
	if err := c.Commit(ctx, r.cur); err != nil {
		return fmt.Errorf("disk: user %s: commit: %w", who, err)
	}
	return nil
}
