package multipath_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/gomp-dev/gomp/multipath"
)

// Open builds a device over two portals; I/O fails over between them.
func ExampleOpen() {
	ctx := context.Background()
	d, err := multipath.Open(ctx, multipath.Config{
		Target:  "iqn.2026-11.dev.gomp:lab",
		Portals: []string{"127.0.0.1:3260", "127.0.0.2:3260"},
		LUN:     1,
		Settings: multipath.Settings{
			PollingInterval: 2 * time.Second,
			NoPathRetry:     multipath.NoPathRetryQueue,
		},
		OnEvent: func(e multipath.Event) { log.Printf("%s %s %s: %s", e.Device, e.Kind, e.Portal, e.Msg) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close(ctx)
	buf := make([]byte, 4096)
	if _, err := d.ReadAtContext(ctx, buf, 0); err != nil {
		log.Fatal(err)
	}
	for _, g := range d.Status().Groups {
		for _, p := range g.Paths {
			fmt.Println(p.Portal, p.State, p.Completed)
		}
	}
}
