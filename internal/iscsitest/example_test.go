package iscsitest_test

import (
	"bufio"
	"fmt"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/pdu"
)

// A test serves a Target on one end of a Pipe and drives the other end.
func ExampleTarget_Serve() {
	tg := iscsitest.New(iscsitest.Config{LUNs: map[uint16]*iscsitest.LUN{0: iscsitest.NewLUN(2048, 512)}})
	ini, tgt := iscsitest.Pipe()
	served := make(chan error, 1)
	go func() { served <- tg.Serve(tgt) }()

	fr := pdu.NewFramer(bufio.NewReader(ini), ini)
	keys, _ := pdu.AppendText(nil,
		pdu.KeyValue{Key: "InitiatorName", Value: "iqn.2024-01.dev.gomp:example"},
		pdu.KeyValue{Key: "TargetName", Value: tg.Name()})
	_ = fr.WritePDU(&pdu.LoginRequest{Transit: true, CSG: pdu.StageOperational, NSG: pdu.StageFullFeature,
		ISID: pdu.ISID{0x80, 0, 0, 0, 0, 1}, CmdSN: 1, Data: keys})
	p, _ := fr.ReadPDU()
	resp := p.(*pdu.LoginResponse)
	fmt.Println(resp.Status, resp.NSG, resp.TSIH)

	ini.Close()
	fmt.Println(<-served)
	// Output:
	// success FullFeaturePhase 1
	// <nil>
}
