//go:build race

package disk_test

// raceEnabled says the race detector is on: throughput numbers then measure
// instrumented code and are not meaningful against curl.
const raceEnabled = true
