//! Time, one way for every block: [`Timestamp`] (whole UTC seconds) with its RFC 3339 text, and
//! [`Clock`], the source of "now" a service is given, so a test can set the time instead of waiting for
//! it (`ManualClock`). Stored times are RFC 3339 text or unix seconds per table (see each migration);
//! both are made and read here.

use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A moment, in whole seconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_unix(seconds: i64) -> Timestamp {
        Timestamp(seconds)
    }

    /// The system clock's now.
    pub fn now() -> Timestamp {
        Timestamp(OffsetDateTime::now_utc().unix_timestamp())
    }

    pub const fn unix(self) -> i64 {
        self.0
    }

    /// RFC 3339 UTC with seconds, e.g. `2026-12-02T06:00:00Z` (empty if out of range).
    pub fn rfc3339(self) -> String {
        OffsetDateTime::from_unix_timestamp(self.0).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
    }

    /// Parse RFC 3339 (any offset; sub-seconds dropped).
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        OffsetDateTime::parse(text.trim(), &Rfc3339).ok().map(|t| Timestamp(t.unix_timestamp()))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// Now in unix seconds (what the INTEGER time columns and JWT claims hold).
pub fn unix_now() -> i64 {
    Timestamp::now().unix()
}

/// RFC 3339 of a stored time (unix seconds), as the APIs answer it.
pub fn rfc3339_of(unix: i64) -> String {
    Timestamp::from_unix(unix).rfc3339()
}

/// Now in unix milliseconds (the `…_ms` columns: status times a latency is read from).
pub fn unix_ms_now() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// RFC 3339 of a stored time in unix milliseconds, with the milliseconds (empty if out of range).
pub fn rfc3339_of_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The unix seconds of an RFC 3339 time (0 if it is not one: what a stored time defaults to).
pub fn unix_of(rfc3339: &str) -> i64 {
    Timestamp::parse_rfc3339(rfc3339).map_or(0, Timestamp::unix)
}

/// Now as RFC 3339 with seconds.
pub fn now_rfc3339() -> String {
    Timestamp::now().rfc3339()
}

/// Now as RFC 3339 with sub-second digits (status times a latency is read from).
pub fn precise_now_rfc3339() -> String {
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default()
}

/// Where a service reads "now".
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock a test sets and moves.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn at(t: Timestamp) -> ManualClock {
        ManualClock(AtomicI64::new(t.unix()))
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored forms and the API's RFC 3339 turn into each other.
    #[test]
    fn stored_times_read_back_as_rfc3339() {
        assert_eq!(rfc3339_of(1_798_761_600), "2027-01-01T00:00:00Z");
        assert_eq!(unix_of("2027-01-01T01:00:00+01:00"), 1_798_761_600);
        assert_eq!(unix_of("not a time"), 0);
        assert_eq!(rfc3339_of_ms(1_798_761_600_250), "2027-01-01T00:00:00.25Z");
        let (before, now, after) = (unix_now() * 1000, unix_ms_now(), (unix_now() + 1) * 1000);
        assert!(before <= now && now <= after, "{before} {now} {after}");
    }

    #[test]
    fn rfc3339_round_trips_and_clocks_tell_the_time() {
        let t = Timestamp::from_unix(1_798_761_600);
        assert_eq!(t.rfc3339(), "2027-01-01T00:00:00Z");
        assert_eq!(Timestamp::parse_rfc3339("2027-01-01T01:00:00+01:00"), Some(t));
        assert_eq!(Timestamp::parse_rfc3339("2027-01-01T00:00:00.750Z"), Some(t));
        assert_eq!(Timestamp::parse_rfc3339("1 January 2027"), None);
        let clock = ManualClock::at(t);
        clock.advance(90);
        assert_eq!(clock.now().unix(), t.unix() + 90);
        assert!((SystemClock.now().unix() - Timestamp::now().unix()).abs() <= 5, "the system clock is now");
    }
}
