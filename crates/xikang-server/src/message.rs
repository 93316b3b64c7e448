//! Messages to residents' phones (one-time claim codes, docs/claim.md) through a pluggable
//! [`MessageSender`]: a city plugs in its SMS gateway; the demo and the tests use
//! [`FileOutbox`], which appends each message to a file in the data directory
//! (`DATA/outbox.log`). Never the log: a message holds a phone number and a code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use xikang_domain::Timestamp;
use xikang_domain::mask::PhoneNumber;

/// The file name of the demo's outbox inside the data directory.
pub const OUTBOX_FILE: &str = "outbox.log";

/// Why a message could not be handed on.
#[derive(Debug, thiserror::Error)]
#[error("the message could not be sent: {0}")]
pub struct SendError(pub String);

/// Sends a short text to a phone. Called off the request path (a blocking thread), so an
/// implementation may block on its gateway; it must not log the phone or the text.
pub trait MessageSender: Send + Sync + std::fmt::Debug {
    fn send(&self, to: &PhoneNumber, text: &str, at: Timestamp) -> Result<(), SendError>;
}

/// The demo's sender: one line per message, `time<TAB>phone<TAB>text`, appended to a file.
/// The file stands for the SMS gateway, so it holds the phone: keep it with the data
/// directory's other personal data.
#[derive(Debug)]
pub struct FileOutbox {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileOutbox {
    /// An outbox appending to `path` (created on the first message).
    pub fn new(path: impl Into<PathBuf>) -> FileOutbox {
        FileOutbox {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    /// The file messages go to.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl MessageSender for FileOutbox {
    fn send(&self, to: &PhoneNumber, text: &str, at: Timestamp) -> Result<(), SendError> {
        let _one_at_a_time = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let line = format!(
            "{}\t{}\t{}\n",
            at.to_rfc3339(),
            to.expose(),
            text.replace(['\n', '\t'], " ")
        );
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .map_err(|e| SendError(format!("appending to the outbox: {}", e.kind())))
    }
}
