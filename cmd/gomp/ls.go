package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gomp-dev/gomp/iscsi"
)

// newLsCmd builds "gomp ls --target IQN --portal PORTAL...".
func newLsCmd(g *globalOpts) *cobra.Command {
	var (
		target  string
		portals []string
		chap    chapFlags
		id      identityFlags
	)
	cmd := &cobra.Command{
		Use:   "ls --target IQN --portal PORTAL [--portal PORTAL...]",
		Short: "Log in through each portal and list the target's LUNs",
		Long: `ls logs in to the target through every portal, reads each LUN's identity
(INQUIRY, VPD 0x80/0x83, READ CAPACITY(16)) and prints one entry per LUN: its
WWID (as multipath computes it), vendor, product, revision, capacity and block
size, and the portals that reach it. It logs out before it exits.`,
		Example: "  gomp ls --target iqn.2026-11.dev.gomp:lab --portal 127.0.0.1 --portal 127.0.0.2",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target == "" || len(portals) == 0 {
				return usagef("ls needs --target and at least one --portal")
			}
			if err := checkPortals(portals); err != nil {
				return err
			}
			ident, err := id.resolve(defaultStateDir(), g.logger())
			if err != nil {
				return err
			}
			creds, err := chap.credentials()
			if err != nil {
				return err
			}
			defer clearCHAP(creds)
			base := iscsi.Config{TargetName: target, CHAP: creds, Logger: g.logger(), NOPInterval: -1,
				InitiatorName: ident.Name, InitiatorAlias: ident.Alias}
			luns, err := listLUNs(cmd.Context(), g, base, portals)
			if err != nil {
				return err
			}
			printLUNs(cmd.OutOrStdout(), target, ident.Name, luns)
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "target", "", "target IQN")
	cmd.Flags().StringArrayVar(&portals, "portal", nil, "portal HOST[:PORT][@IFACE|@SOURCE_IP]; repeat for each path")
	chap.register(cmd)
	id.registerFlags(cmd.Flags())
	return cmd
}

// lunEntry is one LUN as seen through every portal that reaches it.
type lunEntry struct {
	info    *iscsi.LUNInfo
	portals []string
}

// listLUNs logs in through each portal in turn and returns the disk LUNs
// found, merged by WWID and sorted by LUN number.
func listLUNs(ctx context.Context, g *globalOpts, base iscsi.Config, portals []string) ([]*lunEntry, error) {
	byKey := map[string]*lunEntry{}
	for _, portal := range portals {
		if err := listPortal(ctx, g, base, portal, byKey); err != nil {
			return nil, err
		}
	}
	out := make([]*lunEntry, 0, len(byKey))
	for _, e := range byKey {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].info.LUN < out[j].info.LUN })
	return out, nil
}

// listPortal logs in through one portal, inquires every LUN that REPORT
// LUNS lists (Session.DiskLUNs) and adds the disk LUNs to byKey (keyed by
// WWID, or "lunN" without one).
func listPortal(ctx context.Context, g *globalOpts, base iscsi.Config, portal string, byKey map[string]*lunEntry) error {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	cfg := base
	cfg.Portal = portal
	s, err := iscsi.Dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close(ctx)
	infos, err := s.DiskLUNs(ctx) // without tgt's controller LUN 0
	if err != nil {
		return err
	}
	for _, info := range infos {
		key := info.WWID
		if key == "" {
			key = fmt.Sprintf("lun%d", info.LUN)
		}
		e := byKey[key]
		if e == nil {
			e = &lunEntry{info: info}
			byKey[key] = e
		}
		e.portals = append(e.portals, s.Portal())
	}
	return nil
}

// printLUNs prints the LUNs of target that initiator sees, one entry
// each.
func printLUNs(w io.Writer, target, initiator string, luns []*lunEntry) {
	fmt.Fprintf(w, "Target: %s\n", target)
	fmt.Fprintf(w, "Initiator: %s\n", initiator)
	if len(luns) == 0 {
		fmt.Fprintln(w, "  (no disk LUNs)")
	}
	for _, e := range luns {
		i := e.info
		wwid := i.WWID
		if wwid == "" {
			wwid = "-"
		}
		fmt.Fprintf(w, "  LUN %d  wwid %s\n", i.LUN, wwid)
		fmt.Fprintf(w, "    vendor %q  product %q  revision %q  serial %q\n", i.Vendor, i.Product, i.Revision, i.Serial)
		fmt.Fprintf(w, "    size %s (%d bytes, %d blocks of %d)\n", humanBytes(i.Size()), i.Size(), i.Blocks, i.BlockSize)
		fmt.Fprintf(w, "    %s\n", i.Cache)
		fmt.Fprintf(w, "    paths %s\n", strings.Join(e.portals, ", "))
	}
}

// humanBytes formats n with binary prefixes, as lsblk does.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
