package iscsi_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/iscsi"
)

// The main flow: discover the targets behind a portal, log in to one, open
// a disk LUN and read and write it as an io.ReaderAt and io.WriterAt. Here
// the portal is an in-process fake target reached through Config.Dial; a
// real one needs only Portal (e.g. "192.0.2.10", port 3260 by default).
func Example() {
	ctx := context.Background()
	tg := iscsitest.New(iscsitest.Config{
		Name:    "iqn.2026-11.dev.gomp:example",
		Portals: []string{"192.0.2.10:3260"},
		LUNs:    map[uint16]*iscsitest.LUN{1: iscsitest.NewLUN(2048, 512)}, // 1 MiB
	})
	defer tg.Close()
	dial := tg.Dial // every address reaches tg, in process

	targets, err := iscsi.Discover(ctx, iscsi.Config{Portal: "192.0.2.10", Dial: dial})
	if err != nil {
		log.Fatal(err)
	}
	t := targets[0]
	fmt.Println(t.Name, t.Portals[0].Addr)

	s, err := iscsi.Dial(ctx, iscsi.Config{Portal: t.Portals[0].Addr, TargetName: t.Name, Dial: dial})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)
	lun, err := s.OpenLUN(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	info := lun.Info()
	fmt.Println(info.LUN, info.Size(), info.BlockSize)

	block := make([]byte, info.BlockSize) // I/O is in whole blocks
	copy(block, "hello, iSCSI")
	if _, err := lun.WriteAt(block, 4096); err != nil {
		log.Fatal(err)
	}
	got := make([]byte, info.BlockSize)
	if _, err := lun.ReadAt(got, 4096); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", got[:12])
	// Output:
	// iqn.2026-11.dev.gomp:example 192.0.2.10:3260
	// 1 1048576 512
	// hello, iSCSI
}
