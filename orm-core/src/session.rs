//! placeholder
/// A session.
#[derive(Debug)]
pub struct Session {
    id: u64,
}
impl Session {
    pub(crate) fn id(&self) -> u64 {
        self.id
    }
}
