// Package safename is gomp's one rule for names that come from outside the
// process: WWIDs built from a target's VPD page 0x83 designators, aliases
// (flags, multipath.conf, the bindings file, node records), serial numbers,
// vendor strings and IQNs from discovery. A target or a local user chooses
// these bytes; gomp uses them as file names, log fields, sd_notify fields,
// metric labels and terminal output, so they are data that must never act
// as a path, a protocol line or a terminal command.
//
// Name maps any bytes to an identifier that is safe in every one of those
// places; Check refuses a user-chosen name that Name would change; Join
// builds a file path from a name and proves it stays in its directory;
// Text escapes free text (vendor strings, peer messages) for a terminal or
// a log line without losing what it said.
//
// The identifier rule follows udev's ID_SERIAL (the WWID multipath-tools
// reads by default): letters, digits and "+,-.:=@_" are kept, a space and
// every other byte (control characters, "/", "#", non-ASCII) become "_".
// Unlike udev, "#" is replaced too, since the bindings file treats it as
// the start of a comment. Names are cut at MaxLen bytes (multipath-tools'
// WWID_SIZE less its NUL), and a name that would read as "." or ".." or as
// a command-line option gets "_" in place of its first byte.
//
// The package is pure code (no I/O, goroutines or clocks), so that the
// pure iscsi/scsi package can apply the rule where WWIDs are made.
package safename
