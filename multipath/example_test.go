package multipath_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/multipath"
)

// Open builds a device over two portals of one target; I/O fails over
// between them, Status shows the groups and paths (and Config.OnEvent
// would report each change). Here both portals reach an in-process fake
// target through Config.Dial; a real target needs only Portals.
func ExampleOpen() {
	ctx := context.Background()
	tg := iscsitest.New(iscsitest.Config{
		Name: "iqn.2026-11.dev.gomp:example",
		LUNs: map[uint16]*iscsitest.LUN{1: iscsitest.NewLUN(2048, 512)}, // 1 MiB
	})
	defer tg.Close()

	d, err := multipath.Open(ctx, multipath.Config{
		Target:  "iqn.2026-11.dev.gomp:example",
		Portals: []string{"192.0.2.10:3260", "192.0.2.11:3260"},
		LUN:     1,
		Dial:    tg.Dial, // both portals reach tg, in process
		Settings: multipath.Settings{
			PollingInterval: 2 * time.Second,
			NoPathRetry:     multipath.NoPathRetryQueue,
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close(ctx)

	block := make([]byte, 4096)
	copy(block, "hello, multipath")
	if _, err := d.WriteAtContext(ctx, block, 8192, false); err != nil {
		log.Fatal(err)
	}
	got := make([]byte, len(block))
	if _, err := d.ReadAtContext(ctx, got, 8192); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", got[:16])

	s := d.Status()
	fmt.Println(s.Name, s.Size, s.Policy, s.Selector)
	for _, g := range s.Groups {
		fmt.Println("group", g.Priority, g.State)
		for _, p := range g.Paths {
			fmt.Println(" ", p.Portal, p.State, p.Checker)
		}
	}
	// Output:
	// hello, multipath
	// 360014a504d2d4bac0b40681ef58d0c2d 1048576 group_by_prio service-time 0
	// group 50 active
	//   192.0.2.10:3260 active ready
	//   192.0.2.11:3260 active ready
}
