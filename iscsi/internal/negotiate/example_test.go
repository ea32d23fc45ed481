package negotiate_test

import (
	"fmt"

	"github.com/gomp-dev/gomp/iscsi/internal/negotiate"
	"github.com/gomp-dev/gomp/pdu"
)

func ExampleNegotiator() {
	n := negotiate.New(negotiate.Config{}, negotiate.Normal)
	offer := n.Offer() // goes in the first operational-stage Login Request
	fmt.Println(len(offer), "keys offered")

	// The target's Login Response: answers to our offer, one offer of its
	// own, and a key we do not know.
	reply, err := n.Handle([]pdu.KeyValue{
		{Key: "HeaderDigest", Value: "None"},
		{Key: "DataDigest", Value: "None"},
		{Key: "MaxConnections", Value: "1"},
		{Key: "InitialR2T", Value: "Yes"},
		{Key: "ImmediateData", Value: "Yes"},
		{Key: "MaxBurstLength", Value: "262144"},
		{Key: "FirstBurstLength", Value: "65536"},
		{Key: "DefaultTime2Wait", Value: "2"},
		{Key: "DefaultTime2Retain", Value: "0"},
		{Key: "MaxOutstandingR2T", Value: "1"},
		{Key: "ErrorRecoveryLevel", Value: "0"},
		{Key: "MaxRecvDataSegmentLength", Value: "65536"},
		{Key: "TaskReporting", Value: "FastAbort,RFC3720"},
		{Key: "X-com.example.Feature", Value: "on"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("reply:", reply) // goes in the next Login Request
	fmt.Println("pending:", n.Pending())
	p := n.Result()
	fmt.Println("we send at most", p.TargetMaxRecvDataSegmentLength, "bytes per PDU")
	fmt.Println("bursts:", p.FirstBurstLength, p.MaxBurstLength, "InitialR2T:", p.InitialR2T)
	// Output:
	// 14 keys offered
	// reply: [TaskReporting=RFC3720 X-com.example.Feature=NotUnderstood]
	// pending: []
	// we send at most 65536 bytes per PDU
	// bursts: 65536 262144 InitialR2T: true
}
