//! The store conformance suite against the in-memory store.

use std::sync::Arc;

use rasp_stepup::MemoryStore;

rasp_stepup::store_conformance!(async { Arc::new(MemoryStore::default()) });
