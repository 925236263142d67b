// Package config reads cronguard's two configs: the local JSON file
// (/etc/cronguard/config.json, or switchman's /etc/switchman.conf used
// unchanged) and the fleet config stored as JSON in the <prefix> znode
// (groups of hosts, lease resources).
//
// Errors are one line, name their source, and wrap ErrInvalid when the
// content is wrong (so callers can map them to exit code 125); a missing
// local file also satisfies errors.Is(err, fs.ErrNotExist). Helpers meant
// for flags (ParseDuration, ParseZKHosts, ValidatePrefix,
// NormalizeLogLevel) return messages without a subject, e.g. "must be a
// number of seconds, got \"abc\"", for the caller to prefix with the flag
// name.
package config
