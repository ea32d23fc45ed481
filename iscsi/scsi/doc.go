// Package scsi is the SCSI command layer the iSCSI session and the
// multipath layer speak through: CDB builders, parsers for the parameter
// data and sense data an initiator reads back, the multipath-tools WWID
// rule, and a classification of command outcomes for path failover. It is
// pure code: no I/O, goroutines, clocks or logging.
//
// # Commands
//
// Builders return fixed-size CDB arrays; their argument types are the field
// widths, so no value can overflow a field (the session splits transfers
// larger than a READ(16) can carry). The one builder that can overflow,
// AppendUnmapParameters, returns a *LimitError.
//
//   - INQUIRY, standard and EVPD (SPC-4 §6.6)
//   - TEST UNIT READY (SPC-4 §6.47)
//   - REPORT LUNS (SPC-4 §6.33)
//   - REPORT TARGET PORT GROUPS, MAINTENANCE IN 0x0A (SPC-4 §6.36)
//   - SET TARGET PORT GROUPS, MAINTENANCE OUT 0x0A, and its parameter list
//     (SPC-4 §6.40)
//   - READ CAPACITY(16), SERVICE ACTION IN 0x10 (SBC-3 §5.16)
//   - READ(10)/(16), WRITE(10)/(16) with FUA (SBC-3 §5.13, §5.15, §5.32, §5.34)
//   - SYNCHRONIZE CACHE(10) and (16) (SBC-3 §5.22, §5.23)
//   - MODE SENSE(6) and (10) of one page, current values, no block
//     descriptors (SPC-4 §6.11, §6.12)
//   - UNMAP and its parameter list (SBC-3 §5.28)
//   - WRITE SAME(16) with UNMAP, ANCHOR, NDOB (SBC-3 §5.42)
//
// # Data
//
// Parsers never panic and never trust a length field beyond the buffer.
// Short input is a *TruncatedError (errors.Is ErrTruncated); where the data
// carries its own length (VPD pages, REPORT LUNS, REPORT TARGET PORT
// GROUPS), its Need is the allocation length to reissue the command with.
// Malformed input is a *FieldError (errors.Is ErrInvalidField).
//
//   - standard INQUIRY data (SPC-4 §6.6.2)
//   - VPD pages 0x00 Supported VPD Pages (SPC-4 §7.8.16), 0x80 Unit Serial
//     Number (§7.8.18), 0x83 Device Identification (§7.8.6), 0xB0 Block
//     Limits (SBC-3 §6.5.3), 0xB2 Logical Block Provisioning (SBC-3 §6.5.4)
//   - READ CAPACITY(16) parameter data (SBC-3 §5.16.2)
//   - MODE SENSE(6) and (10) parameter data (SPC-4 §7.5.5): the header's
//     device-specific parameter (WP, DPOFUA, SBC-3 §6.4.1), the pages, and
//     the Caching page's WCE and RCD (SBC-3 §6.4.5)
//   - REPORT LUNS parameter data and single-level LUN numbers (SPC-4
//     §6.33.2, SAM-5 §4.7)
//   - REPORT TARGET PORT GROUPS parameter data in both formats (SPC-4
//     §6.36.2, ALUA in §5.11)
//   - sense data, fixed and descriptor formats (SPC-4 §4.5), with the sense
//     key and additional sense code names of SPC-4 §4.5.6 and Annex D
//
// Sense data, REPORT LUNS, REPORT TARGET PORT GROUPS, READ CAPACITY(16) and
// designators also have encoders (AppendBinary and Append* functions) for
// tests and fake targets.
//
// # Identity and failover
//
// WWID picks the logical unit's name from its VPD 0x83 designators exactly
// as multipath-tools does, so WWIDs match existing multipath
// configurations. TargetPortGroup and RelativeTargetPort find the port's
// ALUA group. Classify sorts a status and sense data into OK, retry on the
// same path, fail the path, or return the error to the caller.
//
// # Not implemented
//
// Version descriptors and vendor-specific bytes of INQUIRY data; VPD pages
// other than those above (0x86 Extended INQUIRY, 0x88 SCSI Ports, 0xB1
// Block Device Characteristics are named only); the provisioning group
// descriptor of page 0xB2; SBC-4 additions to pages 0xB0 and 0xB2 (atomic
// writes, minimum and threshold percentages); multi-level and extended LUN
// addressing beyond returning the raw 8 bytes;
// MODE SELECT, saved/default/changeable mode values, block descriptors and
// mode pages other than Caching; persistent reservations; protection information
// (RDPROTECT/WRPROTECT are always 0); 32-byte CDBs; sense data descriptors
// other than information, command-specific, sense key specific, FRU,
// stream commands and block commands (others are skipped); decoding the
// sense key specific field beyond Progress.
package scsi
