//! placeholder
use crate::backend::Backend;
use std::sync::Arc;
/// A database.
#[derive(Debug, Clone)]
pub struct Database {
    backend: Arc<dyn Backend>,
}
impl Database {
    /// Wraps a backend.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Database { backend }
    }
}
