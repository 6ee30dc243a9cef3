//! Unit tests of the checker (focused HIR-shape checks live in lang/tests/check.rs).
