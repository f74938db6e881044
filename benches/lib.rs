//! Shared fixtures of the rasp-stepup benchmarks.
