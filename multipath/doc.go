// Package multipath is gomp's userspace replacement for dm-multipath and
// multipathd: one block device over several iSCSI paths to one LUN, with
// path groups, path selectors, error classification, a path checker,
// reinstatement and bounded queueing. Package nbd exports a *Device.
//
// # Paths and groups
//
// Open logs in to every portal of Config.Portals (one iscsi.Session each,
// with distinct ISIDs; iscsi.Config.Recover so that a session reinstates
// itself, and a zero ReplacementTimeout so that its commands fail at once
// while it does), inquires the LUN and computes its WWID as
// multipath-tools does. The first path that answers defines the device:
// a portal whose LUN has another WWID is refused (WWIDMismatchError; the
// path is listed as "refused" and never carries I/O), and a portal that
// cannot be reached is kept as a failed path for the checker to retry.
// Open fails only when no path works.
//
// # Every LUN of a target, over shared sessions
//
// With Config.Pool the devices of a process share their sessions, as
// open-iscsi does: one session per (initiator name, target, portal and
// binding) carrying every LUN attached through it, reference-counted and
// logged out with its last device (SessionPool; its ISID hook keeps a
// portal's ISID stable across restarts). A path is then (session, LUN):
// the checker's TUR goes to its own LUN, and a session failure fails
// every device's path through it. OpenAll does what iscsiadm -m node -l
// and multipathd do together: it logs in to each portal once, lists the
// LUNs (REPORT LUNS), inquires them, groups them by WWID across portals
// (a portal may number a LUN differently: Config.PortalLUNs) and opens
// one device per WWID; Scan is its first half.
//
// Paths are grouped by path_grouping_policy: failover (one path per
// group), multibus (one group), group_by_prio (one group per priority),
// group_by_tpg (one per ALUA target port group); group_by_serial and
// group_by_node_name mean multibus for one LUN of one target. The
// default is group_by_prio when INQUIRY reports ALUA (TPGS != 0) and
// multibus otherwise. Priorities come from REPORT TARGET PORT GROUPS, as
// multipath-tools' alua prioritizer: active/optimized 50,
// active/non-optimized 10, standby 1, others 0, plus 80 for the preferred
// bit; without ALUA (or with prio const) every path has priority 1. I/O
// goes to the highest-priority group with a path ready for I/O; a group
// whose usable paths are all ghosts (standby) comes only after every group
// with a ready path, whatever its priority (multipath-tools would pick a
// preferred standby group over an active/non-optimized one), and ghost
// paths carry I/O only when nothing else can. failback immediate, manual,
// followover or N seconds decides when I/O returns to a better group that
// recovered.
//
// ALUA states map to path states as multipath-tools' tur checker and
// scsi_dh_alua do: active/optimized and active/non-optimized are ready;
// standby (NOT READY 04/0B) is a ghost; unavailable and offline (04/0C,
// 04/12) fail the path, which the checker keeps polling; transitioning
// (04/0A) is pending: I/O that meets it moves to another path at once
// rather than waiting out the transition, the path is shown pending (not
// failed, and not counted by the damping), and the checker retries it. On a LUN with explicit ALUA (INQUIRY TPGS) ghost paths
// never carry I/O: when the group I/O should go to has only standby
// paths, the device sends SET TARGET PORT GROUPS to make its target port
// group active/optimized (as scsi_dh_alua activates a standby group on a
// path group switch), I/O queues meanwhile, and the checkers read the new
// states; the request is repeated no sooner than a polling interval later
// if the group stays in standby.
//
// # The I/O path
//
// A Selector picks the path for each I/O among the usable paths of the
// active group: round-robin (rr_min_io_rq requests per path),
// queue-length (fewest requests in flight) or service-time (least
// (bytes in flight + this I/O) / relative throughput; the default). The
// usable paths are an immutable snapshot swapped atomically on every state
// change; selection reads per-path atomic counters. A read or write takes
// no lock shared by all I/O and allocates nothing (TestDeviceIODoesNotAllocate).
//
// Errors are classified like the kernel's blk_path_error: connection
// errors, aborted commands and timeouts fail the path, and the I/O is
// retried on another path; target errors (MEDIUM ERROR, ILLEGAL REQUEST,
// DATA PROTECT, space allocation failed, RESERVATION CONFLICT, …) are
// returned to the caller with the path left up; transient conditions
// (UNIT ATTENTION, BUSY, …) are retried up to Config.RetryLimit times,
// then fail the path. An I/O that meets 16 path errors fails. A write is
// acknowledged only once a target acknowledged it; a write caught on a
// dying path is written again through another one. Sessions close their
// failed connections abortively (SO_LINGER 0), so that the kernel cannot
// deliver such a write to the target later, over newer data.
//
// # Checker, damping, queueing
//
// Each path has a checker: TEST UNIT READY, mapped as multipath-tools'
// tur checker (good: ready; UNIT ATTENTION: retried; NOT READY 04/0B:
// ghost; 04/0A: pending; ILLEGAL REQUEST 25/00: disconnected; else
// faulty). Before a path is reinstated its WWID is read again. Failed
// paths are checked every polling_interval, and at once when their
// session has reconnected; healthy paths start at polling_interval and
// back off to max_polling_interval (default 4×). Priorities are refreshed
// on every check of a usable path, and every path is checked at once when
// a command meets ASYMMETRIC ACCESS STATE CHANGED (2A/06), IMPLICIT
// ASYMMETRIC ACCESS STATE TRANSITION FAILED (2A/07) or INQUIRY DATA HAS
// CHANGED (3F/03), as scsi_dh_alua runs REPORT TARGET PORT GROUPS at once
// on those unit attentions: package iscsi retries the command and tells
// the path, whose checker wakes every path's (a target may announce the
// change on the ports of the group that changed only, as LIO does). A path whose I/O makes no progress for
// Config.IOTimeout (the SCSI command timer) has its commands aborted so
// that the I/O moves on. Flapping paths are damped like
// san_path_err_threshold / _forget_rate / _recovery_time (default 5
// failures in 60 s hold the path back for 60 s; never the only usable
// path).
//
// # When a write is retried elsewhere
//
// An acknowledged write must never be overwritten later by an older copy
// of itself, so a write that failed on one path is retried on another only
// once the original cannot land any more:
//   - its connection is closed, abortively (SO_LINGER 0: the kernel drops
//     what it had not sent), after a reset, a NOP timeout or an error; or
//   - on a session that is still logged in (the I/O watchdog), the target
//     confirmed ABORT TASK (FUNCTION COMPLETE or TASK DOES NOT EXIST), or
//     else a LOGICAL UNIT RESET; when it confirms neither, the connection
//     is dropped and the session reinstated (RFC 7143 §6.3.5: the target
//     clears the old session's tasks).
//
// One window remains, as it does for dm-multipath over open-iscsi: a
// command the target had already taken off a connection that then died
// (a blackholed link, a reset) may still run at the target after the
// retry on another path. The kernel's SCSI error handling cannot reach the
// target either; it fails the command once the session is given up
// (replacement_timeout or fast_io_fail_tmo) and dm-multipath retries it.
//
// Without a usable path, I/O queues for no_path_retry N checker intervals
// (default 12), then fails with ErrNoPath; "fail" fails it at once;
// "queue" queues until a path returns. Queued I/O always stays
// cancellable: by the caller's context, Device.DisableQueueing, or Close.
//
// # Configuration
//
// A device's tunables are Settings: multipath.conf's path_selector,
// path_grouping_policy, failback, no_path_retry, polling intervals,
// damping, prio, alias, user friendly names, reservation_key and so on,
// each type reading and writing its multipath.conf spelling
// (encoding.TextUnmarshaler). Config.File, a ConfigFile, layers a
// configuration file's settings under Config's own: package
// multipath/conf reads multipath.conf as multipath-tools does and
// implements it. A ConfigFile can also blacklist a LUN (ErrBlacklisted).
//
// user_friendly_names names devices mpatha, mpathb, … kept in a bindings
// file in multipath-tools' format (Bindings).
//
// # Status and control
//
// Device.Status returns a Status like "multipath -ll" (stable JSON). FailPath
// and ReinstatePath (sticky until reinstated), SwitchGroup,
// DisableQueueing and RestoreQueueing act like the multipathd commands.
// Config.OnEvent receives every state change, in order, and Config.Logger
// logs them, one record each with the device, the portal behind the change
// and its cause; the paths' iSCSI sessions log through Config.Logger too,
// with the device's name added.
//
// Stats returns DeviceStats: failovers, failbacks, time without a usable
// path, queued I/O, and per path I/Os, bytes and latency percentiles by
// operation, errors by ErrorClass, I/O retried on another path, and the
// session's iscsi.SessionStats. The I/O path keeps them with atomic adds
// and a lock-free log-scale histogram (LatencyBuckets), allocating nothing.
//
// Capabilities merges what every path's LUN offers: the device asks for
// flushes only when a write cache is volatile (or could not be read), for
// FUA only when every path reports DPOFUA, is read-only when a path
// reports WP, and trims only when every path has UNMAP. They are read at
// Open and again when a path is reinstated or its LUN is Stale. A trim
// that a target refuses is dropped without an error (trims are hints) and
// no more are sent; a refused FUA or WRITE SAME falls back inside package
// iscsi; none of these fails a path.
//
// Not implemented: path checkers other than tur, prioritizers other than
// alua and const, hardware handlers (explicit ALUA activation is built
// in, as above), per-path selector arguments (repeat_count, relative
// throughput), marginal_path_* and delay_*_checks, the historical-
// service-time selector, reloading a configuration into a running
// device, capacity changes, and per-path block devices (so blacklist devnode/property are
// ignored).
package multipath
