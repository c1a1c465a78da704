//! Unit tests of the syslog destination.
