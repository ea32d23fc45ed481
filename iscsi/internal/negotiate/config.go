package negotiate

import (
	"errors"
	"fmt"
	"slices"
)

// Choice is a boolean proposal whose zero value means "our default".
type Choice uint8

// Choices.
const (
	Default Choice = iota
	Yes
	No
)

// String returns "Default", "Yes" or "No", or "Choice(N)" for an unknown
// value.
func (c Choice) String() string {
	switch c {
	case Default:
		return "Default"
	case Yes:
		return "Yes"
	case No:
		return "No"
	}
	return fmt.Sprintf("Choice(%d)", uint8(c))
}

func (c Choice) or(def bool) bool {
	switch c {
	case Yes:
		return true
	case No:
		return false
	}
	return def
}

// Digest names for Config.HeaderDigest and Config.DataDigest.
const (
	DigestCRC32C = "CRC32C"
	DigestNone   = "None"
)

// Config is what we propose. The zero value is valid and tuned for
// throughput; each field says its default. Out-of-range values are clamped
// by New; call Validate to report them instead.
type Config struct {
	// HeaderDigest and DataDigest list "CRC32C" and/or "None" in order of
	// preference. Default {"None"}. Leaving "None" out makes digests
	// mandatory: the login fails if the target will not use them.
	HeaderDigest, DataDigest []string

	// MaxRecvDataSegmentLength we declare (512..16777215). Default 262144,
	// as open-iscsi: large enough that a 1 MiB read is four Data-In PDUs.
	MaxRecvDataSegmentLength int
	// MaxBurstLength (512..16777215). Default 1048576: one burst per
	// command up to the usual 1 MiB maximum I/O size, with a bounded
	// per-burst buffer (open-iscsi proposes 16776192).
	MaxBurstLength int
	// FirstBurstLength (512..MaxBurstLength). Default 262144, as open-iscsi.
	FirstBurstLength int
	// MaxOutstandingR2T (1..65535). Default 8 (open-iscsi proposes 1):
	// lets a target pipeline the R2Ts of a large write.
	MaxOutstandingR2T int
	// MaxConnections (1..65535). Default 1; MC/S is not implemented.
	MaxConnections int

	// InitialR2T: default No, so that writes may start with unsolicited
	// data. The result is Yes if the target wants it (function OR).
	InitialR2T Choice
	// ImmediateData: default Yes. The result is No if the target says so
	// (function AND).
	ImmediateData Choice
	// DataPDUInOrder and DataSequenceInOrder: default Yes, which forces a
	// Yes result (function OR). The session layer must handle out-of-order
	// data before anyone sets No.
	DataPDUInOrder, DataSequenceInOrder Choice

	// ErrorRecoveryLevel (0..2). Default 0.
	ErrorRecoveryLevel int
	// DefaultTime2Wait in seconds (0..3600). The zero value means 2, as
	// open-iscsi; a negative value proposes 0.
	DefaultTime2Wait int
	// DefaultTime2Retain in seconds (0..3600). Default 0, as open-iscsi:
	// at ErrorRecoveryLevel 0 there is no connection recovery for which
	// the target should keep tasks.
	DefaultTime2Retain int

	// TaskReporting values we support, in order of preference ("RFC3720",
	// "ResponseFence", "FastAbort"). Nil: not proposed, and a target's
	// offer is answered with RFC3720 only.
	TaskReporting []string
	// ProtocolLevel, if above 0, is proposed as iSCSIProtocolLevel
	// (1..31). A target's offer is answered with the minimum of its value
	// and ours (1 when ProtocolLevel is 0).
	ProtocolLevel int
}

// Key ranges (RFC 7143 §13).
const (
	minSegment = 512
	maxSegment = 1<<24 - 1 // 16777215
	maxTime    = 3600
	maxCount   = 65535
	maxERL     = 2
	maxLevel   = 31
)

var (
	digestValues        = []string{DigestCRC32C, DigestNone}
	taskReportingValues = []string{"RFC3720", "ResponseFence", "FastAbort"}
)

// Validate reports values outside their key's range, unknown list values,
// and FirstBurstLength above MaxBurstLength. Zero values are never errors.
func (c Config) Validate() error {
	var errs []error
	rng := func(name string, v, lo, hi int) {
		if v != 0 && (v < lo || v > hi) {
			errs = append(errs, fmt.Errorf("%w: %s %d outside %d..%d", ErrConfig, name, v, lo, hi))
		}
	}
	rng("MaxRecvDataSegmentLength", c.MaxRecvDataSegmentLength, minSegment, maxSegment)
	rng("MaxBurstLength", c.MaxBurstLength, minSegment, maxSegment)
	rng("FirstBurstLength", c.FirstBurstLength, minSegment, maxSegment)
	rng("MaxOutstandingR2T", c.MaxOutstandingR2T, 1, maxCount)
	rng("MaxConnections", c.MaxConnections, 1, maxCount)
	rng("ErrorRecoveryLevel", c.ErrorRecoveryLevel, 0, maxERL)
	rng("DefaultTime2Wait", c.DefaultTime2Wait, -1<<31, maxTime)
	rng("DefaultTime2Retain", c.DefaultTime2Retain, 0, maxTime)
	rng("ProtocolLevel", c.ProtocolLevel, 0, maxLevel)
	list := func(name string, vs, known []string) {
		for _, v := range vs {
			if !slices.Contains(known, v) {
				errs = append(errs, fmt.Errorf("%w: %s value %q is not one of %q", ErrConfig, name, v, known))
			}
		}
	}
	list("HeaderDigest", c.HeaderDigest, digestValues)
	list("DataDigest", c.DataDigest, digestValues)
	list("TaskReporting", c.TaskReporting, taskReportingValues)
	if n := c.normalize(); n.FirstBurstLength < c.FirstBurstLength && c.FirstBurstLength <= maxSegment {
		errs = append(errs, fmt.Errorf("%w: FirstBurstLength %d exceeds MaxBurstLength %d", ErrConfig, c.FirstBurstLength, n.MaxBurstLength))
	}
	return errors.Join(errs...)
}

// normalize fills in defaults and clamps every value into its range.
func (c Config) normalize() Config {
	def := func(v *int, d, lo, hi int) {
		if *v == 0 {
			*v = d
		}
		*v = min(max(*v, lo), hi)
	}
	def(&c.MaxRecvDataSegmentLength, 262144, minSegment, maxSegment)
	def(&c.MaxBurstLength, 1048576, minSegment, maxSegment)
	def(&c.FirstBurstLength, 262144, minSegment, c.MaxBurstLength)
	def(&c.MaxOutstandingR2T, 8, 1, maxCount)
	def(&c.MaxConnections, 1, 1, maxCount)
	def(&c.DefaultTime2Wait, 2, 0, maxTime) // negative clamps to 0
	c.ErrorRecoveryLevel = min(max(c.ErrorRecoveryLevel, 0), maxERL)
	c.DefaultTime2Retain = min(max(c.DefaultTime2Retain, 0), maxTime)
	c.ProtocolLevel = min(max(c.ProtocolLevel, 0), maxLevel)
	c.HeaderDigest = known(c.HeaderDigest, digestValues, DigestNone)
	c.DataDigest = known(c.DataDigest, digestValues, DigestNone)
	c.TaskReporting = known(c.TaskReporting, taskReportingValues, "")
	return c
}

// known keeps the values of vs found in set, once each, in order; if none
// is left it returns {def}, or nil when def is "".
func known(vs, set []string, def string) []string {
	var out []string
	for _, v := range vs {
		if slices.Contains(set, v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	if len(out) == 0 && def != "" {
		out = []string{def}
	}
	return out
}
