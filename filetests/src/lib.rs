//! The filetest runner for cranelift-pvm.

#![deny(unsafe_code)]
#![forbid(unused_must_use)]

pub mod execute;
