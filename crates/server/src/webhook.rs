//! The notice webhook: Mina ombud notices POSTed as CloudEvents (structured JSON) to a configured URL,
//! off the request path, retried with backoff (1, 2, 4, 8 s) and then logged as lost. The portal and
//! `GET /representation/v1/notices` keep every notice whether or not the webhook answers.

use std::time::Duration;

use ena_representation::{Notice, NoticeHook};
use serde_json::json;

pub struct Webhook {
    url: String,
    source: String,
    http: reqwest::Client,
}

impl Webhook {
    pub fn new(url: &str, source: &str) -> Webhook {
        Webhook {
            url: url.to_owned(),
            source: format!("{source}/representation"),
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default(),
        }
    }
}

impl NoticeHook for Webhook {
    fn notify(&self, notice: &Notice) {
        let event = json!({
            "specversion": "1.0",
            "type": format!("se.ena.representation.{}", notice.kind),
            "source": self.source,
            "id": notice.id,
            "time": notice.created_at,
            "subject": notice.mandate,
            "datacontenttype": "application/json",
            "data": notice,
        });
        let (http, url) = (self.http.clone(), self.url.clone());
        // Notices are made inside request handlers, always on the runtime.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no runtime to send a notice webhook on");
            return;
        };
        runtime.spawn(async move {
            for attempt in 0..5u32 {
                let sent = http
                    .post(&url)
                    .header("content-type", "application/cloudevents+json")
                    .body(event.to_string())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => return,
                    Ok(r) => tracing::info!(status = %r.status(), attempt, "notice webhook refused; retrying"),
                    Err(e) => tracing::info!(error = %e, attempt, "notice webhook unreachable; retrying"),
                }
                tokio::time::sleep(Duration::from_secs(1 << attempt.min(3))).await;
            }
            tracing::warn!(id = %event["id"], "notice webhook gave up after 5 attempts (the notice is kept in the portal)");
        });
    }
}
