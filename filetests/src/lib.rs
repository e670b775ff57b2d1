//! The filetest runner. Empty until the backend-core issue brings `.clif` tests to run.
