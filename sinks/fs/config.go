package fs

// Config configures a filesystem sink. The zero value is usable once Path is
// set, but skips fsync; NewConfig gives the safe defaults.
type Config struct {
	// Path is the repository root directory. It is created (0700) if missing.
	Path string `yaml:"path"`
	// Fsync makes Put and Delete durable before they return: the file's data
	// and the directory entries are flushed to stable storage. Turn it off
	// only for tests or throwaway repositories.
	Fsync bool `yaml:"fsync"`
}

// NewConfig returns a Config with the defaults: fsync on.
func NewConfig() Config {
	return Config{Fsync: true}
}
