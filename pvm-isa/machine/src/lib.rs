//! Running PVM programs on polkavm (filled in by the machine-API work).
