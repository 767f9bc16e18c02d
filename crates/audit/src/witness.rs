//! Witnessing: this node cosigns another log's checkpoint only if it is consistent with the last one it
//! cosigned for that origin, so no log can show different histories to different parties unnoticed.
//! A refused (split-view) checkpoint is recorded as an alert in this node's own log.

use crate::event::{Actor, ActorKind, AuditEvent, ObjectRef, Outcome, Result as Res};
use crate::log::AuditLog;
use crate::merkle::{self, Hash};
use crate::note::{NoteSigner, NoteVerifier, verify_checkpoint};
use crate::repo;
use ena_core::time::now_rfc3339;

#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// The request itself is wrong (unparseable key or note, bad signature); `field` names the input.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The checkpoint contradicts what this witness saw before; recorded as an alert.
    #[error("{0}")]
    Inconsistent(String),
    #[error(transparent)]
    Log(#[from] crate::log::LogError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The result of a successful cosigning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    pub origin: String,
    pub size: u64,
    /// The `cosignature/v1` signature line.
    pub cosignature: String,
    /// The checkpoint note with the cosignature appended.
    pub note: String,
}

/// Verify `note` (signed by `vkey`) against the last cosigned checkpoint of its origin using `proof`,
/// and cosign it with `witness`.
pub async fn cosign(
    log: &AuditLog,
    witness: &NoteSigner,
    note: &str,
    vkey: &str,
    proof: &[Hash],
) -> Result<Cosigned, WitnessError> {
    let verifier =
        NoteVerifier::parse(vkey).map_err(|e| WitnessError::Invalid { field: "verifierKey", reason: e.to_string() })?;
    let checkpoint = verify_checkpoint(note, &verifier)
        .map_err(|e| WitnessError::Invalid { field: "checkpoint", reason: e.to_string() })?;
    if checkpoint.origin != verifier.name {
        return Err(WitnessError::Invalid {
            field: "checkpoint",
            reason: format!("origin {:?} is not the key's name {:?}", checkpoint.origin, verifier.name),
        });
    }
    let previous = repo::witnessed(log_store(log), &checkpoint.origin).await?;
    if let Some((size, root, known_vkey)) = &previous {
        let origin = checkpoint.origin.clone();
        let refuse = |why: String| {
            let origin = origin.clone();
            async move {
                record_refusal(log, &origin, &why).await;
                Err::<Cosigned, _>(WitnessError::Inconsistent(why))
            }
        };
        if known_vkey != vkey.trim() {
            return refuse(format!("the log {} now signs with a different key than before", checkpoint.origin)).await;
        }
        if checkpoint.size < *size {
            return refuse(format!(
                "size {} is smaller than the {} already cosigned (rollback)",
                checkpoint.size, size
            ))
            .await;
        }
        let consistent = if checkpoint.size == *size {
            root.as_slice() == checkpoint.root.as_slice()
        } else if *size == 0 {
            proof.is_empty()
        } else {
            merkle::verify_consistency(*size, checkpoint.size, proof, root, &checkpoint.root).is_ok()
        };
        if !consistent {
            return refuse(format!(
                "checkpoint of size {} is not consistent with the cosigned size {} (split view or bad proof)",
                checkpoint.size, size
            ))
            .await;
        }
    }
    let moved = repo::set_witnessed(
        log_store(log),
        &checkpoint.origin,
        previous.as_ref().map(|p| p.0),
        checkpoint.size,
        &checkpoint.root,
        vkey.trim(),
    )
    .await?;
    if !moved {
        return Err(WitnessError::Inconsistent(
            "another cosigning for this origin happened at the same time; retry".into(),
        ));
    }
    let body = checkpoint.body();
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp().max(0) as u64;
    let cosignature = witness.cosign(&body, timestamp);
    Ok(Cosigned { origin: checkpoint.origin, size: checkpoint.size, note: format!("{note}{cosignature}"), cosignature })
}

fn log_store(log: &AuditLog) -> &ena_store::Store {
    log.store()
}

async fn record_refusal(log: &AuditLog, origin: &str, why: &str) {
    let alert = AuditEvent {
        time: now_rfc3339(),
        actor: Actor { kind: ActorKind::System, id: "ena-witness".into(), organisation: None },
        on_behalf_of: None,
        action: "alert.split-view".into(),
        object: Some(ObjectRef { kind: "log".into(), id: origin.into() }),
        data_subjects: Vec::new(),
        outcome: Outcome { result: Res::Denied, reason: Some(why.into()) },
        correlation_id: None,
        restricted: false,
        reveal_at: None,
        details: None,
    };
    if let Err(e) = log.append(vec![alert]).await {
        tracing::error!(error = %e, "could not record a witness refusal");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::tests::event;
    use crate::repo::EventFilter;
    use crate::rules::RuleSet;

    #[tokio::test]
    async fn cosigns_consistent_checkpoints_and_refuses_a_split_view() {
        for db in ena_store::testing::test_stores().await {
            let label = &db.label;
            // The other log (a member node's), and this node's log + witness key.
            let other_db = ena_store::testing::sqlite().await;
            let other = AuditLog::open(
                other_db.store.clone(),
                NoteSigner::ephemeral("member.example/log").unwrap(),
                RuleSet { rules: vec![] },
            )
            .await
            .unwrap();
            let ours = AuditLog::open(
                db.store.clone(),
                NoteSigner::ephemeral("central.example/log").unwrap(),
                RuleSet { rules: vec![] },
            )
            .await
            .unwrap();
            let witness = NoteSigner::ephemeral("central.example/witness").unwrap();
            let vkey = other.verifier_key();

            let first = other.append((0..5).map(|i| event(i, Res::Allowed)).collect()).await.unwrap();
            let c = cosign(&ours, &witness, &first.checkpoint, &vkey, &[]).await.unwrap();
            assert!(c.note.ends_with(&c.cosignature));
            let cosigner = NoteVerifier::parse(&witness.cosigner_key()).unwrap();
            let (body, sigs) = crate::note::split_note(&c.note).unwrap();
            assert!(crate::note::verify_cosignature(body, &sigs[1].1, &cosigner).is_ok(), "{label}");

            let second = other.append((5..12).map(|i| event(i, Res::Allowed)).collect()).await.unwrap();
            let proof = other.consistency_proof(5, 12).await.unwrap();
            cosign(&ours, &witness, &second.checkpoint, &vkey, &proof).await.unwrap();

            // A fork: a checkpoint of size 14 validly signed with the same key over another history (a
            // misbehaving log), offered with the real proof from 12.
            let forked = other.sign_foreign_checkpoint(14, [9u8; 32]);
            let proof = other.consistency_proof(5, 12).await.unwrap();
            let forked = (forked, proof);
            let err = cosign(&ours, &witness, &forked.0, &vkey, &forked.1).await.unwrap_err();
            assert!(matches!(err, WitnessError::Inconsistent(_)), "{label}: {err}");
            let alerts = ours
                .query(&EventFilter { action: Some("alert.split-view".into()), ..Default::default() }, 10, 0)
                .await
                .unwrap();
            assert_eq!(alerts.len(), 1, "{label}");

            // A rollback is refused too.
            assert!(matches!(
                cosign(&ours, &witness, &first.checkpoint, &vkey, &[]).await,
                Err(WitnessError::Inconsistent(_))
            ));
            // A bad signature is a request error, not an alert.
            let tampered = second.checkpoint.replacen("\n12\n", "\n13\n", 1);
            assert!(matches!(
                cosign(&ours, &witness, &tampered, &vkey, &[]).await,
                Err(WitnessError::Invalid { field: "checkpoint", .. })
            ));
        }
    }
}
