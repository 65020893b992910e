//! Embedded implementations of the ports.
