package iscsi

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// prInFirst is the first allocation length of PERSISTENT RESERVE IN: room
// for 62 keys; a longer answer is asked again with the length the target
// reports, up to the 16-bit ALLOCATION LENGTH.
const prInFirst = 512

// prError names the command, the portal, the target and the LUN.
func (l *LUN) prError(what fmt.Stringer, err error) error {
	return fmt.Errorf("iscsi: %v on %s %s LUN %d: %w", what, l.s.cfg.Portal, l.s.cfg.TargetName, l.info.LUN, err)
}

// PersistentReserveIn runs PERSISTENT RESERVE IN service action a (SPC-4
// §6.13) and returns its parameter data, asking again with the length the
// target reports when the first allocation (512 bytes) was too short, up
// to the 16-bit ALLOCATION LENGTH.
func (l *LUN) PersistentReserveIn(ctx context.Context, a scsi.PRInAction) ([]byte, error) {
	size := prInFirst
	for {
		buf := make([]byte, size)
		cdb := scsi.PersistentReserveIn(a, uint16(size))
		cmd := &Command{LUN: l.info.LUN, CDB: cdb[:], Read: buf}
		if err := l.s.Do(ctx, cmd); err != nil {
			return nil, l.prError(a, err)
		}
		b := buf[:len(buf)-max(cmd.Residual, 0)]
		if a == scsi.PRInReportCapabilities || len(b) < 8 || size == 0xFFFF {
			return b, nil
		}
		need := 8 + uint64(binary.BigEndian.Uint32(b[4:])) // ADDITIONAL LENGTH
		if need <= uint64(size) {
			return b, nil
		}
		size = int(min(need, 0xFFFF))
	}
}

// prIn runs PERSISTENT RESERVE IN and parses its data.
func prIn[T any](ctx context.Context, l *LUN, a scsi.PRInAction, parse func([]byte) (T, error)) (T, error) {
	b, err := l.PersistentReserveIn(ctx, a)
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := parse(b)
	if err != nil {
		return v, l.prError(a, err)
	}
	return v, nil
}

// ReadKeys returns the keys registered with the LUN, one per I_T nexus
// (READ KEYS, SPC-4 §6.13.2).
func (l *LUN) ReadKeys(ctx context.Context) (scsi.ReservationKeys, error) {
	return prIn(ctx, l, scsi.PRInReadKeys, scsi.ParseReadKeys)
}

// ReadReservation returns the LUN's persistent reservation, if any (READ
// RESERVATION, SPC-4 §6.13.3).
func (l *LUN) ReadReservation(ctx context.Context) (scsi.Reservation, error) {
	return prIn(ctx, l, scsi.PRInReadReservation, scsi.ParseReadReservation)
}

// ReportPRCapabilities returns what persistent reservations the LUN
// supports (REPORT CAPABILITIES, SPC-4 §6.13.4).
func (l *LUN) ReportPRCapabilities(ctx context.Context) (scsi.PRCapabilities, error) {
	return prIn(ctx, l, scsi.PRInReportCapabilities, scsi.ParseReportCapabilities)
}

// ReadFullStatus returns every registration with its initiator port and
// whether it holds the reservation (READ FULL STATUS, SPC-4 §6.13.5).
func (l *LUN) ReadFullStatus(ctx context.Context) (scsi.PRFullStatus, error) {
	return prIn(ctx, l, scsi.PRInReadFullStatus, scsi.ParseReadFullStatus)
}

// PersistentReserveOut runs PERSISTENT RESERVE OUT service action a with
// type t (LU scope) and the basic parameter list p (SPC-4 §6.14). Through
// this session's I_T nexus only: a multipath device registers every path
// itself. A RESERVATION CONFLICT is a *SCSIError with that status.
func (l *LUN) PersistentReserveOut(ctx context.Context, a scsi.PROutAction, t scsi.PRType, p scsi.PROutParameters) error {
	params, _ := p.AppendBinary(make([]byte, 0, scsi.PROutParameterLength))
	cdb := scsi.PersistentReserveOut(a, t)
	if err := l.s.Do(ctx, &Command{LUN: l.info.LUN, CDB: cdb[:], Write: params}); err != nil {
		return l.prError(a, err)
	}
	return nil
}
