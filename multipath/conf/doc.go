// Package conf reads multipath.conf, multipath-tools' configuration file,
// for package multipath. Parse and Load return a File: its defaults,
// devices (Device), overrides, multipaths (Multipath) and blacklists.
// File.Lookup layers them into one LUN's multipath.Settings,
// File.Blacklisted applies the blacklists, and File.Show prints the
// configuration back ("gomp config show"). A *File is a
// multipath.ConfigFile, for multipath.Config.File. The tunables
// themselves (multipath.Settings, NoPathRetry, Failback, …) and the
// device logic live in package multipath, which does not import this one.
//
// # Reading
//
// Parse reads multipath.conf the way multipath-tools' parser does
// (checked against multipath-tools 0.14 libmpathutil/parser.c,
// libmultipath/dict.c and config.c): line by line, one statement per
// line; words end at white space, non-ASCII bytes, braces, quotes and
// comment marks (# or !), except inside double quotes ("" stands for one
// quote). A section keyword (defaults, blacklist, blacklist_exceptions,
// devices, device, multipaths, multipath) opens its section even without
// its "{"; overrides and protocol need it. Anything after a value, or
// after a section's "{", is ignored, a "}" included, so "defaults { a 1 }"
// on one line leaves defaults open. A keyword unknown in its section opens
// nothing: the lines after "unknown {" stay in the enclosing section and
// the next "}" closes that. A quote left open runs to the end of its line;
// a stray "}" at the top level and a section still open at the end of the
// file are tolerated; lines longer than 1022 bytes are read in 1023-byte
// pieces; a carriage return ends a line. Every such slip is a Warning
// naming FILE:LINE, and the file is read as multipath-tools reads it.
//
// Honoured: path_selector (round-robin, queue-length, service-time with
// argument count 0), path_grouping_policy, failback, no_path_retry,
// rr_min_io_rq, polling_interval, max_polling_interval, checker_timeout,
// user_friendly_names, alias_prefix, bindings_file, alias, find_multipaths
// (recorded; it only warns), san_path_err_threshold, _forget_rate,
// _recovery_time, prio (alua, const; sysfs read as alua), path_checker
// (tur) and features "1 queue_if_no_path" (no_path_retry queue when no
// layer sets no_path_retry). Devices entries match vendor and product as
// unanchored POSIX extended regular expressions; an entry without either
// is dropped, entries with the same strings merge into the later one, and
// product_blacklist blacklists. Blacklists honour wwid, device and
// protocol (matched against "scsi:iscsi"), with "!" inverting a pattern.
// Layering is defaults < devices (file order) < overrides < multipaths,
// with multipath.Config's own Settings above all; repeated keywords,
// sections and multipaths entries for one WWID: the later value wins.
//
// Warnings, the file still loads: slips as above, unknown keywords,
// obsolete ones (default_selector, devnode_blacklist, udev_dir, …) and
// deprecated ones (getuid_callout, pg_timeout, …), keywords with no
// meaning here (udev, sysfs and kernel tunables, devnode and property
// blacklists, hardware_handler, the overrides protocol section, revision,
// which gomp does not compare), values multipath-tools accepts that gomp
// does not implement (other checkers, prioritizers, selectors, features),
// and values multipath-tools itself ignores (a path_selector or features
// without its argument count, failback 0). Errors, the file is refused
// (Parse returns one *SyntaxError per line, joined): a value a known
// keyword cannot take (no_path_retry banana, a negative interval, an
// unknown path_grouping_policy, checker or prioritizer, a slash in an
// alias) and a regular expression that does not compile; multipath-tools
// would ignore the former with a message and refuse the whole file for
// the latter in blacklists.
//
// # Showing
//
// Show prints the configuration in multipath.conf syntax, as
// "multipath -t" does: the whole file with built-in defaults filled in,
// or one LUN's effective settings, optionally with where each value came
// from ("gomp config show").
//
// Not implemented: the configuration directory (/etc/multipath/conf.d)
// and multipath-tools' built-in hardware table (arrays get gomp's
// defaults unless the file names them), revision matching, devnode and
// property blacklists (gomp has no per-path block devices), and reloading
// a configuration into a running device.
package conf
