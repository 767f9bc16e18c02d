//! Offline verification of a whole stored log: recompute the tree from the stored leaves and check every
//! stored node on the right edge, every checkpoint's root and signature, and that nothing is missing or
//! extra. Reads in chunks, so memory stays flat however long the log is.

use std::collections::HashMap;

use ena_store::Store;

use crate::merkle::{self, Hash, NodeKey};
use crate::note::{NoteVerifier, verify_checkpoint};
use crate::repo;

/// What verification found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The leaf's bytes do not hash to the leaf hash stored for it (the leaf was changed).
    LeafChanged { index: u64 },
    /// An index below the tree size has no leaf (removed).
    LeafMissing { index: u64 },
    /// A leaf exists at or beyond the tree size (inserted).
    LeafExtra { index: u64 },
    /// A checkpoint's root is not the root of the stored leaves; the first bad leaf lies in `from..size`.
    RootMismatch { size: u64, from: u64 },
    /// A checkpoint's signature does not verify with the log's key (forged or altered).
    BadSignature { size: u64, reason: String },
}

impl Finding {
    /// The first index the finding concerns.
    pub fn index(&self) -> u64 {
        match self {
            Finding::LeafChanged { index } | Finding::LeafMissing { index } | Finding::LeafExtra { index } => *index,
            Finding::RootMismatch { from, .. } => *from,
            Finding::BadSignature { size, .. } => size.saturating_sub(1),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::LeafChanged { index } => {
                write!(f, "leaf {index} was changed: its bytes do not hash to its stored leaf hash")
            }
            Finding::LeafMissing { index } => write!(f, "leaf {index} is missing"),
            Finding::LeafExtra { index } => write!(f, "leaf {index} lies beyond the tree size (inserted)"),
            Finding::RootMismatch { size, from } => {
                write!(
                    f,
                    "the checkpoint of size {size} does not match the stored leaves; the first bad leaf is at or after index {from}"
                )
            }
            Finding::BadSignature { size, reason } => {
                write!(f, "the checkpoint of size {size} is not signed by the log's key: {reason}")
            }
        }
    }
}

/// Summary of a clean log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub size: u64,
    pub root: Hash,
    pub checkpoints: u64,
}

/// Checkpoints of the tree, read ahead in pages, checked as the recomputation reaches their size.
struct Due {
    pending: Vec<repo::StoredCheckpoint>,
    fetched_upto: u64,
    size: u64,
    last_good: u64,
    checked: u64,
}

impl Due {
    async fn next_size(&mut self, store: &Store) -> Result<Option<u64>, sqlx::Error> {
        if self.pending.is_empty() && self.fetched_upto < self.size {
            self.pending = repo::checkpoints(store, self.fetched_upto, self.size, 10_000).await?;
            self.fetched_upto = self.pending.last().map_or(self.size, |c| c.size as u64);
            self.pending.reverse();
        }
        Ok(self.pending.last().map(|c| c.size as u64))
    }

    /// Check the next checkpoint against the tree of `frontier` (which has its size).
    fn check(&mut self, frontier: &[(NodeKey, Hash)], verifier: &NoteVerifier) -> Result<(), Finding> {
        let Some(c) = self.pending.pop() else { return Ok(()) };
        let size = c.size as u64;
        let hashes: Vec<Hash> = frontier.iter().map(|(_, h)| *h).collect();
        let root = merkle::fold(&hashes).unwrap_or_else(merkle::empty_root);
        match verify_checkpoint(&c.note, verifier) {
            Err(e) => return Err(Finding::BadSignature { size, reason: e.to_string() }),
            Ok(signed) if signed.size != size || signed.root != root || c.root.as_slice() != root.as_slice() => {
                return Err(Finding::RootMismatch { size, from: self.last_good });
            }
            Ok(_) => {}
        }
        self.last_good = size;
        self.checked += 1;
        Ok(())
    }
}

/// Verify the log in `store` against `verifier`; `progress` is told how many leaves are done.
pub async fn verify_log(
    store: &Store,
    verifier: &NoteVerifier,
    mut progress: impl FnMut(u64, u64),
) -> Result<Result<Report, Finding>, sqlx::Error> {
    const CHUNK: u64 = 20_000;
    let size = repo::size(store).await?;
    let mut frontier: Vec<(NodeKey, Hash)> = Vec::new();
    let mut scratch = Vec::new();
    let mut due = Due { pending: Vec::new(), fetched_upto: 0, size, last_good: 0, checked: 0 };
    let mut next = 0u64;
    while next < size {
        let upto = (next + CHUNK).min(size);
        let leaves = repo::leaves(store, next, upto).await?;
        let keys: Vec<NodeKey> = (next..upto).map(|index| NodeKey { level: 0, index }).collect();
        let stored: HashMap<NodeKey, Hash> = repo::nodes(store, &keys).await?.into_iter().collect();
        let mut expected = next;
        for leaf in &leaves {
            let index = leaf.idx as u64;
            if index != expected {
                return Ok(Err(Finding::LeafMissing { index: expected }));
            }
            let hash = merkle::leaf_hash(&leaf.data);
            if stored.get(&NodeKey { level: 0, index }) != Some(&hash) {
                return Ok(Err(Finding::LeafChanged { index }));
            }
            scratch.clear();
            crate::log::push_leaf(&mut frontier, index, hash, &mut scratch);
            expected += 1;
            while due.next_size(store).await? == Some(expected) {
                if let Err(finding) = due.check(&frontier, verifier) {
                    return Ok(Err(finding));
                }
            }
        }
        if expected != upto {
            return Ok(Err(Finding::LeafMissing { index: expected }));
        }
        next = upto;
        progress(next, size);
    }
    // Leaves past the head read at the start: a live log may have grown since. Leaves and head commit in
    // one transaction, so a leaf read before the head is read again is covered by that head unless it was
    // put there some other way.
    let beyond = repo::leaves(store, size, u64::MAX >> 1).await?;
    if !beyond.is_empty() {
        let now = repo::size(store).await?;
        if let Some(extra) = beyond.iter().find(|l| l.idx as u64 >= now) {
            return Ok(Err(Finding::LeafExtra { index: extra.idx as u64 }));
        }
    }
    let hashes: Vec<Hash> = frontier.iter().map(|(_, h)| *h).collect();
    Ok(Ok(Report { size, root: merkle::fold(&hashes).unwrap_or_else(merkle::empty_root), checkpoints: due.checked }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Result as Res;
    use crate::log::AuditLog;
    use crate::log::tests::event;
    use crate::note::NoteSigner;
    use crate::rules::RuleSet;
    use ena_store::with_pool;

    async fn exec(store: &Store, sql: &'static str, bytes: Vec<u8>) {
        with_pool!(store, pool => sqlx::query(sql).bind(bytes.clone()).execute(pool).await.map(|_| ())).unwrap();
    }

    async fn fresh_log(store: &Store) -> (AuditLog, NoteVerifier) {
        let log = AuditLog::open(
            store.clone(),
            NoteSigner::ephemeral("test.example/log").unwrap(),
            RuleSet { rules: vec![] },
        )
        .await
        .unwrap();
        for chunk in 0..6 {
            log.append((0..7).map(|i| event(chunk * 7 + i, Res::Allowed)).collect()).await.unwrap();
        }
        let verifier = NoteVerifier::parse(&log.verifier_key()).unwrap();
        (log, verifier)
    }

    async fn check(store: &Store, verifier: &NoteVerifier) -> Result<Report, Finding> {
        verify_log(store, verifier, |_, _| {}).await.unwrap()
    }

    #[tokio::test]
    async fn verify_names_every_kind_of_tampering_on_both_databases() {
        type Tamper = (&'static str, &'static str, Vec<u8>, Finding);
        let cases: Vec<Tamper> = vec![
            (
                "changed leaf",
                "UPDATE audit_leaves SET data = $1 WHERE idx = 17",
                b"{}".to_vec(),
                Finding::LeafChanged { index: 17 },
            ),
            (
                "removed leaf",
                "DELETE FROM audit_leaves WHERE idx = 20 AND data <> $1",
                vec![],
                Finding::LeafMissing { index: 20 },
            ),
            (
                "inserted leaf",
                "INSERT INTO audit_leaves (idx, data, time, action, actor_id, result) VALUES (42, $1, 't', 'a', 'x', 'allowed')",
                b"{}".to_vec(),
                Finding::LeafExtra { index: 42 },
            ),
            (
                "changed leaf and its stored hash",
                "UPDATE audit_nodes SET hash = $1 WHERE level = 0 AND idx = 30",
                vec![7; 32],
                Finding::LeafChanged { index: 30 },
            ),
            (
                "forged checkpoint",
                "UPDATE audit_checkpoints SET note = replace(note, '\n28\n', '\n29\n') WHERE size = 28 AND root <> $1",
                vec![],
                Finding::BadSignature { size: 28, reason: String::new() },
            ),
        ];
        for db in ena_store::testing::test_stores().await {
            let label = &db.label;
            let (_log, verifier) = fresh_log(&db.store).await;
            let clean = check(&db.store, &verifier).await.unwrap();
            assert_eq!((clean.size, clean.checkpoints), (42, 6), "{label}");
        }
        for (what, sql, bytes, expected) in cases {
            for db in ena_store::testing::test_stores().await {
                let (_log, verifier) = fresh_log(&db.store).await;
                exec(&db.store, sql, bytes.clone()).await;
                let found = check(&db.store, &verifier).await.unwrap_err();
                match (&found, &expected) {
                    (Finding::BadSignature { size: a, .. }, Finding::BadSignature { size: b, .. }) => {
                        assert_eq!(a, b, "{what} on {}", db.label)
                    }
                    _ => assert_eq!(found, expected, "{what} on {}", db.label),
                }
                assert!(!found.to_string().is_empty());
            }
        }
    }

    /// A live log grows while it is verified (`ena audit verify` beside `ena serve`): what was appended
    /// meanwhile is no tampering. Before the fix, a leaf past the head read at the start was reported.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_log_that_grows_while_it_is_verified_verifies() {
        for db in ena_store::testing::test_stores().await {
            let (log, verifier) = fresh_log(&db.store).await;
            let writer = tokio::spawn(async move {
                for i in 0..300 {
                    log.append(vec![event(100 + i, Res::Allowed)]).await.unwrap();
                }
            });
            let mut runs = 0;
            while !writer.is_finished() {
                let r = check(&db.store, &verifier).await;
                assert!(r.is_ok(), "{}: run {runs}: {r:?}", db.label);
                runs += 1;
            }
            writer.await.unwrap();
            assert!(runs > 0, "{}", db.label);
        }
    }

    #[tokio::test]
    async fn rewritten_leaf_and_nodes_are_caught_by_the_signed_root() {
        let db = ena_store::testing::sqlite().await;
        let (_log, verifier) = fresh_log(&db.store).await;
        // Rewrite leaf 10 and its level-0 hash consistently: only the signed checkpoints can tell.
        let data = b"{\"forged\":true}".to_vec();
        let hash = merkle::leaf_hash(&data).to_vec();
        exec(&db.store, "UPDATE audit_leaves SET data = $1 WHERE idx = 10", data).await;
        exec(&db.store, "UPDATE audit_nodes SET hash = $1 WHERE level = 0 AND idx = 10", hash).await;
        let found = check(&db.store, &verifier).await.unwrap_err();
        assert_eq!(found, Finding::RootMismatch { size: 14, from: 7 });
        assert_eq!(found.index(), 7);
    }
}
