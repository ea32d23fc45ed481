package negotiate

import (
	"strings"
	"testing"

	"github.com/gomp-dev/gomp/pdu"
)

// fuzzConfigs are the configurations FuzzHandle picks from.
var fuzzConfigs = []Config{
	{},
	{HeaderDigest: []string{"CRC32C"}, DataDigest: []string{"CRC32C", "None"}},
	{InitialR2T: Yes, ImmediateData: No, MaxBurstLength: 4096, FirstBurstLength: 4096},
	{DataPDUInOrder: No, DataSequenceInOrder: No, ErrorRecoveryLevel: 2, DefaultTime2Wait: -1},
	{TaskReporting: []string{"FastAbort", "RFC3720"}, ProtocolLevel: 2, MaxConnections: 4},
}

// splitExchanges turns fuzz text into responses: '\n' ends a response,
// NUL ends a key=value pair, as on the wire.
func splitExchanges(text string) [][]pdu.KeyValue {
	var out [][]pdu.KeyValue
	for _, resp := range strings.Split(text, "\n") {
		var kvs []pdu.KeyValue
		for _, pair := range strings.Split(resp, "\x00") {
			if pair == "" {
				continue
			}
			k, v, _ := strings.Cut(pair, "=")
			kvs = append(kvs, pdu.KeyValue{Key: k, Value: v})
		}
		out = append(out, kvs)
	}
	return out
}

func wire(kvs []pdu.KeyValue) string {
	var b strings.Builder
	for _, kv := range kvs {
		b.WriteString(kv.String())
		b.WriteByte(0)
	}
	return b.String()
}

func FuzzHandle(f *testing.F) {
	tgtd := wire(kvs("HeaderDigest=None", "DataDigest=None", "MaxConnections=1", "InitialR2T=Yes",
		"ImmediateData=Yes", "MaxBurstLength=262144", "FirstBurstLength=65536", "DefaultTime2Wait=2",
		"DefaultTime2Retain=0", "MaxOutstandingR2T=1", "DataPDUInOrder=Yes", "DataSequenceInOrder=Yes",
		"ErrorRecoveryLevel=0"))
	f.Add(uint8(0), uint8(1), "TargetPortalGroupTag=1\n"+tgtd)
	f.Add(uint8(0), uint8(3), tgtd+"MaxRecvDataSegmentLength=262144\x00\n")
	f.Add(uint8(1), uint8(1), "HeaderDigest=None\x00DataDigest=None\x00MaxBurstLength=512\x00ErrorRecoveryLevel=2\x00")
	f.Add(uint8(0), uint8(0), "MaxBurstLength=0x200\x00FirstBurstLength=0b//8=\x00InitialR2T=No\x00X-a=b\x00OFMarkInt=1\x00")
	f.Add(uint8(0), uint8(5), "TaskReporting=FastAbort,RFC3720\x00iSCSIProtocolLevel=31\x00DefaultTime2Wait=3600\n\x00\x00=\x00MaxConnections=Reject")
	f.Add(uint8(0), uint8(9), "MaxBurstLength=Reject\x00FirstBurstLength=Irrelevant\x00ImmediateData=NotUnderstood\x00InitialR2T=Yes")
	f.Add(uint8(1), uint8(0), "MaxRecvDataSegmentLength=18446744073709551615\x00TargetPortalGroupTag=0xffff")
	f.Fuzz(func(t *testing.T, st, sel uint8, text string) {
		n := New(fuzzConfigs[int(sel>>1)%len(fuzzConfigs)], SessionType(st%2))
		if sel&1 == 1 {
			n.Offer()
		}
		failed := false
		for _, resp := range splitExchanges(text) {
			reply, err := n.Handle(resp)
			assertLegal(t, n.Result())
			if err != nil {
				failed = true
				continue
			}
			checkReply(t, resp, reply)
			if !failed {
				checkBurstInvariant(t, n)
			}
		}
		for _, k := range n.Pending() {
			if n.state[k] != offered {
				t.Fatalf("pending key %s in state %d", k, n.state[k])
			}
		}
	})
}

// checkReply: every answer is to a key of the response, in its order, with
// a value that is valid text.
func checkReply(t *testing.T, resp, reply []pdu.KeyValue) {
	t.Helper()
	i := 0
	for _, r := range reply {
		for i < len(resp) && resp[i].Key != r.Key {
			i++
		}
		if i == len(resp) {
			t.Fatalf("reply %v answers no key of %v, or out of order", r, resp)
		}
		if r.Value == "" || strings.ContainsAny(r.Value, "\x00=") {
			t.Fatalf("reply %v has a bad value", r)
		}
	}
}

func checkBurstInvariant(t *testing.T, n *Negotiator) {
	t.Helper()
	if n.st != Normal || n.state["FirstBurstLength"] != settled || n.state["MaxBurstLength"] != settled {
		return
	}
	if s := n.state["InitialR2T"]; s == offered {
		return
	}
	if s := n.state["ImmediateData"]; s == offered {
		return
	}
	p := n.Result()
	if p.FirstBurstRelevant() && p.FirstBurstLength > p.MaxBurstLength {
		t.Fatalf("accepted FirstBurstLength %d > MaxBurstLength %d", p.FirstBurstLength, p.MaxBurstLength)
	}
}
