package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/spf13/cobra"

	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/gomp-dev/gomp/multipath"
)

// persistOpts are gomp persist's flags, named as mpathpersist's.
type persistOpts struct {
	in, out                                  bool
	readKeys, readResv, reportCaps, readFull bool
	register, registerIgnore, reserve        bool
	release, clear, preempt, preemptAbort    bool
	rk, sark                                 string
	proutType                                int
	aptpl                                    bool
	dir, target                              string
	portals                                  []string
	lun                                      uint16
	chap                                     chapFlags
	id                                       identityFlags
}

// inAction returns the PERSISTENT RESERVE IN service action the flags ask for.
func (o *persistOpts) inAction() (scsi.PRInAction, error) {
	return pick("--in needs one of --read-keys, --read-reservation, --report-capabilities, --read-full-status",
		map[scsi.PRInAction]bool{scsi.PRInReadKeys: o.readKeys, scsi.PRInReadReservation: o.readResv,
			scsi.PRInReportCapabilities: o.reportCaps, scsi.PRInReadFullStatus: o.readFull})
}

func (o *persistOpts) outAction() (scsi.PROutAction, error) {
	return pick("--out needs one of --register, --register-ignore, --reserve, --release, --clear, --preempt, --preempt-abort",
		map[scsi.PROutAction]bool{scsi.PROutRegister: o.register, scsi.PROutRegisterIgnore: o.registerIgnore,
			scsi.PROutReserve: o.reserve, scsi.PROutRelease: o.release, scsi.PROutClear: o.clear,
			scsi.PROutPreempt: o.preempt, scsi.PROutPreemptAndAbort: o.preemptAbort})
}

// pick returns the one key set in m, or a usage error.
func pick[K comparable](msg string, m map[K]bool) (K, error) {
	var got []K
	for k, set := range m {
		if set {
			got = append(got, k)
		}
	}
	if len(got) != 1 {
		var zero K
		return zero, usagef("%s", msg)
	}
	return got[0], nil
}

// parseKey reads a reservation key as mpathpersist does: hex, 0x optional.
func parseKey(flag, v string) (uint64, error) {
	if v == "" {
		return 0, nil
	}
	k, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(v, "0x"), "0X"), 16, 64)
	if err != nil {
		return 0, usagef("%s %q: want a hex key of up to 16 digits", flag, v)
	}
	return k, nil
}

// prDevice is where persist sends its command: a running attach
// (*control.Client) or a device opened for this command
// (*multipath.Device).
type prDevice interface {
	PersistentReserveIn(ctx context.Context, a scsi.PRInAction) ([]byte, error)
	PersistentReserveOut(ctx context.Context, a scsi.PROutAction, t scsi.PRType, p scsi.PROutParameters) error
}

// newPersistCmd builds "gomp persist", mpathpersist's verbs on an attached
// device or, with --target/--portal/--lun, straight on a target's LUN.
func newPersistCmd(g *globalOpts) *cobra.Command {
	o := &persistOpts{}
	cmd := &cobra.Command{
		Use:   "persist --in|--out VERB [flags] NAME | --target IQN --portal P... --lun N",
		Short: "SCSI-3 persistent reservations through every path (mpathpersist)",
		Long: `persist reads or changes a LUN's persistent reservations (SPC-4), through every
path of an attached device (its control socket) or, with --target, --portal and
--lun, through a device opened for this command. REGISTER goes through every
path in parallel (each path is its own I_T nexus) and the running device
registers a path again before it carries I/O after it comes back; RESERVE,
PREEMPT and CLEAR go through one path, RELEASE through all. The output is
mpathpersist's. --prout-type: 1 Write Exclusive, 3 Exclusive Access, 5/6 ...
registrants only, 7/8 ... all registrants.`,
		Example: `  gomp persist --out --register --param-sark=0x123abc mpatha
  gomp persist --out --reserve --param-rk=0x123abc --prout-type=5 mpatha
  gomp persist --in --read-keys mpatha
  gomp persist --in --read-full-status --target IQN --portal 10.0.0.1 --portal 10.0.0.2 --lun 1`,
		RunE: func(cmd *cobra.Command, args []string) error { return runPersist(cmd, g, o, args) },
	}
	f := cmd.Flags()
	f.BoolVarP(&o.in, "in", "i", false, "PERSISTENT RESERVE IN")
	f.BoolVarP(&o.out, "out", "o", false, "PERSISTENT RESERVE OUT")
	f.BoolVarP(&o.readKeys, "read-keys", "k", false, "IN: READ KEYS")
	f.BoolVarP(&o.readResv, "read-reservation", "r", false, "IN: READ RESERVATION")
	f.BoolVarP(&o.reportCaps, "report-capabilities", "c", false, "IN: REPORT CAPABILITIES")
	f.BoolVarP(&o.readFull, "read-full-status", "s", false, "IN: READ FULL STATUS")
	f.BoolVarP(&o.register, "register", "G", false, "OUT: REGISTER")
	f.BoolVarP(&o.registerIgnore, "register-ignore", "I", false, "OUT: REGISTER AND IGNORE EXISTING KEY")
	f.BoolVarP(&o.reserve, "reserve", "R", false, "OUT: RESERVE")
	f.BoolVarP(&o.release, "release", "L", false, "OUT: RELEASE")
	f.BoolVarP(&o.clear, "clear", "C", false, "OUT: CLEAR")
	f.BoolVarP(&o.preempt, "preempt", "P", false, "OUT: PREEMPT")
	f.BoolVarP(&o.preemptAbort, "preempt-abort", "A", false, "OUT: PREEMPT AND ABORT")
	f.StringVarP(&o.rk, "param-rk", "K", "", "RESERVATION KEY (hex)")
	f.StringVarP(&o.sark, "param-sark", "S", "", "SERVICE ACTION RESERVATION KEY (hex)")
	f.IntVarP(&o.proutType, "prout-type", "T", 0, "reservation type (1, 3, 5, 6, 7, 8)")
	f.BoolVarP(&o.aptpl, "param-aptpl", "Z", false, "activate persist through power loss")
	f.StringVar(&o.dir, "control-dir", control.DefaultDir, "directory of the control sockets")
	f.StringVar(&o.target, "target", "", "target IQN (without an attached NAME)")
	f.StringArrayVar(&o.portals, "portal", nil, "portal HOST[:PORT]; repeat for each path")
	f.Uint16Var(&o.lun, "lun", 0, "LUN number (with --target)")
	o.chap.register(cmd)
	o.id.registerFlags(f)
	return cmd
}

func runPersist(cmd *cobra.Command, g *globalOpts, o *persistOpts, args []string) error {
	if o.in == o.out {
		return usagef("persist needs exactly one of --in and --out")
	}
	ctx := cmd.Context()
	dev, closeDev, err := persistDevice(ctx, g, o, args)
	if err != nil {
		return err
	}
	defer closeDev()
	w := cmd.OutOrStdout()
	if o.in {
		a, err := o.inAction()
		if err != nil {
			return err
		}
		b, err := dev.PersistentReserveIn(ctx, a)
		if err != nil {
			return err
		}
		return printPRIn(w, a, b)
	}
	a, err := o.outAction()
	if err != nil {
		return err
	}
	rk, err := parseKey("--param-rk", o.rk)
	if err != nil {
		return err
	}
	sark, err := parseKey("--param-sark", o.sark)
	if err != nil {
		return err
	}
	t := scsi.PRType(o.proutType)
	needType := a == scsi.PROutReserve || a == scsi.PROutRelease || a == scsi.PROutPreempt || a == scsi.PROutPreemptAndAbort
	if needType && !t.Valid() {
		return usagef("--%s needs --prout-type 1, 3, 5, 6, 7 or 8", strings.ToLower(strings.ReplaceAll(a.String(), " ", "-")))
	}
	if needType && a != scsi.PROutRelease && (t == scsi.PRWriteExclusive || t == scsi.PRExclusiveAccess) {
		fmt.Fprintf(cmd.ErrOrStderr(), "gomp: note: a %v reservation is held by one I_T nexus, one path: "+
			"only the I_T nexus that holds it may write, the device's other paths get RESERVATION CONFLICT; "+
			"a multipath host uses registrants only (5, 6) or all registrants (7, 8)\n", t)
	}
	return dev.PersistentReserveOut(ctx, a, t, scsi.PROutParameters{Key: rk, ServiceActionKey: sark, APTPL: o.aptpl})
}

// persistDevice resolves where the command goes.
func persistDevice(ctx context.Context, g *globalOpts, o *persistOpts, args []string) (prDevice, func(), error) {
	switch {
	case len(args) == 1 && o.target == "":
		name, err := control.Resolve(ctx, o.dir, args[0])
		if err != nil {
			return nil, nil, err
		}
		return control.NewClient(o.dir, name), func() {}, nil
	case len(args) == 0 && o.target != "" && len(o.portals) > 0:
	default:
		return nil, nil, usagef("persist needs an attached device NAME, or --target, --portal and --lun")
	}
	ident, err := o.id.resolve(defaultStateDir(), g.logger())
	if err != nil {
		return nil, nil, err
	}
	creds, err := o.chap.credentials()
	if err != nil {
		return nil, nil, err
	}
	d, err := multipath.Open(ctx, multipath.Config{Target: o.target, Portals: o.portals, LUN: o.lun, CHAP: creds,
		InitiatorName: ident.Name, InitiatorAlias: ident.Alias, Logger: g.logger(),
		Settings: multipath.Settings{NoPathRetry: multipath.NoPathRetryFail}})
	clearCHAP(creds)
	if err != nil {
		return nil, nil, err
	}
	return d, func() {
		// A flush under another host's reservation may conflict; that is
		// no failure of this command.
		_ = d.Close(context.WithoutCancel(ctx))
	}, nil
}

// printPRIn prints PERSISTENT RESERVE IN data as mpathpersist does.
func printPRIn(w io.Writer, a scsi.PRInAction, b []byte) error {
	switch a {
	case scsi.PRInReadKeys:
		k, err := scsi.ParseReadKeys(b)
		if err != nil {
			return err
		}
		printKeys(w, k)
	case scsi.PRInReadReservation:
		r, err := scsi.ParseReadReservation(b)
		if err != nil {
			return err
		}
		printReservation(w, r)
	case scsi.PRInReportCapabilities:
		c, err := scsi.ParseReportCapabilities(b)
		if err != nil {
			return err
		}
		printCapabilities(w, c)
	case scsi.PRInReadFullStatus:
		s, err := scsi.ParseReadFullStatus(b)
		if err != nil {
			return err
		}
		printFullStatus(w, s)
	}
	return nil
}

func printKeys(w io.Writer, k scsi.ReservationKeys) {
	if len(k.Keys) == 0 {
		fmt.Fprintf(w, "  PR generation=0x%x, \tthere are NO registered reservation keys\n", k.Generation)
		return
	}
	s := "s"
	if len(k.Keys) == 1 {
		s = ""
	}
	fmt.Fprintf(w, "  PR generation=0x%x, \t%d registered reservation key%s follow%s:\n", k.Generation, len(k.Keys), s,
		map[bool]string{true: "s", false: ""}[len(k.Keys) == 1])
	for _, key := range k.Keys {
		fmt.Fprintf(w, "    0x%x\n", key)
	}
}

func printReservation(w io.Writer, r scsi.Reservation) {
	if !r.Held {
		fmt.Fprintf(w, "  PR generation=0x%x, there is NO reservation held \n", r.Generation)
		return
	}
	fmt.Fprintf(w, "  PR generation=0x%x, Reservation follows:\n", r.Generation)
	fmt.Fprintf(w, "   Key = 0x%x\n", r.Key)
	fmt.Fprintf(w, "  scope = %v, type = %v\n", r.Scope, r.Type)
}

func printCapabilities(w io.Writer, c scsi.PRCapabilities) {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	fmt.Fprintf(w, "Report capabilities response:\n")
	fmt.Fprintf(w, "  Compatible Reservation Handling(CRH): %d\n", b(c.CompatibleReservation))
	fmt.Fprintf(w, "  Specify Initiator Ports Capable(SIP_C): %d\n", b(c.SpecifyInitiatorPorts))
	fmt.Fprintf(w, "  All Target Ports Capable(ATP_C): %d\n", b(c.AllTargetPorts))
	fmt.Fprintf(w, "  Persist Through Power Loss Capable(PTPL_C): %d\n", b(c.PersistThroughPowerLoss))
	fmt.Fprintf(w, "  Type Mask Valid(TMV): %d\n", b(c.TypeMaskValid))
	fmt.Fprintf(w, "  Allow Commands: %d\n", c.AllowCommands)
	fmt.Fprintf(w, "  Persist Through Power Loss Active(PTPL_A): %d\n", b(c.PTPLActive))
	if !c.TypeMaskValid {
		return
	}
	fmt.Fprintf(w, "    Support indicated in Type mask:\n")
	for _, t := range []scsi.PRType{scsi.PRWriteExclusiveAllRegistrants, scsi.PRExclusiveAccessRegistrantsOnly,
		scsi.PRWriteExclusiveRegistrantsOnly, scsi.PRExclusiveAccess, scsi.PRWriteExclusive,
		scsi.PRExclusiveAccessAllRegistrants} {
		fmt.Fprintf(w, "      %v: %d\n", t, b(c.Types.Has(t)))
	}
}

func printFullStatus(w io.Writer, s scsi.PRFullStatus) {
	fmt.Fprintf(w, "  PR generation=0x%x \n", s.Generation)
	if len(s.Registrations) == 0 {
		fmt.Fprintf(w, "  No full status descriptors\n")
	}
	for _, r := range s.Registrations {
		fmt.Fprintf(w, "    Key = 0x%x\n", r.Key)
		fmt.Fprintf(w, "      All target ports bit %s\n", map[bool]string{true: "set", false: "clear"}[r.AllTargetPorts])
		fmt.Fprintf(w, "      Relative port address: 0x%x\n", r.RelativeTargetPort)
		if r.Holder {
			fmt.Fprintf(w, "      << Reservation holder >>\n")
			fmt.Fprintf(w, "      scope: %v, type: %v\n", r.Scope, r.Type)
		} else {
			fmt.Fprintf(w, "      not reservation holder\n")
		}
		if name, ok := r.ISCSIInitiator(); ok {
			fmt.Fprintf(w, "      Transport Id of initiator:\n        iSCSI name and session id: %s\n", name)
		}
	}
}
