//! Attachments: files of any size with a media type, sent with a message and streamed end to end so
//! that memory stays at a few chunks whatever the size.
//!
//! - A local system uploads the file first ([`Files::begin_upload`]); it waits under
//!   `attachments/uploads/` until a message names it.
//! - Submitting the message encrypts each named upload into `attachments/outbox/<message>/<n>`: 64 KiB
//!   chunks, ChaCha20-Poly1305, under a key exported from the message's HPKE context (so only the
//!   recipient can derive it). The nonce is the attachment's index and the chunk counter; the associated
//!   data is the message id and whether the chunk is the last, so chunks cannot be reordered, moved to
//!   another attachment or message, or cut off. The envelope lists each attachment's name, media type,
//!   size and the ciphertext's SHA-256 and length, and is signed with the rest.
//! - Delivery streams each ciphertext to the recipient node before the message
//!   (`attachments/incoming/<sender certificate>/<message>/<n>.<sha256>`); receiving the message checks
//!   that each is there with the signed length and hash, opens every chunk once, and moves them to
//!   `attachments/inbox/<message>/<n>` before the message is stored.
//! - The recipient's systems read an attachment decrypted, chunk by chunk ([`AttachmentReader`]).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ena_keys::files::{create_private_dir, create_private_file};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
/// Most attachments on one message.
pub const MAX_ATTACHMENTS: usize = 100;
/// Largest attachment (plaintext bytes).
pub const MAX_SIZE: u64 = 64 << 30;
/// Most plaintext bytes of all attachments of one message together.
pub const MAX_MESSAGE_SIZE: u64 = MAX_SIZE;
/// Uploads not sent within this long are removed by the sweep.
pub const UPLOAD_KEEP_SECS: u64 = 7 * 86_400;
/// Deliveries in progress untouched for this long are removed by the sweep (a message that never came,
/// or an id made up to fill the disk).
pub const INCOMING_KEEP_SECS: u64 = 6 * 3600;

/// How much one sending node may keep on this node's disk in deliveries not yet complete (its message
/// has not arrived yet), so no member can fill another's disk with files for made-up message ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Ciphertext bytes, over all its unfinished deliveries.
    pub bytes: u64,
    /// Messages with unfinished deliveries.
    pub messages: usize,
}

impl Default for Quota {
    fn default() -> Quota {
        Quota { bytes: 2 * MAX_SIZE, messages: 1000 }
    }
}
/// Longest attachment name (characters).
const MAX_NAME: usize = 255;

/// An attachment as the envelope describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Attachment {
    /// File name for the recipient.
    pub name: String,
    pub media_type: String,
    /// Plaintext bytes.
    pub size: u64,
    /// base64url SHA-256 of the encrypted file.
    pub ciphertext_sha256: String,
    pub ciphertext_length: u64,
}

/// An uploaded file waiting for a message (`POST /messages/v1/attachments`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Upload {
    pub id: String,
    pub media_type: String,
    pub size: u64,
    /// base64url SHA-256 of the file.
    pub sha256: String,
}

/// A message's attachment, named by the local system when it sends the message.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttachmentInput {
    /// The upload's id.
    pub id: String,
    /// File name for the recipient (no path, no control characters).
    #[schema(example = "utredning.pdf")]
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    #[error("larger than {0} bytes")]
    TooLarge(u64),
    #[error("{0}")]
    Invalid(String),
    /// The sending node's quota of unfinished deliveries is used up (retry once its messages arrived).
    #[error("{0}")]
    Quota(String),
    #[error("the attachment does not open: altered, cut short or out of order")]
    Altered,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Bytes in `message_dir`, bytes in all of `sender_dir`, and how many message directories it has.
fn pending_usage(sender_dir: &Path, message_dir: &Path) -> (u64, u64, usize) {
    let size = |dir: &Path| -> u64 {
        std::fs::read_dir(dir).into_iter().flatten().flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()
    };
    let (mut all, mut messages) = (0, 0);
    for m in std::fs::read_dir(sender_dir).into_iter().flatten().flatten() {
        messages += 1;
        all += size(&m.path());
    }
    (size(message_dir), all, messages)
}

/// When anything in `dir` last changed (the directory itself or a file in it), for the sweep: a
/// transfer in progress keeps writing its `.part` file.
fn newest_change(dir: &Path) -> Option<std::time::SystemTime> {
    let mut newest = std::fs::metadata(dir).and_then(|m| m.modified()).ok()?;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if let Ok(t) = e.metadata().and_then(|m| m.modified()) {
            newest = newest.max(t);
        }
    }
    Some(newest)
}

/// Ciphertext length of a `size`-byte attachment: every chunk carries a tag, and an empty file is one
/// empty chunk.
pub fn ciphertext_length(size: u64) -> u64 {
    size + size.div_ceil(CHUNK as u64).max(1) * TAG as u64
}

/// A name a recipient can save: 1–255 characters, no path separators, no control characters.
pub fn valid_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(format!("1–{MAX_NAME} characters"));
    }
    if name.chars().any(|c| c.is_control() || c == '/' || c == '\\') || name == "." || name == ".." {
        return Err("a file name: no path separators or control characters".into());
    }
    Ok(())
}

/// A media type as in RFC 6838: `type/subtype`, optionally with parameters; printable ASCII.
pub fn valid_media_type(media_type: &str) -> Result<(), String> {
    let essence = media_type.split(';').next().unwrap_or_default().trim();
    let token = |s: &str| {
        !s.is_empty() && s.len() <= 127 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let ok = media_type.len() <= 255
        && media_type.bytes().all(|b| (0x20..0x7f).contains(&b))
        && essence.split_once('/').is_some_and(|(t, s)| token(t) && token(s));
    if ok { Ok(()) } else { Err("a media type such as application/pdf".into()) }
}

fn uuid_only(id: &str) -> Result<&str, AttachmentError> {
    uuid::Uuid::parse_str(id)
        .ok()
        .filter(|u| u.hyphenated().to_string() == id)
        .map(|_| id)
        .ok_or_else(|| AttachmentError::Invalid(format!("{id:?} is not an id")))
}

/// Where a node keeps attachment files (`DATA_DIR/attachments`).
#[derive(Debug, Clone)]
pub struct Files {
    root: PathBuf,
    quota: Quota,
}

impl Files {
    pub fn new(root: impl Into<PathBuf>) -> Files {
        Files { root: root.into(), quota: Quota::default() }
    }

    /// The same, with another quota per sending node.
    pub fn with_quota(self, quota: Quota) -> Files {
        Files { quota, ..self }
    }

    fn uploads(&self) -> PathBuf {
        self.root.join("uploads")
    }

    fn upload_file(&self, id: &str) -> Result<PathBuf, AttachmentError> {
        Ok(self.uploads().join(uuid_only(id)?))
    }

    pub fn outbox_dir(&self, message: &str) -> Result<PathBuf, AttachmentError> {
        Ok(self.root.join("outbox").join(uuid_only(message)?))
    }

    pub fn outbox_file(&self, message: &str, n: usize) -> Result<PathBuf, AttachmentError> {
        Ok(self.outbox_dir(message)?.join(n.to_string()))
    }

    /// Deliveries in progress from the node whose certificate has this thumbprint (base64url).
    fn incoming_dir(&self, certificate: &str, message: &str) -> Result<PathBuf, AttachmentError> {
        if certificate.is_empty() || !certificate.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(AttachmentError::Invalid("not a certificate thumbprint".into()));
        }
        Ok(self.root.join("incoming").join(certificate).join(uuid_only(message)?))
    }

    fn incoming_file(
        &self,
        certificate: &str,
        message: &str,
        n: usize,
        sha256: &str,
    ) -> Result<PathBuf, AttachmentError> {
        if !sha256.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(AttachmentError::Invalid("not a SHA-256".into()));
        }
        Ok(self.incoming_dir(certificate, message)?.join(format!("{n}.{sha256}")))
    }

    pub fn inbox_file(&self, message: &str, n: usize) -> Result<PathBuf, AttachmentError> {
        Ok(self.root.join("inbox").join(uuid_only(message)?).join(n.to_string()))
    }

    /// Start storing an upload from a local system.
    pub async fn begin_upload(&self, media_type: &str) -> Result<Sink, AttachmentError> {
        valid_media_type(media_type).map_err(AttachmentError::Invalid)?;
        let id = uuid::Uuid::now_v7().to_string();
        let target =
            Target::Upload { meta: self.uploads().join(format!("{id}.json")), media_type: media_type.into(), id };
        Sink::create(&self.uploads(), target, MAX_SIZE).await
    }

    /// An upload's description.
    pub async fn upload(&self, id: &str) -> Result<Option<Upload>, AttachmentError> {
        let path = self.upload_file(id)?;
        match tokio::fs::read(path.with_extension("json")).await {
            Ok(bytes) if tokio::fs::try_exists(&path).await? => {
                Ok(Some(serde_json::from_slice(&bytes).map_err(|e| AttachmentError::Invalid(e.to_string()))?))
            }
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Remove an upload (sent, or given up).
    pub async fn remove_upload(&self, id: &str) -> Result<(), AttachmentError> {
        let path = self.upload_file(id)?;
        remove_if_there(&path).await?;
        remove_if_there(&path.with_extension("json")).await
    }

    /// Start receiving attachment `n` of `message` from another node (identified by its certificate),
    /// which announced `length` ciphertext bytes.
    pub async fn begin_incoming(
        &self,
        certificate: &str,
        message: &str,
        n: usize,
        length: u64,
    ) -> Result<Sink, AttachmentError> {
        if n >= MAX_ATTACHMENTS {
            return Err(AttachmentError::Invalid(format!("at most {MAX_ATTACHMENTS} attachments")));
        }
        if length > ciphertext_length(MAX_SIZE) {
            return Err(AttachmentError::TooLarge(ciphertext_length(MAX_SIZE)));
        }
        let dir = self.incoming_dir(certificate, message)?;
        let sender = dir.parent().map(Path::to_owned).unwrap_or_default();
        let (this, others) = (dir.clone(), sender.clone());
        let (message_bytes, all_bytes, messages) =
            tokio::task::spawn_blocking(move || pending_usage(&others, &this)).await.map_err(std::io::Error::other)?;
        if message_bytes + length > ciphertext_length(MAX_MESSAGE_SIZE) {
            return Err(AttachmentError::TooLarge(ciphertext_length(MAX_MESSAGE_SIZE)));
        }
        let new_message = message_bytes == 0 && !dir.exists();
        if all_bytes + length > self.quota.bytes || (new_message && messages >= self.quota.messages) {
            return Err(AttachmentError::Quota(format!(
                "the sending node has {messages} unfinished deliveries with {all_bytes} bytes on this node (quota {} messages, {} bytes); deliver their messages first",
                self.quota.messages, self.quota.bytes
            )));
        }
        let target = Target::Incoming { dir: dir.clone(), n, length };
        Sink::create(&dir, target, length).await
    }

    /// Remove what a node delivered for `message` that is not needed any more.
    pub async fn remove_incoming(&self, certificate: &str, message: &str) {
        if let Ok(dir) = self.incoming_dir(certificate, message) {
            let _ = tokio::fs::remove_dir_all(dir).await;
        }
    }

    /// Remove a message's encrypted attachments from the outbox (delivered, failed or expired).
    pub async fn remove_outbox(&self, message: &str) {
        if let Ok(dir) = self.outbox_dir(message) {
            let _ = tokio::fs::remove_dir_all(dir).await;
        }
    }

    /// At the node's start and every hour: remove uploads older than [`UPLOAD_KEEP_SECS`], unfinished
    /// uploads (`.part`) older than a day, and deliveries in progress untouched for
    /// [`INCOMING_KEEP_SECS`]. Returns how many files or directories went.
    pub fn sweep(&self) -> u64 {
        let mut removed = 0;
        let now = std::time::SystemTime::now();
        let old = |p: &Path, secs: u64| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).is_ok_and(|d| d.as_secs() > secs))
        };
        if let Ok(entries) = std::fs::read_dir(self.uploads()) {
            for e in entries.flatten() {
                let p = e.path();
                let part = p.extension().is_some_and(|x| x == "part");
                if (part && old(&p, 86_400)) || old(&p, UPLOAD_KEEP_SECS) {
                    removed += u64::from(std::fs::remove_file(&p).is_ok());
                }
            }
        }
        if let Ok(nodes) = std::fs::read_dir(self.root.join("incoming")) {
            for node in nodes.flatten() {
                for message in std::fs::read_dir(node.path()).into_iter().flatten().flatten() {
                    if newest_change(&message.path())
                        .is_some_and(|t| now.duration_since(t).is_ok_and(|d| d.as_secs() > INCOMING_KEEP_SECS))
                    {
                        removed += u64::from(std::fs::remove_dir_all(message.path()).is_ok());
                    }
                }
            }
        }
        removed
    }

    /// Check that `n` arrived from `certificate` as `expected` says (length, hash) and open every chunk
    /// once with `key`: the plaintext's SHA-256 (base64url). Blocking (reads the whole file).
    pub fn verify_incoming(
        &self,
        certificate: &str,
        message: &str,
        n: usize,
        expected: &Attachment,
        key: &[u8; 32],
    ) -> Result<String, AttachmentError> {
        let path = self.incoming_file(certificate, message, n, &expected.ciphertext_sha256)?;
        let length = std::fs::metadata(&path)
            .map_err(|_| AttachmentError::Invalid("did not arrive as the envelope describes it".into()))?
            .len();
        if length != expected.ciphertext_length {
            return Err(AttachmentError::Invalid("arrived with another length than the envelope's".into()));
        }
        let mut hash = Sha256::new();
        Chunks::open(key, message, n, &path, expected.size)?.read_all(|plain| {
            hash.update(plain);
            true
        })?;
        Ok(URL_SAFE_NO_PAD.encode(hash.finalize()))
    }

    /// Move a verified delivery into the inbox.
    pub fn accept_incoming(
        &self,
        certificate: &str,
        message: &str,
        n: usize,
        expected: &Attachment,
    ) -> Result<(), AttachmentError> {
        let from = self.incoming_file(certificate, message, n, &expected.ciphertext_sha256)?;
        let to = self.inbox_file(message, n)?;
        if let Some(dir) = to.parent() {
            create_private_dir(dir)?;
        }
        std::fs::rename(from, to)?;
        Ok(())
    }

    /// Encrypt upload `id` as attachment `n` of `message` into the outbox: the envelope's description.
    /// Blocking (reads and writes the whole file, a chunk at a time).
    pub fn encrypt_upload(
        &self,
        upload: &Upload,
        name: &str,
        message: &str,
        n: usize,
        key: &[u8; 32],
    ) -> Result<Attachment, AttachmentError> {
        let src = self.upload_file(&upload.id)?;
        let dst = self.outbox_file(message, n)?;
        if let Some(dir) = dst.parent() {
            create_private_dir(dir)?;
        }
        let cipher = cipher(key);
        let mut input = std::io::BufReader::with_capacity(CHUNK, std::fs::File::open(&src)?);
        let mut output = std::io::BufWriter::with_capacity(4 * CHUNK, create_private_file(&dst)?);
        let mut hash = Sha256::new();
        let (mut length, mut read) = (0u64, 0u64);
        let chunks = upload.size.div_ceil(CHUNK as u64).max(1);
        let mut buffer = Vec::with_capacity(CHUNK + TAG);
        for i in 0..chunks {
            let want = (upload.size - read).min(CHUNK as u64) as usize;
            buffer.resize(want, 0);
            input.read_exact(&mut buffer)?;
            read += want as u64;
            cipher
                .seal_in_place_append_tag(nonce(n, i), aad(message, i + 1 == chunks), &mut buffer)
                .map_err(|_| AttachmentError::Invalid("encryption failed".into()))?;
            hash.update(&buffer);
            output.write_all(&buffer)?;
            length += buffer.len() as u64;
        }
        if input.read(&mut [0u8; 1])? != 0 {
            return Err(AttachmentError::Invalid(format!("upload {} changed since it was stored", upload.id)));
        }
        output.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(Attachment {
            name: name.to_owned(),
            media_type: upload.media_type.clone(),
            size: upload.size,
            ciphertext_sha256: URL_SAFE_NO_PAD.encode(hash.finalize()),
            ciphertext_length: length,
        })
    }

    /// A reader of received attachment `n` of `message`.
    pub fn reader(
        &self,
        message: &str,
        n: usize,
        attachment: &Attachment,
        key: [u8; 32],
    ) -> Result<AttachmentReader, AttachmentError> {
        Ok(AttachmentReader {
            path: self.inbox_file(message, n)?,
            message: message.to_owned(),
            n,
            size: attachment.size,
            key,
        })
    }
}

async fn remove_if_there(path: &Path) -> Result<(), AttachmentError> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

fn cipher(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key).expect("a 32-byte ChaCha20-Poly1305 key"))
}

/// Attachment index (4 bytes) ‖ chunk counter (8 bytes), big-endian: unique per key.
fn nonce(n: usize, chunk: u64) -> Nonce {
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&(n as u32).to_be_bytes());
    bytes[4..].copy_from_slice(&chunk.to_be_bytes());
    Nonce::assume_unique_for_key(bytes)
}

/// The message id and whether this is the last chunk (a cut-off file then fails to open).
fn aad(message: &str, last: bool) -> Aad<Vec<u8>> {
    let mut bytes = Vec::with_capacity(message.len() + 1);
    bytes.extend_from_slice(message.as_bytes());
    bytes.push(u8::from(last));
    Aad::from(bytes)
}

/// A received attachment, read decrypted a chunk at a time.
#[derive(Debug)]
pub struct AttachmentReader {
    path: PathBuf,
    message: String,
    n: usize,
    size: u64,
    key: [u8; 32],
}

impl AttachmentReader {
    /// Call `out` with each plaintext chunk in order (stop early by returning false). Every chunk is
    /// authenticated before it is given out; an altered or cut file fails at the first bad chunk.
    /// Blocking.
    pub fn read(&self, out: impl FnMut(&[u8]) -> bool) -> Result<(), AttachmentError> {
        Chunks::open(&self.key, &self.message, self.n, &self.path, self.size)?.read_all(out)
    }
}

struct Chunks<'a> {
    cipher: LessSafeKey,
    message: &'a str,
    n: usize,
    size: u64,
    input: std::io::BufReader<std::fs::File>,
}

impl<'a> Chunks<'a> {
    fn open(key: &[u8; 32], message: &'a str, n: usize, path: &Path, size: u64) -> Result<Chunks<'a>, AttachmentError> {
        let input = std::io::BufReader::with_capacity(CHUNK + TAG, std::fs::File::open(path)?);
        Ok(Chunks { cipher: cipher(key), message, n, size, input })
    }

    fn read_all(mut self, mut out: impl FnMut(&[u8]) -> bool) -> Result<(), AttachmentError> {
        let chunks = self.size.div_ceil(CHUNK as u64).max(1);
        let mut buffer = vec![0u8; CHUNK + TAG];
        let mut left = self.size;
        for i in 0..chunks {
            let want = left.min(CHUNK as u64) as usize;
            let block = &mut buffer[..want + TAG];
            self.input.read_exact(block).map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => AttachmentError::Altered,
                _ => AttachmentError::Io(e),
            })?;
            let plain = self
                .cipher
                .open_in_place(nonce(self.n, i), aad(self.message, i + 1 == chunks), block)
                .map_err(|_| AttachmentError::Altered)?;
            left -= want as u64;
            if !out(plain) {
                return Ok(());
            }
        }
        if self.input.read(&mut [0u8; 1])? != 0 {
            return Err(AttachmentError::Altered);
        }
        Ok(())
    }
}

/// What is being written: an upload from a local system, or an attachment from another node.
#[derive(Debug)]
enum Target {
    Upload { id: String, media_type: String, meta: PathBuf },
    Incoming { dir: PathBuf, n: usize, length: u64 },
}

/// A file being written from a stream of chunks, hashed on the way, made durable and moved into place
/// only when [`Sink::finish`] is called (a broken transfer leaves a `.part` file for the sweep).
#[derive(Debug)]
pub struct Sink {
    file: tokio::io::BufWriter<tokio::fs::File>,
    part: PathBuf,
    hash: Sha256,
    size: u64,
    limit: u64,
    target: Target,
}

impl Sink {
    async fn create(dir: &Path, target: Target, limit: u64) -> Result<Sink, AttachmentError> {
        // Owner only: uploads are the plaintext a member system handed its node.
        let (d, p) = (dir.to_owned(), dir.join(format!("{}.part", uuid::Uuid::now_v7())));
        let part = p.clone();
        // Unique, so two transfers of the same thing never write one file.
        let file = tokio::task::spawn_blocking(move || {
            create_private_dir(&d)?;
            create_private_file(&p)
        })
        .await
        .map_err(std::io::Error::other)??;
        let file = tokio::fs::File::from_std(file);
        Ok(Sink {
            file: tokio::io::BufWriter::with_capacity(1 << 20, file),
            part,
            hash: Sha256::new(),
            size: 0,
            limit,
            target,
        })
    }

    /// Append `bytes`; refused past the limit (the partial file is removed).
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), AttachmentError> {
        self.size += bytes.len() as u64;
        if self.size > self.limit {
            let _ = tokio::fs::remove_file(&self.part).await;
            return Err(AttachmentError::TooLarge(self.limit));
        }
        self.hash.update(bytes);
        if let Err(e) = self.file.write_all(bytes).await {
            let _ = tokio::fs::remove_file(&self.part).await;
            return Err(e.into());
        }
        Ok(())
    }

    /// Give up: remove the partial file.
    pub async fn abandon(self) {
        let _ = tokio::fs::remove_file(&self.part).await;
    }

    /// Make the file durable and put it in place. For an upload, its description.
    pub async fn finish(mut self) -> Result<Option<Upload>, AttachmentError> {
        let result = self.complete().await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&self.part).await;
        }
        result
    }

    async fn complete(&mut self) -> Result<Option<Upload>, AttachmentError> {
        self.file.flush().await?;
        self.file.get_mut().sync_all().await?;
        let sha256 = URL_SAFE_NO_PAD.encode(self.hash.clone().finalize());
        match &self.target {
            Target::Upload { id, media_type, meta } => {
                let upload = Upload { id: id.clone(), media_type: media_type.clone(), size: self.size, sha256 };
                let json = serde_json::to_vec(&upload).map_err(|e| AttachmentError::Invalid(e.to_string()))?;
                tokio::fs::write(meta, json).await?;
                tokio::fs::rename(&self.part, meta.with_extension("")).await?;
                Ok(Some(upload))
            }
            Target::Incoming { dir, n, length } => {
                if self.size != *length {
                    return Err(AttachmentError::Invalid(format!(
                        "{} bytes arrived, {length} were announced",
                        self.size
                    )));
                }
                tokio::fs::rename(&self.part, dir.join(format!("{n}.{sha256}"))).await?;
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn upload(files: &Files, bytes: &[u8]) -> Upload {
        let mut sink = files.begin_upload("application/octet-stream").await.unwrap();
        for part in bytes.chunks(7_000) {
            sink.write(part).await.unwrap();
        }
        sink.finish().await.unwrap().unwrap()
    }

    fn read(reader: &AttachmentReader) -> Result<Vec<u8>, AttachmentError> {
        let mut out = Vec::new();
        reader.read(|c| {
            out.extend_from_slice(c);
            true
        })?;
        Ok(out)
    }

    #[tokio::test]
    async fn attachments_round_trip_and_refuse_altered_cut_or_moved_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::new(dir.path());
        let key = [7u8; 32];
        let message = uuid::Uuid::now_v7().to_string();
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5] {
            let bytes: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            let up = upload(&files, &bytes).await;
            assert_eq!(up.size, size as u64);
            assert_eq!(files.upload(&up.id).await.unwrap(), Some(up.clone()));
            let a = files.encrypt_upload(&up, "a.bin", &message, 2, &key).unwrap();
            assert_eq!(a.ciphertext_length, ciphertext_length(size as u64), "{size}");
            let path = files.outbox_file(&message, 2).unwrap();
            assert_eq!(std::fs::metadata(&path).unwrap().len(), a.ciphertext_length);
            // The recipient side reads it back from its inbox.
            let inbox = files.inbox_file(&message, 2).unwrap();
            std::fs::create_dir_all(inbox.parent().unwrap()).unwrap();
            std::fs::copy(&path, &inbox).unwrap();
            let reader = files.reader(&message, 2, &a, key).unwrap();
            assert_eq!(read(&reader).unwrap(), bytes, "{size}");
            // Another index, another message or another key: does not open.
            assert!(matches!(read(&files.reader(&message, 2, &a, [8u8; 32]).unwrap()), Err(AttachmentError::Altered)));
            let ct = std::fs::read(&path).unwrap();
            if size > CHUNK {
                // Cut after the first chunk: the first chunk is not marked last, so the file fails.
                std::fs::write(&inbox, &ct[..CHUNK + TAG]).unwrap();
                let cut = Attachment { size: CHUNK as u64, ..a.clone() };
                assert!(matches!(read(&files.reader(&message, 2, &cut, key).unwrap()), Err(AttachmentError::Altered)));
            }
            if size >= 2 * CHUNK {
                // Two whole chunks swapped.
                let mut swapped = ct.clone();
                swapped[..CHUNK + TAG].copy_from_slice(&ct[CHUNK + TAG..2 * (CHUNK + TAG)]);
                swapped[CHUNK + TAG..2 * (CHUNK + TAG)].copy_from_slice(&ct[..CHUNK + TAG]);
                std::fs::write(&inbox, &swapped).unwrap();
                assert!(matches!(read(&reader), Err(AttachmentError::Altered)));
            }
            // One flipped bit, and a byte too many.
            let mut flipped = ct.clone();
            flipped[ct.len() - 1] ^= 1;
            std::fs::write(&inbox, &flipped).unwrap();
            assert!(matches!(read(&reader), Err(AttachmentError::Altered)));
            let mut longer = ct.clone();
            longer.push(0);
            std::fs::write(&inbox, &longer).unwrap();
            assert!(matches!(read(&reader), Err(AttachmentError::Altered)));
            files.remove_upload(&up.id).await.unwrap();
            assert_eq!(files.upload(&up.id).await.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn bad_names_ids_media_types_and_oversized_transfers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::new(dir.path());
        for bad in ["", "a/b", "..", "a\\b", "a\nb", &"x".repeat(256)] {
            assert!(valid_name(bad).is_err(), "{bad:?}");
        }
        assert!(valid_name("Utredning 2026 (slutlig).pdf").is_ok());
        for bad in ["", "pdf", "application/", "text/plain\r\nX: y", "a b/c"] {
            assert!(valid_media_type(bad).is_err(), "{bad:?}");
            assert!(files.begin_upload(bad).await.is_err(), "{bad:?}");
        }
        assert!(valid_media_type("text/plain; charset=utf-8").is_ok());
        for bad in ["../x", "x", "0190f3a0-0000-7000-8000-00000000000G"] {
            assert!(files.upload(bad).await.is_err(), "{bad:?}");
        }
        let message = uuid::Uuid::now_v7().to_string();
        assert!(files.begin_incoming("../../etc", &message, 0, 10).await.is_err());
        assert!(files.begin_incoming("abc", &message, MAX_ATTACHMENTS, 10).await.is_err());
        // More than announced, and fewer: refused, nothing left in place.
        let mut sink = files.begin_incoming("abc", &message, 0, 10).await.unwrap();
        assert!(matches!(sink.write(&[0u8; 11]).await, Err(AttachmentError::TooLarge(10))));
        let mut sink = files.begin_incoming("abc", &message, 0, 10).await.unwrap();
        sink.write(&[0u8; 9]).await.unwrap();
        assert!(sink.finish().await.is_err());
        let left: Vec<_> = std::fs::read_dir(files.incoming_dir("abc", &message).unwrap()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    /// Finding 10: a member node puts files on this node's disk for made-up message ids. Its unfinished
    /// deliveries are capped in messages and bytes (other senders are not affected), and the sweep
    /// removes what stays unfinished.
    #[tokio::test]
    async fn a_sender_cannot_fill_the_disk_with_deliveries_for_made_up_messages() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::new(dir.path()).with_quota(Quota { bytes: 100, messages: 3 });
        let deliver = |cert: &'static str, size: usize| {
            let files = files.clone();
            async move {
                let message = uuid::Uuid::now_v7().to_string();
                let mut sink = files.begin_incoming(cert, &message, 0, size as u64).await?;
                sink.write(&vec![1u8; size]).await?;
                sink.finish().await.map(|_| message)
            }
        };
        let mut made_up = Vec::new();
        for _ in 0..3 {
            made_up.push(deliver("attacker", 10).await.unwrap());
        }
        let e = deliver("attacker", 10).await.unwrap_err();
        assert!(matches!(&e, AttachmentError::Quota(w) if w.contains("3 unfinished")), "{e:?}");
        // More of a message already begun is still taken, within the bytes.
        assert!(files.begin_incoming("attacker", &made_up[0], 1, 60).await.is_ok());
        let e = files.begin_incoming("attacker", &made_up[0], 1, 80).await.unwrap_err();
        assert!(matches!(e, AttachmentError::Quota(_)), "{e:?}");
        // Another sender has its own quota.
        deliver("honest", 10).await.unwrap();

        // The sweep leaves fresh deliveries and removes those untouched for INCOMING_KEEP_SECS.
        assert_eq!(files.sweep(), 0);
        let stale = std::time::SystemTime::now() - std::time::Duration::from_secs(INCOMING_KEEP_SECS + 60);
        for m in &made_up {
            let d = files.incoming_dir("attacker", m).unwrap();
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                std::fs::File::options().write(true).open(e.path()).unwrap().set_modified(stale).unwrap();
            }
            std::fs::File::open(&d).unwrap().set_modified(stale).unwrap();
        }
        assert_eq!(files.sweep(), 3);
        deliver("attacker", 10).await.expect("room again after the sweep");
    }

    /// Finding 14: what a member system uploads is plaintext: owner-only files in owner-only folders.
    #[cfg(unix)]
    #[tokio::test]
    async fn uploads_and_outbox_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let files = Files::new(dir.path().join("attachments"));
        let up = upload(&files, b"secret").await;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&files.upload_file(&up.id).unwrap()), 0o600);
        assert_eq!(mode(&files.uploads()), 0o700);
        let message = uuid::Uuid::now_v7().to_string();
        files.encrypt_upload(&up, "a.txt", &message, 0, &[3u8; 32]).unwrap();
        assert_eq!(mode(&files.outbox_file(&message, 0).unwrap()), 0o600);
    }
}
