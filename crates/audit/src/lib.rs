//! Spårbarhet (traceability): the tamper-evident transparency log every block writes its audit events to.
//!
//! `merkle` is the RFC 9162 tree arithmetic (no I/O); `note` the C2SP signed notes, checkpoints and
//! cosignatures; `event` the audit event and its canonical bytes; `repo` the SQL; `log` the appender
//! and readers; `rules` the follow-up rules that raise alerts;
//! `forward` member nodes' events taken over into the central log.

pub mod event;
pub mod forward;
pub mod log;
pub mod merkle;
pub mod note;
pub mod repo;
pub mod rules;
pub mod verify;
pub mod witness;

pub use event::{Actor, ActorKind, AuditEvent, Context, ObjectRef, Outcome};
pub use log::{Appended, AuditLog, AuditSink, Entry, LogError};
pub use note::{NoteSigner, NoteVerifier};
pub use rules::RuleSet;
