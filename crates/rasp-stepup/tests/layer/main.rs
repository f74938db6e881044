//! Layer tests with `oneshot`: decisions, responses, and that the inner
//! service never runs on a challenge or a rejection.

mod support;

mod decisions;
mod entry;
mod policy;
mod properties;
mod responder;
