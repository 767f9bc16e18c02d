//! Group commit for the outbox and the inbox: every write goes to one writer task per node, which
//! commits whatever has queued up in one transaction and answers each caller only after the commit. A
//! returned write is as durable as a single-row transaction, but a thousand concurrent messages cost a
//! few fsyncs instead of a thousand (the same idea as the audit log's appender).

use ena_store::Store;
use tokio::sync::{mpsc, oneshot};

use crate::repo::{self, InRow, OutRow};

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 512;

#[derive(Debug, Clone)]
pub enum Op {
    InsertOut(Box<OutRow>),
    /// Answers whether the row was new.
    InsertIn(Box<InRow>),
    /// `claim`: the attempt count of the claim being settled (the update applies only while the row is
    /// still that claim); `None` settles unconditionally.
    Settle {
        id: String,
        claim: Option<i64>,
        status: &'static str,
        next: i64,
        error: Option<String>,
        receipt: Option<String>,
        /// Unix milliseconds.
        at: i64,
    },
}

struct Job {
    op: Op,
    reply: oneshot::Sender<Result<bool, String>>,
}

#[derive(Debug, Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Start the writer task on `store` (needs a Tokio runtime).
    pub fn start(store: Store) -> Writer {
        let (queue, mut rx) = mpsc::channel::<Job>(8 * MAX_BATCH);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut jobs = vec![first];
                // Let writers that are ready right now join this batch.
                for _ in 0..2 {
                    while jobs.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(job) => jobs.push(job),
                            Err(_) => break,
                        }
                    }
                    tokio::task::yield_now().await;
                }
                let ops: Vec<Op> = jobs.iter().map(|j| j.op.clone()).collect();
                match repo::apply(&store, &ops).await {
                    Ok(results) => {
                        for (job, inserted) in jobs.into_iter().zip(results) {
                            let _ = job.reply.send(Ok(inserted));
                        }
                    }
                    Err(e) => {
                        let message = e.to_string();
                        for job in jobs {
                            let _ = job.reply.send(Err(message.clone()));
                        }
                    }
                }
            }
        });
        Writer { queue }
    }

    /// Write `op` durably; for an insert, whether the row was new.
    pub async fn write(&self, op: Op) -> Result<bool, String> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Job { op, reply }).await.map_err(|_| "the message store is shutting down".to_owned())?;
        answer.await.map_err(|_| "the message store is shutting down".to_owned())?
    }
}
