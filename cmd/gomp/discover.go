package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gomp-dev/gomp/internal/safename"
	"github.com/gomp-dev/gomp/iscsi"
)

// newDiscoverCmd builds "gomp discover PORTAL...".
func newDiscoverCmd(g *globalOpts) *cobra.Command {
	var (
		chap  chapFlags
		id    identityFlags
		iface string
	)
	cmd := &cobra.Command{
		Use:   "discover [flags] PORTAL...",
		Short: "List the targets a portal offers (SendTargets discovery)",
		Long: `discover runs a SendTargets discovery session at each PORTAL
(HOST[:PORT][@IFACE|@SOURCE_IP], port 3260 by default) and prints one line
per target portal in iscsiadm's format: IP:PORT,TPGT IQN`,
		Example: "  gomp discover 127.0.0.1\n  gomp discover --iface eth1 198.18.0.1\n  gomp discover --chap-user u --chap-secret-file /etc/gomp/secret 192.0.2.10:3260",
		RunE: func(cmd *cobra.Command, portals []string) error {
			if len(portals) == 0 {
				return usagef("discover needs at least one PORTAL")
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
			for _, portal := range portals {
				if iface != "" {
					if strings.Contains(portal, "@") {
						return usagef("portal %s: give either --iface or PORTAL@IFACE", portal)
					}
					portal += "@" + iface
				}
				if err := checkPortals([]string{portal}); err != nil {
					return err
				}
				if err := discoverOne(cmd, g, portal, ident, creds); err != nil {
					return err
				}
			}
			return nil
		},
	}
	chap.register(cmd)
	id.registerFlags(cmd.Flags())
	cmd.Flags().StringVar(&iface, "iface", "", "discover through this network interface or source address (like PORTAL@IFACE)")
	return cmd
}

// discoverOne runs SendTargets discovery at one portal and prints one
// "IP:PORT,TPGT IQN" line per target portal. The target chose the names:
// control bytes in them are escaped (safename.Text), so one target is one
// line and no escape sequence reaches the terminal.
func discoverOne(cmd *cobra.Command, g *globalOpts, portal string, id iscsi.Identity, creds *iscsi.CHAP) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
	defer cancel()
	targets, err := iscsi.Discover(ctx, iscsi.Config{Portal: portal, CHAP: creds, Logger: g.logger(),
		InitiatorName: id.Name, InitiatorAlias: id.Alias})
	if err != nil {
		return err
	}
	for _, t := range targets {
		for _, p := range t.Portals {
			fmt.Fprintf(cmd.OutOrStdout(), "%s,%d %s\n", safename.Text(p.Addr), p.TPGT, safename.Text(t.Name))
		}
	}
	return nil
}
