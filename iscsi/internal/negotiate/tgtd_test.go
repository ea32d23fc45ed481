package negotiate

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/pdu"
)

// The responses below are what tgtd (fujita/tgt, usr/iscsi/iscsid.c and
// param.c) computes for our default offer, worked out from its code:
//
//   - login_start adds TargetPortalGroupTag=1 to the first response, here in
//     the security stage next to AuthMethod=None;
//   - text_scan_login answers each key we send, in our order, with its
//     result function over the target's configured value (defaults in
//     target.c: InitialR2T=Yes, ImmediateData=Yes, MaxBurstLength=262144,
//     FirstBurstLength=65536, MaxOutstandingR2T=1, DefaultTime2Retain=20,
//     digests None), except MaxRecvDataSegmentLength, which it stores as
//     its transmit limit without answering;
//   - text_check_param then offers every key it holds at a value other
//     than the RFC default that the initiator did not send; with tgtd's
//     defaults that is nothing, so it never declares its own
//     MaxRecvDataSegmentLength (8192) and we must assume the default.

func securityKeysOut(kvs []pdu.KeyValue) []pdu.KeyValue {
	var out []pdu.KeyValue
	for _, kv := range kvs {
		if !IsSecurityKey(kv.Key) {
			out = append(out, kv)
		}
	}
	return out
}

func TestTgtdDefaultTarget(t *testing.T) {
	n := New(Config{}, Normal)

	// Security stage: AuthMethod is the login layer's.
	reply, err := n.Handle(securityKeysOut(kvs("TargetPortalGroupTag=1", "AuthMethod=None")))
	require.NoError(t, err)
	require.Empty(t, reply)

	require.Equal(t, defaultOffer, n.Offer())
	reply, err = n.Handle(kvs(
		"HeaderDigest=None",
		"DataDigest=None",
		"MaxConnections=1",
		"InitialR2T=Yes", // our No OR tgtd's Yes
		"ImmediateData=Yes",
		"MaxBurstLength=262144",
		"FirstBurstLength=65536",
		"DefaultTime2Wait=2",
		"DefaultTime2Retain=0",
		"MaxOutstandingR2T=1",
		"DataPDUInOrder=Yes",
		"DataSequenceInOrder=Yes",
		"ErrorRecoveryLevel=0",
	))
	require.NoError(t, err)
	require.Empty(t, reply)
	require.Empty(t, n.Pending())
	require.Empty(t, n.Fallbacks())
	require.Equal(t, Params{
		MaxRecvDataSegmentLength:       262144,
		TargetMaxRecvDataSegmentLength: 8192, // never declared by tgtd
		MaxConnections:                 1,
		InitialR2T:                     true,
		ImmediateData:                  true,
		MaxBurstLength:                 262144,
		FirstBurstLength:               65536,
		DefaultTime2Wait:               2,
		DefaultTime2Retain:             0,
		MaxOutstandingR2T:              1,
		DataPDUInOrder:                 true,
		DataSequenceInOrder:            true,
		ErrorRecoveryLevel:             0,
		TaskReporting:                  "RFC3720",
		ProtocolLevel:                  1,
		TargetPortalGroupTag:           1,
	}, n.Result())
}

// TestTgtdTunedTarget: tgtd configured (tgtadm --op update --mode target
// --name ... --value ...) with MaxRecvDataSegmentLength=262144,
// MaxBurstLength=1048576, FirstBurstLength=262144, InitialR2T=No,
// MaxOutstandingR2T=16 and HeaderDigest=CRC32C,None.
func TestTgtdTunedTarget(t *testing.T) {
	n := New(Config{HeaderDigest: []string{"None", "CRC32C"}}, Normal)
	offer := n.Offer()
	v, _ := pdu.Lookup(offer, "HeaderDigest")
	require.Equal(t, "None,CRC32C", v)

	reply, err := n.Handle(kvs(
		"TargetPortalGroupTag=1",
		// tgtd's digest_set_val picks CRC32C whenever both sides allow
		// it, ignoring our order; we accept any value we offered.
		"HeaderDigest=CRC32C",
		"DataDigest=None",
		"MaxConnections=1",
		"InitialR2T=No",
		"ImmediateData=Yes",
		"MaxBurstLength=1048576",
		"FirstBurstLength=262144",
		"DefaultTime2Wait=2",
		"DefaultTime2Retain=0",
		"MaxOutstandingR2T=8", // min(our 8, its 16)
		"DataPDUInOrder=Yes",
		"DataSequenceInOrder=Yes",
		"ErrorRecoveryLevel=0",
		// text_check_param: its own non-default value, after the answers.
		// tgtd then keeps the login in this stage for one more round.
		"MaxRecvDataSegmentLength=262144",
	))
	require.NoError(t, err)
	require.Empty(t, reply, "a declaration needs no answer; the next request is empty")
	require.Empty(t, n.Pending())

	r := n.Result()
	require.True(t, r.HeaderDigest)
	require.False(t, r.DataDigest)
	require.False(t, r.InitialR2T)
	require.True(t, r.ImmediateData)
	require.Equal(t, 1048576, r.MaxBurstLength)
	require.Equal(t, 262144, r.FirstBurstLength)
	require.Equal(t, 8, r.MaxOutstandingR2T)
	require.Equal(t, 262144, r.TargetMaxRecvDataSegmentLength)

	// The second round: tgtd sends nothing new and transits.
	reply, err = n.Handle(nil)
	require.NoError(t, err)
	require.Empty(t, reply)
}

// TestRFC3720TargetMarkers: the keys open-iscsi offers that we do not
// (IFMarker, OFMarker) would come back to us only as target offers; a target
// that still offers markers, as RFC 3720 targets may, gets No.
func TestRFC3720TargetMarkers(t *testing.T) {
	n := New(Config{}, Normal)
	n.Offer()
	reply, err := n.Handle(kvs("IFMarker=No", "OFMarker=No", "OFMarkInt=2048~8192", "IFMarkInt=2048~8192", "ErrorRecoveryLevel=0"))
	require.NoError(t, err)
	require.Equal(t, kvs("IFMarker=No", "OFMarker=No", "OFMarkInt=Reject", "IFMarkInt=Reject"), reply)
}
