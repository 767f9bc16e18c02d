//! The gateway's rules, as a producer node runs them in front of a published API: the terms it gets
//! from the catalog ([`Table`]: each API's majors with their lifecycle, its plans, its live
//! subscriptions), and per call [`Gateway::admit`] — the version named in the path, the calling
//! application's subscription, the plan's size limit, daily quota and token bucket — with the headers
//! the answer carries (`RateLimit`, `Deprecation`, `Sunset`, `Link`). It counts what it let through and
//! refused per API major, application and day ([`Gateway::usage`]) for the catalog's usage figures and
//! the deprecation pipeline. No I/O here: the node fetches the table and reports the usage.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use ena_core::ErrorCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What the gateway of one node enforces: the APIs the catalog says the node serves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GatewayTable)]
pub struct Table {
    pub apis: Vec<GatewayApi>,
}

/// One API as its gateway sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayApi {
    pub id: String,
    /// The node's service (node.toml `[[service]]`) that serves it.
    pub service: String,
    pub majors: Vec<GatewayMajor>,
    pub plans: Vec<GatewayPlan>,
    /// Subscriptions that are not revoked (pending and suspended ones are refused with why).
    pub subscriptions: Vec<GatewaySubscription>,
}

/// A major version (`/v{n}` in the path) and the lifecycle of its newest released version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayMajor {
    pub major: u64,
    pub version: String,
    /// `published`, `deprecated` or `retired`.
    pub status: String,
    /// Unix seconds.
    pub deprecated_at: Option<i64>,
    /// Unix seconds.
    pub sunset_at: Option<i64>,
    /// The successor's major, for `Link: </v{n}/>; rel="successor-version"`.
    pub successor_major: Option<u64>,
    /// Operations marked `deprecated: true` in the document: method and path template.
    #[serde(default)]
    pub deprecated_operations: Vec<(String, String)>,
}

/// A plan's terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayPlan {
    pub id: String,
    pub rate_per_second: u32,
    pub burst: u32,
    pub quota_per_day: Option<u64>,
    pub max_request_bytes: u64,
}

/// An application's subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySubscription {
    /// The consumer's address (organisation number, or `number:function`).
    pub application: String,
    pub plan: String,
    /// `pending`, `active` or `suspended`.
    pub status: String,
}

/// The gateway's verdict on one call.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// Let through to the service; the answer carries `headers`.
    Pass { major: u64, plan: String, deprecated: bool, headers: Vec<(&'static str, String)> },
    /// Refused with a problem (`code` from ena's registry, which gives the status) saying why; the
    /// answer carries `headers` too.
    Refuse { code: ErrorCode, detail: String, headers: Vec<(&'static str, String)> },
}

/// Calls counted for one API major, application and UTC day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Let through to the service.
    pub calls: u64,
    /// Of those, answered 5xx or not at all.
    pub errors: u64,
    /// Refused by the gateway (no subscription, over the limit, retired…).
    pub refused: u64,
    /// Let through to a deprecated version or operation.
    pub deprecated: u64,
    /// Unix seconds of the last.
    pub last_at: i64,
}

/// One row of a usage report: absolute counts since the gateway started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageRow {
    pub api_id: String,
    pub major: u64,
    pub application: String,
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    #[serde(flatten)]
    pub counts: Counts,
}

type UsageKey = (String, u64, String, i64);

struct Bucket {
    tokens: f64,
    /// Seconds (the caller's clock) when `tokens` was last filled.
    at: f64,
    /// The UTC day (days since 1970) `calls` counts.
    day: i64,
    calls: u64,
}

/// The gateway: the current table, a token bucket per API and application, and the usage counts.
#[derive(Default)]
pub struct Gateway {
    table: RwLock<Option<Arc<Table>>>,
    buckets: Mutex<HashMap<(String, String), Bucket>>,
    usage: Mutex<(HashMap<UsageKey, Counts>, HashSet<UsageKey>)>,
}

/// The calls counted for a caller with no subscription: under this name, not theirs (the name could be
/// anything a node serves, a person's number among them) and not per major (it could be any).
pub const UNSUBSCRIBED: &str = "-";

/// How many segments may come before `/v{n}` (e.g. `/orders/v1/…`, `/api/orders/v1/…`).
const MAX_BEFORE_MAJOR: usize = 2;

/// The major version a path names: its first segment that is exactly `v` and digits, within the first
/// [`MAX_BEFORE_MAJOR`]` + 1` segments. A percent sign up to there names none: the service would decode
/// `%76` to `v` and route where the gateway did not look.
pub fn major_of(path: &str) -> Option<u64> {
    let path = path.split('?').next().unwrap_or_default();
    for segment in path.trim_start_matches('/').split('/').take(MAX_BEFORE_MAJOR + 1) {
        if segment.contains('%') {
            return None;
        }
        if let Some(n) = segment.strip_prefix('v').filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
            return n.parse().ok();
        }
    }
    None
}

/// Whether `path` (no query) fits the OpenAPI path template `template` (`{x}` stands for one segment).
fn fits(template: &str, path: &str) -> bool {
    let (mut t, mut p) = (template.trim_matches('/').split('/'), path.trim_matches('/').split('/'));
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if (a.starts_with('{') && a.ends_with('}') && !b.is_empty()) || a == b => {}
            _ => return false,
        }
    }
}

/// An HTTP-date (RFC 9110) for `Sunset`.
fn http_date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
            ))
            .ok()
        })
        .unwrap_or_default()
}

fn refuse(code: ErrorCode, detail: String) -> Admission {
    Admission::Refuse { code, detail, headers: Vec::new() }
}

impl Gateway {
    pub fn new() -> Gateway {
        Gateway::default()
    }

    /// Put the catalog's current terms in force.
    pub fn set_table(&self, table: Table) {
        *self.table.write().expect("gateway table lock") = Some(Arc::new(table));
    }

    /// The terms in force (`None` until the catalog first answered).
    pub fn table(&self) -> Option<Arc<Table>> {
        self.table.read().expect("gateway table lock").clone()
    }

    /// Decide one call by `application` to `path` (below the service, with its query) of API `api_id`,
    /// with a body of `body_len` bytes, at `now` (Unix seconds, fractional). A refusal is counted.
    pub fn admit(
        &self,
        api_id: &str,
        method: &str,
        path: &str,
        application: &str,
        body_len: u64,
        now: f64,
    ) -> Admission {
        let verdict = self.decide(api_id, method, path, application, body_len, now);
        let day = (now as i64).div_euclid(86_400);
        // Counted only under names the table knows: an API it serves, a major it has (else 0), a
        // subscribed application (else UNSUBSCRIBED) — a caller cannot grow the counts at will.
        let Some(table) = self.table() else { return verdict };
        let Some(api) = table.apis.iter().find(|a| a.id == api_id) else { return verdict };
        let subscribed = api.subscriptions.iter().any(|s| s.application == application);
        let major = major_of(path).filter(|m| subscribed && api.majors.iter().any(|x| x.major == *m)).unwrap_or(0);
        let application = if subscribed { application } else { UNSUBSCRIBED };
        self.count(api_id, major, application, day, now as i64, |c| match &verdict {
            Admission::Pass { deprecated, .. } => {
                c.calls += 1;
                c.deprecated += u64::from(*deprecated);
            }
            Admission::Refuse { .. } => c.refused += 1,
        });
        verdict
    }

    /// Count a call let through that then failed (the service answered 5xx or not at all).
    pub fn failed(&self, api_id: &str, path: &str, application: &str, now: f64) {
        let day = (now as i64).div_euclid(86_400);
        self.count(api_id, major_of(path).unwrap_or(0), application, day, now as i64, |c| c.errors += 1);
    }

    fn count(&self, api: &str, major: u64, application: &str, day: i64, now: i64, f: impl FnOnce(&mut Counts)) {
        let key = (api.to_owned(), major, application.to_owned(), day);
        let mut usage = self.usage.lock().expect("gateway usage lock");
        let (counts, dirty) = &mut *usage;
        let c = counts.entry(key.clone()).or_default();
        dirty.insert(key);
        f(c);
        c.last_at = now;
    }

    /// The rows that changed since the last call (absolute counts), to report to the catalog. `keep`:
    /// the rows a failed report must send again — pass them back with [`Gateway::unsent`].
    pub fn usage(&self) -> Vec<UsageRow> {
        let mut usage = self.usage.lock().expect("gateway usage lock");
        let (counts, dirty) = &mut *usage;
        let rows = dirty
            .drain()
            .filter_map(|k| {
                counts.get(&k).map(|c| UsageRow {
                    api_id: k.0.clone(),
                    major: k.1,
                    application: k.2.clone(),
                    day: k.3,
                    counts: *c,
                })
            })
            .collect();
        // Yesterday's rows and older are final once reported.
        let today = ena_core::time::unix_now().div_euclid(86_400);
        counts.retain(|k, _| k.3 >= today - 1);
        rows
    }

    /// Rows a report could not deliver: reported again next time.
    pub fn unsent(&self, rows: &[UsageRow]) {
        let mut usage = self.usage.lock().expect("gateway usage lock");
        for r in rows {
            usage.1.insert((r.api_id.clone(), r.major, r.application.clone(), r.day));
        }
    }

    fn decide(&self, api_id: &str, method: &str, path: &str, application: &str, body_len: u64, now: f64) -> Admission {
        let Some(table) = self.table() else {
            return refuse(
                ErrorCode::ServiceUnavailable,
                "The gateway has not yet had this API's terms from the catalog; try again shortly.".into(),
            );
        };
        let Some(api) = table.apis.iter().find(|a| a.id == api_id) else {
            return refuse(
                ErrorCode::ResourceNotFound,
                format!("The catalog has no published API {api_id} served here."),
            );
        };
        let Some(major) = major_of(path) else {
            return refuse(
                ErrorCode::ResourceNotFound,
                format!("The path {path:?} names no version: {api_id}'s paths begin with /v{{n}}/."),
            );
        };
        let Some(m) = api.majors.iter().find(|m| m.major == major) else {
            return refuse(ErrorCode::ResourceNotFound, format!("{api_id} has no published version {major}."));
        };
        let mut headers = Vec::new();
        if let Some(next) = m.successor_major {
            headers.push(("link", format!("</v{next}/>; rel=\"successor-version\"")));
        }
        if m.status == "retired" {
            let detail = format!(
                "{api_id} {} is retired{}.",
                m.version,
                m.successor_major.map(|n| format!(": move to /v{n}/")).unwrap_or_default()
            );
            return Admission::Refuse { code: ErrorCode::Gone, detail, headers };
        }
        let operation_deprecated = m.deprecated_operations.iter().any(|(verb, template)| {
            verb.eq_ignore_ascii_case(method) && fits(template, path.split('?').next().unwrap_or_default())
        });
        let deprecated = m.status == "deprecated" || operation_deprecated;
        if m.status == "deprecated" {
            headers.push(("deprecation", format!("@{}", m.deprecated_at.unwrap_or_default())));
            if let Some(s) = m.sunset_at {
                headers.push(("sunset", http_date(s)));
            }
        } else if operation_deprecated {
            headers.push(("deprecation", "@0".into()));
        }
        let Some(sub) = api.subscriptions.iter().find(|s| s.application == application) else {
            return Admission::Refuse {
                code: ErrorCode::PermissionDenied,
                detail: format!(
                    "The calling application has no subscription to {api_id}: subscribe to one of its plans in the API catalog."
                ),
                headers,
            };
        };
        if sub.status != "active" {
            let why = if sub.status == "pending" { "awaits the producer's approval" } else { "is suspended" };
            return Admission::Refuse {
                code: ErrorCode::PermissionDenied,
                detail: format!("{application}'s subscription to {api_id} {why}."),
                headers,
            };
        }
        let Some(plan) = api.plans.iter().find(|p| p.id == sub.plan) else {
            return Admission::Refuse {
                code: ErrorCode::PermissionDenied,
                detail: format!("The plan {} no longer exists.", sub.plan),
                headers,
            };
        };
        if body_len > plan.max_request_bytes {
            return Admission::Refuse {
                code: ErrorCode::PayloadTooLarge,
                detail: format!(
                    "The plan {} takes requests of at most {} bytes; this one has {body_len}.",
                    plan.id, plan.max_request_bytes
                ),
                headers,
            };
        }
        // The token bucket (`burst` tokens, refilled at `rate_per_second`) and the day's quota, together.
        let (rate, burst) = (f64::from(plan.rate_per_second.max(1)), f64::from(plan.burst.max(1)));
        let day = (now as i64).div_euclid(86_400);
        let remaining = {
            let mut buckets = self.buckets.lock().expect("gateway buckets lock");
            let b = buckets.entry((api_id.to_owned(), application.to_owned())).or_insert(Bucket {
                tokens: burst,
                at: now,
                day,
                calls: 0,
            });
            if b.day != day {
                (b.day, b.calls) = (day, 0);
            }
            b.tokens = (b.tokens + (now - b.at).max(0.0) * rate).min(burst);
            b.at = now;
            if plan.quota_per_day.is_some_and(|q| b.calls >= q) {
                Err(None)
            } else if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                b.calls += 1;
                Ok(b.tokens)
            } else {
                Err(Some((1.0 - b.tokens) / rate))
            }
        };
        if remaining == Err(None) {
            headers.push(("retry-after", ((day + 1) * 86_400 - now as i64).to_string()));
            return Admission::Refuse {
                code: ErrorCode::TooManyRequests,
                detail: format!(
                    "The plan {}'s quota of {} calls a day is used up; it renews at midnight UTC.",
                    plan.id,
                    plan.quota_per_day.unwrap_or_default()
                ),
                headers,
            };
        }
        let window = (burst / rate).ceil().max(1.0) as u64;
        headers.push(("ratelimit-policy", format!("\"{}\";q={};w={window}", plan.id, plan.burst)));
        match remaining {
            Ok(left) => {
                let reset = ((burst - left) / rate).ceil() as u64;
                headers.push(("ratelimit", format!("\"{}\";r={};t={reset}", plan.id, left.floor() as u64)));
                Admission::Pass { major, plan: plan.id.clone(), deprecated, headers }
            }
            Err(wait) => {
                let wait = wait.unwrap_or(1.0).ceil().max(1.0) as u64;
                headers.push(("ratelimit", format!("\"{}\";r=0;t={wait}", plan.id)));
                headers.push(("retry-after", wait.to_string()));
                Admission::Refuse {
                    code: ErrorCode::TooManyRequests,
                    detail: format!(
                        "Over the plan {}'s limit of {} calls a second (bursts of {}); try again in {wait} s.",
                        plan.id, plan.rate_per_second, plan.burst
                    ),
                    headers,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(status: &str, rate: u32, burst: u32, quota: Option<u64>) -> Table {
        Table {
            apis: vec![GatewayApi {
                id: "bygglov".into(),
                service: "bygglov".into(),
                majors: vec![GatewayMajor {
                    major: 1,
                    version: "1.2.0".into(),
                    status: status.into(),
                    deprecated_at: Some(1_700_000_000),
                    sunset_at: Some(1_800_000_000),
                    successor_major: Some(2),
                    deprecated_operations: vec![("GET".into(), "/bygglov/v1/gamla/{id}".into())],
                }],
                plans: vec![GatewayPlan {
                    id: "bas".into(),
                    rate_per_second: rate,
                    burst,
                    quota_per_day: quota,
                    max_request_bytes: 100,
                }],
                subscriptions: vec![
                    GatewaySubscription {
                        application: "212000-0142".into(),
                        plan: "bas".into(),
                        status: "active".into(),
                    },
                    GatewaySubscription {
                        application: "202100-5448".into(),
                        plan: "bas".into(),
                        status: "pending".into(),
                    },
                ],
            }],
        }
    }

    fn status(a: &Admission) -> u16 {
        match a {
            Admission::Pass { .. } => 200,
            Admission::Refuse { code, .. } => code.status(),
        }
    }

    fn header<'a>(a: &'a Admission, name: &str) -> Option<&'a str> {
        let h = match a {
            Admission::Pass { headers, .. } | Admission::Refuse { headers, .. } => headers,
        };
        h.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_bucket_lets_a_burst_through_then_refuses_until_it_refills() {
        let g = Gateway::new();
        g.set_table(table("published", 2, 3, None));
        let t = 1_000.0;
        for left in [2, 1, 0] {
            let a = g.admit("bygglov", "GET", "/bygglov/v1/arenden", "212000-0142", 0, t);
            assert_eq!(status(&a), 200);
            assert!(header(&a, "ratelimit").unwrap().contains(&format!("r={left}")), "{a:?}");
        }
        let over = g.admit("bygglov", "GET", "/bygglov/v1/arenden", "212000-0142", 0, t);
        assert_eq!(status(&over), 429);
        assert_eq!(header(&over, "retry-after"), Some("1"));
        // Half a second later one token (rate 2/s) is back.
        assert_eq!(status(&g.admit("bygglov", "GET", "/bygglov/v1/arenden", "212000-0142", 0, t + 0.5)), 200);
        let rows = g.usage();
        assert_eq!((rows[0].counts.calls, rows[0].counts.refused), (4, 1));
        assert!(g.usage().is_empty(), "reported rows are not reported again until they change");
    }

    #[test]
    fn the_quota_counts_the_day() {
        let g = Gateway::new();
        g.set_table(table("published", 100, 100, Some(2)));
        let t = 86_400.0 * 20_000.0 + 10.0;
        assert_eq!(status(&g.admit("bygglov", "GET", "/bygglov/v1/a", "212000-0142", 0, t)), 200);
        assert_eq!(status(&g.admit("bygglov", "GET", "/bygglov/v1/a", "212000-0142", 0, t)), 200);
        let third = g.admit("bygglov", "GET", "/bygglov/v1/a", "212000-0142", 0, t);
        assert_eq!(status(&third), 429);
        assert_eq!(header(&third, "retry-after"), Some("86390"));
        assert_eq!(status(&g.admit("bygglov", "GET", "/bygglov/v1/a", "212000-0142", 0, t + 86_400.0)), 200);
    }

    #[test]
    fn subscriptions_versions_and_sizes_are_checked() {
        let g = Gateway::new();
        assert_eq!(status(&g.admit("bygglov", "GET", "/bygglov/v1/a", "212000-0142", 0, 1.0)), 503);
        g.set_table(table("published", 10, 10, None));
        assert_eq!(status(&g.admit("annat", "GET", "/v1/a", "212000-0142", 0, 1.0)), 404);
        assert_eq!(status(&g.admit("bygglov", "GET", "/bygglov/a", "212000-0142", 0, 1.0)), 404);
        assert_eq!(status(&g.admit("bygglov", "GET", "/bygglov/v3/a", "212000-0142", 0, 1.0)), 404);
        assert_eq!(status(&g.admit("bygglov", "GET", "/bygglov/v1/a", "556000-0001", 0, 1.0)), 403);
        assert_eq!(status(&g.admit("bygglov", "GET", "/bygglov/v1/a", "202100-5448", 0, 1.0)), 403);
        assert_eq!(status(&g.admit("bygglov", "POST", "/bygglov/v1/a", "212000-0142", 101, 1.0)), 413);
        let op = g.admit("bygglov", "GET", "/bygglov/v1/gamla/7?x=1", "212000-0142", 0, 1.0);
        assert_eq!((status(&op), header(&op, "deprecation")), (200, Some("@0")));
        assert!(matches!(op, Admission::Pass { deprecated: true, .. }));
        let fresh = g.admit("bygglov", "GET", "/bygglov/v1/nya/7", "212000-0142", 0, 1.0);
        assert!(matches!(fresh, Admission::Pass { deprecated: false, .. }));
    }

    #[test]
    fn deprecated_and_retired_versions_say_so() {
        let g = Gateway::new();
        g.set_table(table("deprecated", 10, 10, None));
        let a = g.admit("bygglov", "GET", "/bygglov/v1/a", "212000-0142", 0, 1.0);
        assert_eq!(status(&a), 200);
        assert_eq!(header(&a, "deprecation"), Some("@1700000000"));
        assert_eq!(header(&a, "sunset"), Some("Fri, 15 Jan 2027 08:00:00 GMT"));
        assert_eq!(header(&a, "link"), Some("</v2/>; rel=\"successor-version\""));
        g.set_table(table("retired", 10, 10, None));
        let gone = g.admit("bygglov", "GET", "/bygglov/v1/a", "212000-0142", 0, 1.0);
        assert_eq!(status(&gone), 410);
        assert_eq!(header(&gone, "link"), Some("</v2/>; rel=\"successor-version\""));
    }

    #[test]
    fn majors_and_templates_are_read_from_paths() {
        assert_eq!(major_of("/bygglov/v12/x?v3=1"), Some(12));
        assert_eq!(major_of("/bygglov/version/x"), None);
        // A service would decode %76 to v: a percent sign before the version names none.
        assert_eq!(major_of("/%761/x/v2/y"), None);
        assert_eq!(major_of("/a/b/c/v1"), None, "at most two segments before the version");
        assert_eq!(major_of("/v1x/v2"), Some(2));
        assert!(fits("/a/{id}/b", "/a/7/b"));
        assert!(!fits("/a/{id}/b", "/a//b"));
        assert!(!fits("/a/{id}", "/a/7/b"));
    }
}
