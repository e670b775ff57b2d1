//! Cranelift IR → PVM. Empty until the backend-core issue: it will hold lowering (ISLE rules),
//! VCode, the ABI, register allocation, emission and linking.
