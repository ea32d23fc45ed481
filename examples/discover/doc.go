// Discover lists the targets an iSCSI portal offers (SendTargets discovery)
// and every LUN of each, disk or not: device type, vendor, product, WWID
// and, for a disk, its size.
//
// Against the project's lab (make lab-up; the defaults are the lab's):
//
//	go run ./examples/discover
//	go run ./examples/discover -portal 127.0.0.2:3260
//
// A target that refuses the login (the lab's CHAP targets: this example
// offers no credentials) is listed with the reason, and the others still are.
//
// It uses iscsi.Discover (RFC 7143 §4.3 and Appendix C, SendTargets) and,
// per target, iscsi.Dial through the target's first portal,
// Session.ReportLUNs and Session.Inquire (INQUIRY, VPD pages, READ
// CAPACITY(16)) for each LUN; Session.DiskLUNs does the same but keeps only
// the disks. Not implemented: CHAP credentials; the example only reads.
package main
