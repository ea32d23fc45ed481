// Package serial implements RFC 1982 serial number arithmetic for 32-bit
// sequence numbers (CmdSN, StatSN, DataSN), as RFC 7143 §4.2.2.1 requires:
// comparison (RFC 1982 §3.2: Less, LessEq, Max) and the size of the
// CmdSN window between ExpCmdSN and MaxCmdSN (Window).
//
// Not implemented: serial addition (RFC 1982 §3.1; plain uint32
// wrap-around does it for the increments iSCSI uses) and serial number
// sizes other than 32 bits.
package serial
