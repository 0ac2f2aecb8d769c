// Package deploy holds no code: it is the home of the operator files
// (grafana/y360backup.json, prometheus/y360backup.rules.yml) and of the
// test that keeps them in step with the metrics the binary exports.
package deploy
