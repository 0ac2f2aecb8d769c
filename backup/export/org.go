package export

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"time"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/sources/org"
)

// maxOrgObject bounds one org object read for its CSV rows.
const maxOrgObject = 8 << 20

// org writes one organization container (an object kind) as one JSON file
// per object, exactly as the API returned it, under dir (<base>/<kind>,
// escaped), and the same objects as dir.csv for spreadsheets.
func (e *exporter) org(dir string, sc backup.SelectedContainer) error {
	kind := sc.Head.Name
	u := e.uniqIn(dir)
	for _, it := range sc.Items {
		e.file(sc, dir+"/"+u.name(SafeName(it.ID), ".json"), it, time.Time{})
	}
	header := org.CSVHeader(kind)
	if header == nil {
		return nil // a kind this build does not know: JSON only
	}
	w, err := e.out.create(dir+".csv", -1, time.Time{})
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	_ = cw.Write(header)
	for _, it := range sc.Items {
		rows, err := e.orgRows(kind, it)
		if err != nil {
			e.fail(sc, it.ID, fmt.Errorf("CSV: %w", err))
			continue
		}
		_ = cw.WriteAll(rows)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func (e *exporter) orgRows(kind string, it backup.ItemView) ([][]string, error) {
	rc, err := e.repo.OpenObject(context.Background(), it.Hash)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxOrgObject+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxOrgObject {
		return nil, fmt.Errorf("object larger than %d bytes", maxOrgObject)
	}
	return org.CSVRows(kind, it.ID, raw)
}
