package iscsitest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/pdu"
)

// A two-stage login without authentication: security, then operational
// negotiation, with the RFC 7143 result functions.
func TestLoginNoAuth(t *testing.T) {
	ti := start(t, Config{MaxBurstLength: 131072, MaxRecvDataSegmentLength: 16384, InitialStatSN: 0xfffffffe})

	r := ti.loginStep(pdu.StageSecurity, pdu.StageOperational, true,
		ti.normalKeys(kv("AuthMethod", "CHAP,None"))...)
	require.Equal(t, pdu.LoginSuccess, r.Status)
	require.True(t, r.Transit)
	require.Equal(t, pdu.StageOperational, r.NSG)
	require.Equal(t, ti.isid, r.ISID)
	require.Zero(t, r.TSIH, "TSIH comes with the final response")
	require.Equal(t, uint32(0xfffffffe), r.StatSN)
	require.Equal(t, ti.cmdSN, r.ExpCmdSN)
	require.Equal(t, ti.cmdSN+DefaultCmdSNWindow-1, r.MaxCmdSN)
	kvs := parse(t, r.Data)
	require.Equal(t, []pdu.KeyValue{kv("TargetPortalGroupTag", "1"), kv("AuthMethod", "None")}, kvs)

	r = ti.loginStep(pdu.StageOperational, pdu.StageFullFeature, true,
		kv("HeaderDigest", "None"), kv("DataDigest", "None"), kv("MaxRecvDataSegmentLength", "8192"),
		kv("MaxBurstLength", "262144"), kv("FirstBurstLength", "32768"), kv("InitialR2T", "No"),
		kv("ImmediateData", "Yes"), kv("MaxOutstandingR2T", "4"), kv("DefaultTime2Wait", "0"),
		kv("DefaultTime2Retain", "0"), kv("ErrorRecoveryLevel", "1"), kv("MaxConnections", "4"),
		kv("DataPDUInOrder", "No"), kv("X-com.example.Foo", "bar"))
	require.Equal(t, pdu.LoginSuccess, r.Status)
	require.Equal(t, uint32(0xffffffff), r.StatSN)
	got := map[string]string{}
	for _, p := range parse(t, r.Data) {
		got[p.Key] = p.Value
	}
	require.Equal(t, map[string]string{"HeaderDigest": "None", "DataDigest": "None",
		"MaxBurstLength": "131072", "FirstBurstLength": "32768", "InitialR2T": "No",
		"ImmediateData": "Yes", "MaxOutstandingR2T": "1", "DefaultTime2Wait": "2",
		"DefaultTime2Retain": "0", "ErrorRecoveryLevel": "0", "MaxConnections": "1",
		"DataPDUInOrder": "Yes", "X-com.example.Foo": "NotUnderstood",
		"MaxRecvDataSegmentLength": "16384"}, got)
	ti.finishLogin(r)

	p := ti.conn().Params()
	require.Equal(t, testInitiatorName, p.InitiatorName)
	require.Equal(t, DefaultName, p.TargetName)
	require.Equal(t, r.TSIH, p.TSIH)
	require.Equal(t, 8192, p.InitiatorMaxRecvDataSegmentLength)
	require.Equal(t, 16384, p.TargetMaxRecvDataSegmentLength)
	require.False(t, p.InitialR2T)
	require.Equal(t, 131072, p.MaxBurstLength)

	in := ti.nopPing([]byte("hello"))
	require.Equal(t, uint32(0), in.StatSN, "StatSN wraps")
	ti.logout()
	require.Empty(t, ti.conn0Violations())
}

// conn0Violations works after the connection ended too.
func (ti *testInit) conn0Violations() []string {
	if cs := ti.tg.Conns(); len(cs) == 1 {
		return cs[0].Stats().Violations
	}
	return nil
}

func TestLoginCHAP(t *testing.T) {
	chap := &CHAPConfig{User: "alice", Secret: "s3cret-s3cret", MutualUser: "tgt", MutualSecret: "other-secret"}
	for _, tc := range []struct {
		name   string
		alg    byte
		algs   []byte
		user   string
		secret string
		mutual bool
		status pdu.LoginStatus
	}{
		{name: "md5", alg: 5, user: "alice", secret: "s3cret-s3cret"},
		{name: "md5 mutual", alg: 5, user: "alice", secret: "s3cret-s3cret", mutual: true},
		{name: "sha256 mutual", alg: 7, algs: []byte{7, 5}, user: "alice", secret: "s3cret-s3cret", mutual: true},
		{name: "sha3", alg: 8, algs: []byte{8}, user: "alice", secret: "s3cret-s3cret"},
		{name: "wrong secret", alg: 5, user: "alice", secret: "wrong", status: pdu.LoginAuthenticationFailure},
		{name: "wrong user", alg: 5, user: "bob", secret: "s3cret-s3cret", status: pdu.LoginAuthenticationFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := *chap
			cfg.Algorithms = tc.algs
			ti := start(t, Config{CHAP: &cfg})
			r := ti.chapLogin(tc.alg, tc.user, tc.secret, tc.mutual)
			require.Equal(t, tc.status, r.Status)
			if tc.status != pdu.LoginSuccess {
				var rej *LoginRejectedError
				require.ErrorAs(t, ti.wait(), &rej)
				require.Equal(t, tc.status, rej.Status)
				return
			}
			p := ti.conn().Params()
			require.Equal(t, "CHAP", p.AuthMethod)
			require.Equal(t, tc.alg, p.CHAPAlgorithm)
			require.Equal(t, tc.mutual, p.MutualCHAP)
			ti.logout()
		})
	}
}

// chapLogin runs the CHAP exchange of RFC 7143 §12.1.3 and, when it
// succeeds, the operational stage. It returns the last login response.
func (ti *testInit) chapLogin(alg byte, user, secret string, mutual bool) *pdu.LoginResponse {
	t := ti.t
	r := ti.loginStep(pdu.StageSecurity, pdu.StageOperational, true, ti.normalKeys(kv("AuthMethod", "CHAP,None"))...)
	require.Equal(t, pdu.LoginSuccess, r.Status)
	require.False(t, r.Transit, "no transit before authentication")
	require.Equal(t, "CHAP", lookup(t, r.Data, "AuthMethod"))

	r = ti.loginStep(pdu.StageSecurity, pdu.StageOperational, true, kv("CHAP_A", fmt.Sprintf("%d,5", alg)))
	require.Equal(t, strconv.Itoa(int(alg)), lookup(t, r.Data, "CHAP_A"))
	id, err := strconv.Atoi(lookup(t, r.Data, "CHAP_I"))
	require.NoError(t, err)
	challenge, err := pdu.ParseBinary(lookup(t, r.Data, "CHAP_C"))
	require.NoError(t, err)
	require.Len(t, challenge, chapHash(alg)().Size())

	keys := []pdu.KeyValue{kv("CHAP_N", user), kv("CHAP_R", pdu.FormatHex(chapDigest(alg, byte(id), secret, challenge)))}
	myChallenge := []byte("initiator-challenge-0123")
	if mutual {
		keys = append(keys, kv("CHAP_I", "77"), kv("CHAP_C", pdu.FormatHex(myChallenge)))
	}
	r = ti.loginStep(pdu.StageSecurity, pdu.StageOperational, true, keys...)
	if r.Status != pdu.LoginSuccess {
		return r
	}
	require.True(t, r.Transit)
	if mutual {
		require.Equal(t, "tgt", lookup(t, r.Data, "CHAP_N"))
		want := pdu.FormatHex(chapDigest(alg, 77, "other-secret", myChallenge))
		require.Equal(t, want, lookup(t, r.Data, "CHAP_R"))
	}
	r = ti.loginStep(pdu.StageOperational, pdu.StageFullFeature, true, kv("MaxRecvDataSegmentLength", "65536"))
	ti.finishLogin(r)
	return r
}

func TestLoginFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		csg    pdu.Stage
		keys   []pdu.KeyValue
		status pdu.LoginStatus
		check  func(t *testing.T, r *pdu.LoginResponse)
	}{
		{name: "wrong target name", keys: []pdu.KeyValue{kv("InitiatorName", "iqn.x"), kv("TargetName", "iqn.nope")},
			status: pdu.LoginNotFound},
		{name: "no initiator name", keys: []pdu.KeyValue{kv("TargetName", DefaultName)},
			status: pdu.LoginMissingParameter},
		{name: "no target name", keys: []pdu.KeyValue{kv("InitiatorName", "iqn.x")},
			status: pdu.LoginMissingParameter},
		{name: "CHAP skipped", cfg: Config{CHAP: &CHAPConfig{User: "u", Secret: "0123456789ab"}}, csg: pdu.StageOperational,
			keys: []pdu.KeyValue{kv("InitiatorName", "iqn.x"), kv("TargetName", DefaultName)}, status: pdu.LoginAuthenticationFailure},
		{name: "CHAP not offered", cfg: Config{CHAP: &CHAPConfig{User: "u", Secret: "0123456789ab"}},
			keys:   []pdu.KeyValue{kv("InitiatorName", "iqn.x"), kv("TargetName", DefaultName), kv("AuthMethod", "None")},
			status: pdu.LoginAuthenticationFailure},
		{name: "redirect", cfg: Config{Redirect: "10.0.0.2:3260,1"},
			keys:   []pdu.KeyValue{kv("InitiatorName", "iqn.x"), kv("TargetName", DefaultName)},
			status: pdu.LoginTargetMovedTemporarily,
			check: func(t *testing.T, r *pdu.LoginResponse) {
				require.Equal(t, "10.0.0.2:3260,1", lookup(t, r.Data, "TargetAddress"))
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ti := start(t, tc.cfg)
			r := ti.loginStep(tc.csg, pdu.StageFullFeature, true, tc.keys...)
			require.Equal(t, tc.status, r.Status)
			if tc.check != nil {
				tc.check(t, r)
			}
			var rej *LoginRejectedError
			require.ErrorAs(t, ti.wait(), &rej)
			_, err := ti.fr.ReadPDU()
			require.Error(t, err, "the target closed the connection")
		})
	}
}

// The initiator's login text continues over two PDUs (C bit); the target
// answers the first with an empty response.
func TestLoginTextContinuation(t *testing.T) {
	ti := start(t, Config{})
	all := text(t, append(ti.normalKeys(), kv("MaxRecvDataSegmentLength", "65536"), kv("X-pad", strings.Repeat("p", 300)))...)
	ti.send(&pdu.LoginRequest{Continue: true, CSG: pdu.StageOperational, NSG: 0, ISID: ti.isid, ITT: ti.itt,
		CmdSN: ti.cmdSN, Data: all[:100]})
	r := recvAs[*pdu.LoginResponse](ti)
	require.Empty(t, r.Data)
	require.False(t, r.Transit)
	ti.send(&pdu.LoginRequest{Transit: true, CSG: pdu.StageOperational, NSG: pdu.StageFullFeature,
		ISID: ti.isid, ITT: ti.itt, CmdSN: ti.cmdSN, ExpStatSN: ti.expStatSN, Data: all[100:]})
	r = recvAs[*pdu.LoginResponse](ti)
	require.Equal(t, pdu.LoginSuccess, r.Status)
	require.Equal(t, "NotUnderstood", lookup(t, r.Data, "X-pad"))
	ti.finishLogin(r)
	ti.logout()
}

// With CRC32C negotiated both ways, the target checks and sends digests,
// and CorruptNextDigest makes the next one fail on the initiator's side.
func TestLoginDigests(t *testing.T) {
	ti := start(t, Config{})
	r := ti.login(kv("HeaderDigest", "CRC32C,None"), kv("DataDigest", "CRC32C,None"))
	require.Equal(t, "CRC32C", lookup(t, r.Data, "HeaderDigest"))
	p := ti.conn().Params()
	require.True(t, p.HeaderDigest)
	require.True(t, p.DataDigest)
	ti.nopPing([]byte("digested"))

	ti.conn().CorruptNextDigest(pdu.DataDigest)
	ti.itt++
	ti.send(&pdu.NOPOut{Immediate: true, ITT: ti.itt, TTT: pdu.ReservedTag, CmdSN: ti.cmdSN, Data: []byte("x")})
	_, err := ti.fr.ReadPDU()
	var de *pdu.DigestError
	require.ErrorAs(t, err, &de)
	require.Equal(t, pdu.DataDigest, de.Kind)
	ti.nopPing(nil) // the stream is still in sync after a data digest error

	ti.conn().CorruptNextDigest(pdu.HeaderDigest)
	ti.itt++
	ti.send(&pdu.NOPOut{Immediate: true, ITT: ti.itt, TTT: pdu.ReservedTag, CmdSN: ti.cmdSN})
	_, err = ti.fr.ReadPDU()
	require.ErrorAs(t, err, &de)
	require.Equal(t, pdu.HeaderDigest, de.Kind)
}

// A Data-Out with a bad data digest is rejected and its command ends with
// CHECK CONDITION, ABORTED COMMAND, PROTOCOL SERVICE CRC ERROR.
func TestDataOutDigestError(t *testing.T) {
	ti := start(t, Config{LUNs: map[uint16]*LUN{0: NewLUN(64, 512)}})
	ti.login(kv("DataDigest", "CRC32C"), kv("ImmediateData", "No"))
	itt := ti.command(0, cdb10(0x2a, 0, 1), 512, false, true, nil, true)
	r2t := recvAs[*pdu.R2T](ti)
	raw := corruptDataDigest(t, &pdu.DataOut{Final: true, ITT: itt, TTT: r2t.TTT, Data: pattern(512, 0)}, false)
	_, err := ti.nc.Write(raw)
	require.NoError(t, err)
	rej := recvAs[*pdu.Reject](ti)
	require.Equal(t, pdu.RejectDataDigestError, rej.Reason)
	key, asc, ascq := senseOf(t, ti.status(itt))
	require.Equal(t, [3]byte{0x0b, 0x47, 0x05}, [3]byte{key, asc, ascq})
}

func TestDiscoverySendTargets(t *testing.T) {
	var portals []string
	for i := range 100 {
		portals = append(portals, fmt.Sprintf("192.0.2.%d:3260", i+1))
	}
	ti := start(t, Config{Portals: portals, Alias: "ignored in discovery"})
	ti.mrdsl = 512
	r := ti.loginStep(pdu.StageOperational, pdu.StageFullFeature, true, kv("InitiatorName", testInitiatorName),
		kv("SessionType", "Discovery"), kv("MaxRecvDataSegmentLength", "512"), kv("InitialR2T", "No"))
	require.Equal(t, pdu.ValueIrrelevant, lookup(t, r.Data, "InitialR2T"))
	require.Equal(t, "", lookup(t, r.Data, "TargetAlias"))
	ti.finishLogin(r)

	ti.itt++
	ti.send(&pdu.TextRequest{Final: true, ITT: ti.itt, TTT: pdu.ReservedTag, CmdSN: ti.cmdSN,
		ExpStatSN: ti.expStatSN, Data: text(t, kv("SendTargets", "All"))})
	ti.cmdSN++
	var all []byte
	for n := 1; ; n++ {
		resp := recvAs[*pdu.TextResponse](ti)
		require.LessOrEqual(t, len(resp.Data), 512)
		all = append(all, resp.Data...)
		if resp.Final {
			require.Equal(t, uint32(pdu.ReservedTag), resp.TTT)
			require.Greater(t, n, 5, "a long answer is split")
			break
		}
		require.True(t, resp.Continue)
		require.NotEqual(t, uint32(pdu.ReservedTag), resp.TTT)
		ti.send(&pdu.TextRequest{Final: true, ITT: ti.itt, TTT: resp.TTT, CmdSN: ti.cmdSN, ExpStatSN: ti.expStatSN})
		ti.cmdSN++
	}
	kvs := parse(t, all)
	require.Equal(t, kv("TargetName", DefaultName), kvs[0])
	require.Len(t, kvs, 101)
	require.Equal(t, kv("TargetAddress", "192.0.2.100:3260,1"), kvs[100])

	// SCSI commands have no place in a discovery session.
	ti.readCmd(0, []byte{0, 0, 0, 0, 0, 0}, 0)
	require.Equal(t, pdu.RejectProtocolError, recvAs[*pdu.Reject](ti).Reason)
	ti.logout()
}

// The initiator's Text Request continues (C bit): the target answers with
// an empty response carrying a TTT the next request echoes.
func TestTextRequestContinuation(t *testing.T) {
	ti := start(t, Config{Portals: []string{"127.0.0.1:3260"}})
	ti.login()
	all := text(t, kv("SendTargets", ""), kv("X-foo", "bar"))
	ti.itt++
	ti.send(&pdu.TextRequest{Continue: true, ITT: ti.itt, TTT: pdu.ReservedTag, CmdSN: ti.cmdSN, Data: all[:5]})
	ti.cmdSN++
	r := recvAs[*pdu.TextResponse](ti)
	require.False(t, r.Final)
	require.Empty(t, r.Data)
	ti.send(&pdu.TextRequest{Final: true, ITT: ti.itt, TTT: r.TTT, CmdSN: ti.cmdSN, Data: all[5:]})
	ti.cmdSN++
	r = recvAs[*pdu.TextResponse](ti)
	require.True(t, r.Final)
	require.Equal(t, []pdu.KeyValue{kv("TargetName", DefaultName), kv("TargetAddress", "127.0.0.1:3260,1"),
		kv("X-foo", "NotUnderstood")}, parse(t, r.Data))
	ti.logout()
}
