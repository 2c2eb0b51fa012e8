package hostfs

// Test hooks.
var (
	MaxCached     = maxCached
	CachedEntries = func(fs *FS) int { return fs.cache.len() }
)
