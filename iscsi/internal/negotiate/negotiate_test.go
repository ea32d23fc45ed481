package negotiate

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/pdu"
)

// kvs builds a key list from "Key=Value" strings.
func kvs(pairs ...string) []pdu.KeyValue {
	out := make([]pdu.KeyValue, 0, len(pairs))
	for _, p := range pairs {
		k, v, _ := strings.Cut(p, "=")
		out = append(out, pdu.KeyValue{Key: k, Value: v})
	}
	return out
}

func TestDefaults(t *testing.T) {
	d := Defaults()
	require.Equal(t, Params{
		HeaderDigest: false, DataDigest: false,
		MaxRecvDataSegmentLength: 8192, TargetMaxRecvDataSegmentLength: 8192,
		MaxConnections: 1, InitialR2T: true, ImmediateData: true,
		MaxBurstLength: 262144, FirstBurstLength: 65536,
		DefaultTime2Wait: 2, DefaultTime2Retain: 20, MaxOutstandingR2T: 1,
		DataPDUInOrder: true, DataSequenceInOrder: true, ErrorRecoveryLevel: 0,
		TaskReporting: "RFC3720", ProtocolLevel: 1, TargetPortalGroupTag: -1,
	}, d)
	require.True(t, d.FirstBurstRelevant())
	// Nothing negotiated: the result is the defaults.
	require.Equal(t, d, New(Config{}, Normal).Result())
}

func TestStrings(t *testing.T) {
	require.Equal(t, "Normal", Normal.String())
	require.Equal(t, "Discovery", Discovery.String())
	require.Equal(t, "SessionType(7)", SessionType(7).String())
	require.Equal(t, "Default", Default.String())
	require.Equal(t, "Yes", Yes.String())
	require.Equal(t, "No", No.String())
	require.Equal(t, "Choice(9)", Choice(9).String())
}

var defaultOffer = kvs(
	"HeaderDigest=None",
	"DataDigest=None",
	"MaxConnections=1",
	"InitialR2T=No",
	"ImmediateData=Yes",
	"MaxRecvDataSegmentLength=262144",
	"MaxBurstLength=1048576",
	"FirstBurstLength=262144",
	"DefaultTime2Wait=2",
	"DefaultTime2Retain=0",
	"MaxOutstandingR2T=8",
	"DataPDUInOrder=Yes",
	"DataSequenceInOrder=Yes",
	"ErrorRecoveryLevel=0",
)

func TestOfferDefaults(t *testing.T) {
	n := New(Config{}, Normal)
	require.Equal(t, defaultOffer, n.Offer())
	// OR keys offered Yes need no answer; MaxRecvDataSegmentLength is a
	// declaration.
	require.Equal(t, []string{
		"HeaderDigest", "DataDigest", "MaxConnections", "InitialR2T", "ImmediateData",
		"MaxBurstLength", "FirstBurstLength", "DefaultTime2Wait", "DefaultTime2Retain",
		"MaxOutstandingR2T", "ErrorRecoveryLevel",
	}, n.Pending())
	require.Empty(t, n.Offer(), "second Offer")
	r := n.Result()
	require.Equal(t, 262144, r.MaxRecvDataSegmentLength, "our declaration applies at once")
	require.Equal(t, 8192, r.TargetMaxRecvDataSegmentLength)
	require.Equal(t, 262144, r.MaxBurstLength, "unanswered: default")
}

func TestOfferDiscovery(t *testing.T) {
	n := New(Config{HeaderDigest: []string{"CRC32C", "None"}, MaxRecvDataSegmentLength: 32768}, Discovery)
	require.Equal(t, kvs("HeaderDigest=CRC32C,None", "DataDigest=None", "MaxRecvDataSegmentLength=32768"), n.Offer())
	require.Equal(t, []string{"HeaderDigest", "DataDigest"}, n.Pending())
}

func TestOfferConfig(t *testing.T) {
	n := New(Config{
		HeaderDigest:             []string{"CRC32C", "bogus", "CRC32C"},
		DataDigest:               []string{"CRC32C", "None"},
		MaxRecvDataSegmentLength: 1 << 30, // clamped
		MaxBurstLength:           65536,
		FirstBurstLength:         131072, // clamped to MaxBurstLength
		MaxOutstandingR2T:        -3,     // clamped to 1
		InitialR2T:               Yes,
		ImmediateData:            No,
		DataPDUInOrder:           No,
		ErrorRecoveryLevel:       7,  // clamped to 2
		DefaultTime2Wait:         -1, // proposes 0
		DefaultTime2Retain:       20,
		TaskReporting:            []string{"ResponseFence", "RFC3720"},
		ProtocolLevel:            2,
	}, Normal)
	require.Equal(t, kvs(
		"HeaderDigest=CRC32C",
		"DataDigest=CRC32C,None",
		"MaxConnections=1",
		"InitialR2T=Yes",
		"ImmediateData=No",
		"MaxRecvDataSegmentLength=16777215",
		"MaxBurstLength=65536",
		"FirstBurstLength=65536",
		"DefaultTime2Wait=0",
		"DefaultTime2Retain=20",
		"MaxOutstandingR2T=1",
		"DataPDUInOrder=No",
		"DataSequenceInOrder=Yes",
		"ErrorRecoveryLevel=2",
		"TaskReporting=ResponseFence,RFC3720",
		"iSCSIProtocolLevel=2",
	), n.Offer())
	require.NotContains(t, n.Pending(), "InitialR2T")
	require.NotContains(t, n.Pending(), "ImmediateData")
	require.Contains(t, n.Pending(), "DataPDUInOrder")
	r := n.Result()
	require.True(t, r.InitialR2T)
	require.False(t, r.ImmediateData)
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, Config{}.Validate())
	require.NoError(t, Config{DefaultTime2Wait: -1, HeaderDigest: []string{"CRC32C"}, TaskReporting: []string{"FastAbort"}}.Validate())
	for _, c := range []Config{
		{MaxRecvDataSegmentLength: 511},
		{MaxBurstLength: 1 << 24},
		{FirstBurstLength: 2 << 20},                    // above the default MaxBurstLength
		{FirstBurstLength: 8192, MaxBurstLength: 4096}, // above MaxBurstLength
		{MaxOutstandingR2T: 65536},
		{MaxConnections: -1},
		{ErrorRecoveryLevel: 3},
		{DefaultTime2Wait: 3601},
		{DefaultTime2Retain: -1},
		{ProtocolLevel: 32},
		{HeaderDigest: []string{"crc32c"}},
		{DataDigest: []string{"None", "MD5"}},
		{TaskReporting: []string{"RFC3720", "Fast"}},
	} {
		require.ErrorIs(t, c.Validate(), ErrConfig, "%+v", c)
	}
}

// answerCase is one answer to the default offer (or to cfg's offer).
type answerCase struct {
	name   string
	cfg    Config
	answer string
	ok     bool
	check  func(t *testing.T, p Params)
}

func runAnswers(t *testing.T, cases []answerCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := New(tc.cfg, Normal)
			n.Offer()
			key, _, _ := strings.Cut(tc.answer, "=")
			reply, err := n.Handle(kvs(tc.answer))
			if !tc.ok {
				require.ErrorIs(t, err, ErrNegotiation)
				var e *Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, key, e.Key)
				require.True(t, strings.HasPrefix(err.Error(), "negotiate: target sent "+key+"="), err.Error())
				assertLegal(t, n.Result())
				return
			}
			require.NoError(t, err)
			require.Empty(t, reply, "answers need no reply")
			require.NotContains(t, n.Pending(), key)
			if tc.check != nil {
				tc.check(t, n.Result())
			}
		})
	}
}

func TestAnswersList(t *testing.T) {
	crcFirst := Config{HeaderDigest: []string{"CRC32C", "None"}, DataDigest: []string{"CRC32C"}}
	runAnswers(t, []answerCase{
		{"None as offered", Config{}, "HeaderDigest=None", true, func(t *testing.T, p Params) { require.False(t, p.HeaderDigest) }},
		{"CRC32C not offered", Config{}, "HeaderDigest=CRC32C", false, nil},
		{"CRC32C offered", crcFirst, "HeaderDigest=CRC32C", true, func(t *testing.T, p Params) { require.True(t, p.HeaderDigest) }},
		{"second choice", crcFirst, "HeaderDigest=None", true, func(t *testing.T, p Params) { require.False(t, p.HeaderDigest) }},
		{"data CRC32C", crcFirst, "DataDigest=CRC32C", true, func(t *testing.T, p Params) { require.True(t, p.DataDigest) }},
		{"None not offered", crcFirst, "DataDigest=None", false, nil},
		{"list answer", crcFirst, "HeaderDigest=CRC32C,None", false, nil},
		{"case differs", crcFirst, "HeaderDigest=crc32c", false, nil},
		{"empty", Config{}, "DataDigest=", false, nil},
		{"unknown digest", Config{}, "DataDigest=MD5", false, nil},
		{"TaskReporting", Config{TaskReporting: []string{"FastAbort", "RFC3720"}}, "TaskReporting=RFC3720", true,
			func(t *testing.T, p Params) { require.Equal(t, "RFC3720", p.TaskReporting) }},
		{"TaskReporting not offered value", Config{TaskReporting: []string{"RFC3720"}}, "TaskReporting=FastAbort", false, nil},
	})
}

func TestAnswersMinimum(t *testing.T) {
	num := func(f func(Params) int, want int) func(*testing.T, Params) {
		return func(t *testing.T, p Params) { require.Equal(t, want, f(p)) }
	}
	mbl := func(p Params) int { return p.MaxBurstLength }
	fbl := func(p Params) int { return p.FirstBurstLength }
	r2t := func(p Params) int { return p.MaxOutstandingR2T }
	ret := func(p Params) int { return p.DefaultTime2Retain }
	erl := func(p Params) int { return p.ErrorRecoveryLevel }
	mc := func(p Params) int { return p.MaxConnections }
	runAnswers(t, []answerCase{
		{"MaxBurstLength equal", Config{}, "MaxBurstLength=1048576", true, num(mbl, 1048576)},
		{"MaxBurstLength lower", Config{}, "MaxBurstLength=262144", true, num(mbl, 262144)},
		{"MaxBurstLength hex", Config{}, "MaxBurstLength=0x40000", true, num(mbl, 262144)},
		{"MaxBurstLength minimum", Config{FirstBurstLength: 512}, "MaxBurstLength=512", true, num(mbl, 512)},
		{"MaxBurstLength above offer", Config{}, "MaxBurstLength=1048577", false, nil},
		{"MaxBurstLength below range", Config{}, "MaxBurstLength=511", false, nil},
		{"MaxBurstLength zero", Config{}, "MaxBurstLength=0", false, nil},
		{"MaxBurstLength 2^64", Config{}, "MaxBurstLength=18446744073709551616", false, nil},
		{"MaxBurstLength hex beyond 64 bits", Config{}, "MaxBurstLength=0x10000000000000000", false, nil},
		{"MaxBurstLength negative", Config{}, "MaxBurstLength=-1", false, nil},
		{"MaxBurstLength word", Config{}, "MaxBurstLength=lots", false, nil},
		{"MaxBurstLength range at max offer", Config{MaxBurstLength: maxSegment}, "MaxBurstLength=16777216", false, nil},
		{"FirstBurstLength lower", Config{}, "FirstBurstLength=65536", true, num(fbl, 65536)},
		{"FirstBurstLength above offer", Config{}, "FirstBurstLength=262145", false, nil},
		{"MaxOutstandingR2T 1", Config{}, "MaxOutstandingR2T=1", true, num(r2t, 1)},
		{"MaxOutstandingR2T 8", Config{}, "MaxOutstandingR2T=8", true, num(r2t, 8)},
		{"MaxOutstandingR2T 0", Config{}, "MaxOutstandingR2T=0", false, nil},
		{"MaxOutstandingR2T 9", Config{}, "MaxOutstandingR2T=9", false, nil},
		{"DefaultTime2Retain 0", Config{}, "DefaultTime2Retain=0", true, num(ret, 0)},
		{"DefaultTime2Retain 20 above our 0", Config{}, "DefaultTime2Retain=20", false, nil},
		{"DefaultTime2Retain lower", Config{DefaultTime2Retain: 3600}, "DefaultTime2Retain=60", true, num(ret, 60)},
		{"DefaultTime2Retain 3601", Config{DefaultTime2Retain: 3600}, "DefaultTime2Retain=3601", false, nil},
		{"ErrorRecoveryLevel 0", Config{}, "ErrorRecoveryLevel=0", true, num(erl, 0)},
		{"ErrorRecoveryLevel 1 above our 0", Config{}, "ErrorRecoveryLevel=1", false, nil},
		{"ErrorRecoveryLevel 1 of 2", Config{ErrorRecoveryLevel: 2}, "ErrorRecoveryLevel=1", true, num(erl, 1)},
		{"ErrorRecoveryLevel 3", Config{ErrorRecoveryLevel: 2}, "ErrorRecoveryLevel=3", false, nil},
		{"MaxConnections 1", Config{}, "MaxConnections=1", true, num(mc, 1)},
		{"MaxConnections 2", Config{}, "MaxConnections=2", false, nil},
		{"MaxConnections 0", Config{MaxConnections: 4}, "MaxConnections=0", false, nil},
		{"MaxConnections 65536", Config{MaxConnections: 65535}, "MaxConnections=65536", false, nil},
		{"iSCSIProtocolLevel 1 of 2", Config{ProtocolLevel: 2}, "iSCSIProtocolLevel=1", true, func(t *testing.T, p Params) { require.Equal(t, 1, p.ProtocolLevel) }},
		{"iSCSIProtocolLevel 0", Config{ProtocolLevel: 2}, "iSCSIProtocolLevel=0", true, func(t *testing.T, p Params) { require.Equal(t, 0, p.ProtocolLevel) }},
		{"iSCSIProtocolLevel 3", Config{ProtocolLevel: 2}, "iSCSIProtocolLevel=3", false, nil},
	})
}

func TestAnswersMaximum(t *testing.T) {
	wait := func(want int) func(*testing.T, Params) {
		return func(t *testing.T, p Params) { require.Equal(t, want, p.DefaultTime2Wait) }
	}
	runAnswers(t, []answerCase{
		{"equal", Config{}, "DefaultTime2Wait=2", true, wait(2)},
		{"higher", Config{}, "DefaultTime2Wait=10", true, wait(10)},
		{"hex", Config{}, "DefaultTime2Wait=0xe10", true, wait(3600)},
		{"range max", Config{}, "DefaultTime2Wait=3600", true, wait(3600)},
		{"below offer", Config{}, "DefaultTime2Wait=1", false, nil},
		{"zero offered zero", Config{DefaultTime2Wait: -1}, "DefaultTime2Wait=0", true, wait(0)},
		{"above range", Config{}, "DefaultTime2Wait=3601", false, nil},
		{"huge", Config{}, "DefaultTime2Wait=99999999999999999999", false, nil},
	})
}

func TestAnswersBoolean(t *testing.T) {
	flag := func(f func(Params) bool, want bool) func(*testing.T, Params) {
		return func(t *testing.T, p Params) { require.Equal(t, want, f(p)) }
	}
	r2t := func(p Params) bool { return p.InitialR2T }
	imm := func(p Params) bool { return p.ImmediateData }
	pdus := func(p Params) bool { return p.DataPDUInOrder }
	seq := func(p Params) bool { return p.DataSequenceInOrder }
	runAnswers(t, []answerCase{
		// OR, offered No: either answer.
		{"InitialR2T No->No", Config{}, "InitialR2T=No", true, flag(r2t, false)},
		{"InitialR2T No->Yes", Config{}, "InitialR2T=Yes", true, flag(r2t, true)},
		// OR, offered Yes: only Yes.
		{"InitialR2T Yes->Yes", Config{InitialR2T: Yes}, "InitialR2T=Yes", true, flag(r2t, true)},
		{"InitialR2T Yes->No", Config{InitialR2T: Yes}, "InitialR2T=No", false, nil},
		// AND, offered Yes: either answer.
		{"ImmediateData Yes->Yes", Config{}, "ImmediateData=Yes", true, flag(imm, true)},
		{"ImmediateData Yes->No", Config{}, "ImmediateData=No", true, flag(imm, false)},
		// AND, offered No: only No.
		{"ImmediateData No->No", Config{ImmediateData: No}, "ImmediateData=No", true, flag(imm, false)},
		{"ImmediateData No->Yes", Config{ImmediateData: No}, "ImmediateData=Yes", false, nil},
		{"DataPDUInOrder Yes->Yes", Config{}, "DataPDUInOrder=Yes", true, flag(pdus, true)},
		{"DataPDUInOrder Yes->No", Config{}, "DataPDUInOrder=No", false, nil},
		{"DataPDUInOrder No->No", Config{DataPDUInOrder: No}, "DataPDUInOrder=No", true, flag(pdus, false)},
		{"DataPDUInOrder No->Yes", Config{DataPDUInOrder: No}, "DataPDUInOrder=Yes", true, flag(pdus, true)},
		{"DataSequenceInOrder Yes->No", Config{}, "DataSequenceInOrder=No", false, nil},
		{"DataSequenceInOrder No->No", Config{DataSequenceInOrder: No}, "DataSequenceInOrder=No", true, flag(seq, false)},
		{"lower case", Config{}, "ImmediateData=yes", false, nil},
		{"number", Config{}, "ImmediateData=1", false, nil},
		{"empty", Config{}, "InitialR2T=", false, nil},
	})
}

func TestTargetOffers(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		st    SessionType
		offer string // the target's offer; we made none
		reply string
		check func(t *testing.T, p Params)
	}{
		{"MaxBurstLength lower", Config{}, Normal, "MaxBurstLength=65536", "MaxBurstLength=65536",
			func(t *testing.T, p Params) { require.Equal(t, 65536, p.MaxBurstLength) }},
		{"MaxBurstLength higher", Config{}, Normal, "MaxBurstLength=16777215", "MaxBurstLength=1048576",
			func(t *testing.T, p Params) { require.Equal(t, 1048576, p.MaxBurstLength) }},
		{"MaxBurstLength hex", Config{}, Normal, "MaxBurstLength=0x1000", "MaxBurstLength=4096", nil},
		{"MaxBurstLength out of range", Config{}, Normal, "MaxBurstLength=100", "MaxBurstLength=Reject",
			func(t *testing.T, p Params) { require.Equal(t, 262144, p.MaxBurstLength) }},
		{"MaxOutstandingR2T", Config{}, Normal, "MaxOutstandingR2T=16", "MaxOutstandingR2T=8", nil},
		{"MaxConnections", Config{}, Normal, "MaxConnections=4", "MaxConnections=1", nil},
		{"MaxConnections 0", Config{}, Normal, "MaxConnections=0", "MaxConnections=Reject", nil},
		{"ErrorRecoveryLevel", Config{}, Normal, "ErrorRecoveryLevel=2", "ErrorRecoveryLevel=0", nil},
		{"ErrorRecoveryLevel 3", Config{}, Normal, "ErrorRecoveryLevel=3", "ErrorRecoveryLevel=Reject", nil},
		{"DefaultTime2Wait lower", Config{}, Normal, "DefaultTime2Wait=0", "DefaultTime2Wait=2", nil},
		{"DefaultTime2Wait higher", Config{}, Normal, "DefaultTime2Wait=5", "DefaultTime2Wait=5",
			func(t *testing.T, p Params) { require.Equal(t, 5, p.DefaultTime2Wait) }},
		{"DefaultTime2Retain", Config{}, Normal, "DefaultTime2Retain=20", "DefaultTime2Retain=0",
			func(t *testing.T, p Params) { require.Equal(t, 0, p.DefaultTime2Retain) }},
		{"InitialR2T Yes", Config{}, Normal, "InitialR2T=Yes", "InitialR2T=Yes", nil},
		{"InitialR2T No", Config{}, Normal, "InitialR2T=No", "InitialR2T=No",
			func(t *testing.T, p Params) { require.False(t, p.InitialR2T) }},
		{"InitialR2T No, ours Yes", Config{InitialR2T: Yes}, Normal, "InitialR2T=No", "InitialR2T=Yes", nil},
		{"ImmediateData No", Config{}, Normal, "ImmediateData=No", "ImmediateData=No",
			func(t *testing.T, p Params) { require.False(t, p.ImmediateData) }},
		{"ImmediateData Yes, ours No", Config{ImmediateData: No}, Normal, "ImmediateData=Yes", "ImmediateData=No", nil},
		{"DataPDUInOrder No", Config{}, Normal, "DataPDUInOrder=No", "DataPDUInOrder=Yes", nil},
		{"HeaderDigest list", Config{HeaderDigest: []string{"None", "CRC32C"}}, Normal, "HeaderDigest=CRC32C,None", "HeaderDigest=CRC32C",
			func(t *testing.T, p Params) { require.True(t, p.HeaderDigest) }},
		{"HeaderDigest skips unknown", Config{}, Normal, "HeaderDigest=MD5,None", "HeaderDigest=None", nil},
		{"DataDigest nothing shared", Config{}, Normal, "DataDigest=CRC32C", "DataDigest=Reject",
			func(t *testing.T, p Params) { require.False(t, p.DataDigest) }},
		{"TaskReporting default support", Config{}, Normal, "TaskReporting=FastAbort,RFC3720", "TaskReporting=RFC3720", nil},
		{"TaskReporting nothing shared", Config{}, Normal, "TaskReporting=FastAbort", "TaskReporting=Reject",
			func(t *testing.T, p Params) { require.Equal(t, "RFC3720", p.TaskReporting) }},
		{"TaskReporting configured", Config{TaskReporting: []string{"FastAbort"}}, Normal, "TaskReporting=ResponseFence,FastAbort", "TaskReporting=FastAbort",
			func(t *testing.T, p Params) { require.Equal(t, "FastAbort", p.TaskReporting) }},
		{"iSCSIProtocolLevel", Config{}, Normal, "iSCSIProtocolLevel=2", "iSCSIProtocolLevel=1",
			func(t *testing.T, p Params) { require.Equal(t, 1, p.ProtocolLevel) }},
		{"iSCSIProtocolLevel 32", Config{}, Normal, "iSCSIProtocolLevel=32", "iSCSIProtocolLevel=Reject", nil},
		// Discovery: irrelevant keys, and the ones that are not.
		{"Discovery MaxBurstLength", Config{}, Discovery, "MaxBurstLength=65536", "MaxBurstLength=Irrelevant",
			func(t *testing.T, p Params) { require.Equal(t, 262144, p.MaxBurstLength) }},
		{"Discovery InitialR2T", Config{}, Discovery, "InitialR2T=Yes", "InitialR2T=Irrelevant", nil},
		{"Discovery MaxConnections", Config{}, Discovery, "MaxConnections=1", "MaxConnections=Irrelevant", nil},
		{"Discovery garbage value", Config{}, Discovery, "ImmediateData=Maybe", "ImmediateData=Irrelevant", nil},
		{"Discovery TaskReporting", Config{}, Discovery, "TaskReporting=RFC3720", "TaskReporting=Irrelevant", nil},
		{"Discovery ErrorRecoveryLevel", Config{}, Discovery, "ErrorRecoveryLevel=1", "ErrorRecoveryLevel=0", nil},
		{"Discovery DefaultTime2Wait", Config{}, Discovery, "DefaultTime2Wait=0", "DefaultTime2Wait=2", nil},
		// Obsolete and unknown keys.
		{"IFMarker", Config{}, Normal, "IFMarker=Yes", "IFMarker=No", nil},
		{"OFMarker", Config{}, Normal, "OFMarker=No", "OFMarker=No", nil},
		{"IFMarkInt", Config{}, Normal, "IFMarkInt=2048~8192", "IFMarkInt=Reject", nil},
		{"OFMarkInt", Config{}, Discovery, "OFMarkInt=2048", "OFMarkInt=Reject", nil},
		{"unknown", Config{}, Normal, "FooBar=1", "FooBar=NotUnderstood", nil},
		{"X- key", Config{}, Normal, "X-com.example.Quirk=on", "X-com.example.Quirk=NotUnderstood", nil},
		{"X# key", Config{}, Normal, "X#com.example=1", "X#com.example=NotUnderstood", nil},
		{"RDMAExtensions", Config{}, Normal, "RDMAExtensions=Yes", "RDMAExtensions=NotUnderstood", nil},
		{"lower-case key is another key", Config{}, Normal, "maxburstlength=512", "maxburstlength=NotUnderstood", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := New(tc.cfg, tc.st)
			reply, err := n.Handle(kvs(tc.offer))
			require.NoError(t, err)
			require.Equal(t, kvs(tc.reply), reply)
			if tc.check != nil {
				tc.check(t, n.Result())
			}
			assertLegal(t, n.Result())
			// The target may not offer it again.
			if _, known := keyIndex[kvs(tc.offer)[0].Key]; known {
				_, err = n.Handle(kvs(tc.offer))
				require.ErrorIs(t, err, ErrNegotiation)
			}
		})
	}
}

func TestTargetOfferBeforeOurs(t *testing.T) {
	n := New(Config{}, Normal)
	reply, err := n.Handle(kvs("MaxBurstLength=65536"))
	require.NoError(t, err)
	require.Equal(t, kvs("MaxBurstLength=65536"), reply)
	offer := n.Offer()
	_, found := pdu.Lookup(offer, "MaxBurstLength")
	require.False(t, found, "a settled key is not offered again")
	require.NotContains(t, n.Pending(), "MaxBurstLength")
}

func TestReservedAnswersFallBack(t *testing.T) {
	for _, special := range []string{"Reject", "Irrelevant", "NotUnderstood"} {
		t.Run(special, func(t *testing.T) {
			n := New(Config{TaskReporting: []string{"FastAbort"}, ProtocolLevel: 2}, Normal)
			offer := n.Offer()
			var answers []pdu.KeyValue
			for _, kv := range offer {
				if kv.Key != "MaxRecvDataSegmentLength" {
					answers = append(answers, pdu.KeyValue{Key: kv.Key, Value: special})
				}
			}
			reply, err := n.Handle(answers)
			require.NoError(t, err)
			require.Empty(t, reply)
			require.Empty(t, n.Pending())
			require.Equal(t, answers, n.Fallbacks())
			want := Defaults()
			want.MaxRecvDataSegmentLength = 262144 // our declaration stands
			require.Equal(t, want, n.Result())
		})
	}
}

func TestRequiredDigestRejected(t *testing.T) {
	n := New(Config{HeaderDigest: []string{"CRC32C"}}, Normal)
	n.Offer()
	_, err := n.Handle(kvs("HeaderDigest=Reject"))
	require.ErrorIs(t, err, ErrNegotiation)
	require.False(t, n.Result().HeaderDigest)

	n = New(Config{HeaderDigest: []string{"CRC32C", "None"}}, Normal)
	n.Offer()
	_, err = n.Handle(kvs("HeaderDigest=Reject"))
	require.NoError(t, err)
	require.False(t, n.Result().HeaderDigest)
}

func TestOptionalAnswers(t *testing.T) {
	// DataPDUInOrder and DataSequenceInOrder offered Yes (OR): no answer is
	// needed, and the result is Yes whether or not the target answers.
	n := New(Config{ImmediateData: No}, Normal)
	n.Offer()
	require.NotContains(t, n.Pending(), "DataPDUInOrder")
	require.NotContains(t, n.Pending(), "ImmediateData")
	r := n.Result()
	require.True(t, r.DataPDUInOrder)
	require.False(t, r.ImmediateData)
	_, err := n.Handle(kvs("DataPDUInOrder=Yes", "ImmediateData=No"))
	require.NoError(t, err)
	_, err = n.Handle(kvs("DataSequenceInOrder=No"))
	require.ErrorIs(t, err, ErrNegotiation)
}

func TestProtocolErrors(t *testing.T) {
	tests := []struct {
		name  string
		st    SessionType
		keys  []pdu.KeyValue
		twice bool // send keys in a second response after the first
	}{
		{"duplicate answer", Normal, kvs("MaxBurstLength=65536", "MaxBurstLength=65536"), false},
		{"duplicate declaration", Normal, kvs("TargetAlias=a", "TargetAlias=a"), false},
		{"duplicate unknown key", Normal, kvs("Foo=1", "Foo=2"), false},
		{"answer twice", Normal, kvs("MaxBurstLength=65536"), true},
		{"offer reserved Reject", Normal, kvs("MaxOutstandingR2T=Reject"), false},
		{"offer reserved Irrelevant", Discovery, kvs("MaxBurstLength=Irrelevant"), false},
		{"offer reserved NotUnderstood", Normal, kvs("TaskReporting=NotUnderstood"), false},
		{"offer garbage bool", Normal, kvs("InitialR2T=Maybe"), false},
		{"offer garbage number", Normal, kvs("MaxOutstandingR2T=many"), false},
		{"offer number beyond 64 bits", Normal, kvs("MaxConnections=0x1ffffffffffffffff"), false},
		{"security key", Normal, kvs("AuthMethod=None"), false},
		{"CHAP key", Normal, kvs("CHAP_A=5"), false},
		{"initiator key InitiatorName", Normal, kvs("InitiatorName=iqn.x"), false},
		{"initiator key SessionType", Normal, kvs("SessionType=Normal"), false},
		{"initiator key TargetName", Normal, kvs("TargetName=iqn.y"), false},
		{"SendTargets", Discovery, kvs("SendTargets=All"), false},
		{"target MRDSL too small", Normal, kvs("MaxRecvDataSegmentLength=511"), false},
		{"target MRDSL too large", Normal, kvs("MaxRecvDataSegmentLength=16777216"), false},
		{"target MRDSL garbage", Normal, kvs("MaxRecvDataSegmentLength=big"), false},
		{"TPGT too large", Normal, kvs("TargetPortalGroupTag=65536"), false},
		{"TPGT negative", Normal, kvs("TargetPortalGroupTag=-1"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := New(Config{}, tc.st)
			_, err := n.Handle(tc.keys)
			if tc.twice {
				n = New(Config{}, tc.st)
				n.Offer()
				_, err = n.Handle(tc.keys)
				require.NoError(t, err)
				_, err = n.Handle(tc.keys)
			}
			require.ErrorIs(t, err, ErrNegotiation)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.keys[0].Key, e.Key)
			assertLegal(t, n.Result())
		})
	}
}

func TestStrayReservedValuesIgnored(t *testing.T) {
	n := New(Config{}, Normal)
	reply, err := n.Handle(kvs("X-com.example.Thing=NotUnderstood", "Foo=Reject", "OFMarker=Irrelevant"))
	require.NoError(t, err)
	require.Empty(t, reply)
}

func TestDeclarations(t *testing.T) {
	n := New(Config{}, Normal)
	reply, err := n.Handle(kvs(
		"TargetPortalGroupTag=1",
		"TargetAlias=disk one",
		"TargetAddress=[fe80::1]:3260,1",
		"MaxRecvDataSegmentLength=0x10000",
		"X#NodeArchitecture=gomp-test/1",
	))
	require.NoError(t, err)
	require.Empty(t, reply, "declarations are not answered")
	r := n.Result()
	require.Equal(t, 1, r.TargetPortalGroupTag)
	require.Equal(t, "disk one", r.TargetAlias)
	require.Equal(t, "[fe80::1]:3260,1", r.TargetAddress)
	require.Equal(t, 65536, r.TargetMaxRecvDataSegmentLength)
	require.Equal(t, 8192, r.MaxRecvDataSegmentLength, "ours is not declared yet")
	require.Equal(t, "gomp-test/1", r.TargetNodeArchitecture)

	// A later response may declare again (a target restating its alias).
	_, err = n.Handle(kvs("TargetAlias=disk two", "TargetPortalGroupTag=0", "MaxRecvDataSegmentLength=512"))
	require.NoError(t, err)
	r = n.Result()
	require.Equal(t, "disk two", r.TargetAlias)
	require.Equal(t, 0, r.TargetPortalGroupTag)
	require.Equal(t, 512, r.TargetMaxRecvDataSegmentLength)

	// A target that did not understand our declaration.
	n.Offer()
	_, err = n.Handle(kvs("MaxRecvDataSegmentLength=NotUnderstood"))
	require.NoError(t, err)
	require.Equal(t, 512, n.Result().TargetMaxRecvDataSegmentLength)
	require.Equal(t, kvs("MaxRecvDataSegmentLength=NotUnderstood"), n.Fallbacks())
}

func TestFirstBurstLength(t *testing.T) {
	t.Run("above MaxBurstLength is an error", func(t *testing.T) {
		n := New(Config{}, Normal)
		n.Offer()
		_, err := n.Handle(kvs("InitialR2T=No", "ImmediateData=Yes", "MaxBurstLength=65536", "FirstBurstLength=131072"))
		var e *Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, "FirstBurstLength", e.Key)
		require.Equal(t, "131072", e.Value)
	})
	t.Run("checked once both are answered", func(t *testing.T) {
		n := New(Config{}, Normal)
		n.Offer()
		_, err := n.Handle(kvs("MaxBurstLength=65536"))
		require.NoError(t, err, "FirstBurstLength still pending")
		_, err = n.Handle(kvs("FirstBurstLength=65536"))
		require.NoError(t, err)
	})
	t.Run("rejected MaxBurstLength falls below answer", func(t *testing.T) {
		n := New(Config{FirstBurstLength: 524288}, Normal)
		n.Offer()
		_, err := n.Handle(kvs("InitialR2T=Yes", "ImmediateData=Yes", "MaxBurstLength=Reject", "FirstBurstLength=524288"))
		require.ErrorIs(t, err, ErrNegotiation, "default MaxBurstLength is 262144")
	})
	t.Run("irrelevant answer while relevant", func(t *testing.T) {
		n := New(Config{}, Normal)
		n.Offer()
		_, err := n.Handle(kvs("InitialR2T=No", "ImmediateData=Yes", "MaxBurstLength=4096", "FirstBurstLength=Irrelevant"))
		require.ErrorIs(t, err, ErrNegotiation, "default FirstBurstLength 65536 > 4096")
	})
	t.Run("waits for InitialR2T and ImmediateData", func(t *testing.T) {
		n := New(Config{}, Normal)
		n.Offer()
		_, err := n.Handle(kvs("MaxBurstLength=4096", "FirstBurstLength=Irrelevant"))
		require.NoError(t, err)
		_, err = n.Handle(kvs("InitialR2T=Yes", "ImmediateData=No"))
		require.NoError(t, err)
	})
	t.Run("irrelevant when InitialR2T=Yes and ImmediateData=No", func(t *testing.T) {
		n := New(Config{InitialR2T: Yes, ImmediateData: No}, Normal)
		n.Offer()
		_, err := n.Handle(kvs("MaxBurstLength=4096", "FirstBurstLength=Irrelevant"))
		require.NoError(t, err)
		require.False(t, n.Result().FirstBurstRelevant())
	})
	t.Run("not checked when irrelevant", func(t *testing.T) {
		n := New(Config{}, Normal)
		n.Offer()
		_, err := n.Handle(kvs("InitialR2T=Yes", "ImmediateData=No", "MaxBurstLength=4096", "FirstBurstLength=8192"))
		require.NoError(t, err)
	})
}

func TestFirstBurstOfferIrrelevant(t *testing.T) {
	n := New(Config{InitialR2T: Yes, ImmediateData: No}, Normal)
	// Settle InitialR2T and ImmediateData through target offers first.
	reply, err := n.Handle(kvs("InitialR2T=Yes", "ImmediateData=No", "FirstBurstLength=65536"))
	require.NoError(t, err)
	require.Equal(t, kvs("InitialR2T=Yes", "ImmediateData=No", "FirstBurstLength=Irrelevant"), reply)
}

// assertLegal checks every numerical result against its key's range.
func assertLegal(t testing.TB, p Params) {
	t.Helper()
	if msg := illegal(p); msg != "" {
		t.Fatalf("illegal result: %s in %+v", msg, p)
	}
}

func illegal(p Params) string {
	in := func(v, lo, hi int) bool { return lo <= v && v <= hi }
	switch {
	case !in(p.MaxRecvDataSegmentLength, 512, 1<<24-1):
		return "MaxRecvDataSegmentLength"
	case !in(p.TargetMaxRecvDataSegmentLength, 512, 1<<24-1):
		return "TargetMaxRecvDataSegmentLength"
	case !in(p.MaxBurstLength, 512, 1<<24-1):
		return "MaxBurstLength"
	case !in(p.FirstBurstLength, 512, 1<<24-1):
		return "FirstBurstLength"
	case !in(p.MaxOutstandingR2T, 1, 65535):
		return "MaxOutstandingR2T"
	case !in(p.MaxConnections, 1, 65535):
		return "MaxConnections"
	case !in(p.DefaultTime2Wait, 0, 3600):
		return "DefaultTime2Wait"
	case !in(p.DefaultTime2Retain, 0, 3600):
		return "DefaultTime2Retain"
	case !in(p.ErrorRecoveryLevel, 0, 2):
		return "ErrorRecoveryLevel"
	case !in(p.ProtocolLevel, 0, 31):
		return "ProtocolLevel"
	case !in(p.TargetPortalGroupTag, -1, 65535):
		return "TargetPortalGroupTag"
	case p.TaskReporting != "RFC3720" && p.TaskReporting != "ResponseFence" && p.TaskReporting != "FastAbort":
		return "TaskReporting"
	}
	return ""
}

func TestErrorType(t *testing.T) {
	e := &Error{Key: "MaxBurstLength", Value: "0", Reason: "outside the key's range 512..16777215"}
	require.Equal(t, "negotiate: target sent MaxBurstLength=0: outside the key's range 512..16777215", e.Error())
	require.True(t, errors.Is(e, ErrNegotiation))
	require.False(t, errors.Is(e, ErrConfig))
	long := fail("TargetAlias", strings.Repeat("a", 100), "x")
	require.Len(t, long.Value, 40+len("…"))
}
