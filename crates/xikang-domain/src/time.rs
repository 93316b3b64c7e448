//! Time as the domain sees it: UTC instants in whole seconds, and Asia/Shanghai calendar
//! days. China has kept UTC+8 without daylight saving since 1991, so a fixed offset is exact
//! for every date this system deals with and needs no time-zone database.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Seconds east of UTC for Asia/Shanghai.
pub const SHANGHAI_OFFSET_SECS: i64 = 8 * 3600;
/// Seconds in an hour and a day, for readable arithmetic.
pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;

/// An instant, in seconds since the Unix epoch (UTC). Stored as i64 in both databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Seconds since the epoch.
    pub fn secs(self) -> i64 {
        self.0
    }

    /// This instant plus `secs` seconds.
    pub fn plus(self, secs: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(secs))
    }

    /// The Asia/Shanghai calendar day this instant falls on.
    pub fn shanghai_day(self) -> CivilDay {
        CivilDay((self.0 + SHANGHAI_OFFSET_SECS).div_euclid(DAY) as i32)
    }

    /// RFC 3339 in UTC, e.g. `2022-07-01T02:00:00Z`.
    pub fn to_rfc3339(self) -> String {
        match jiff::Timestamp::from_second(self.0) {
            Ok(t) => t.to_string(),
            Err(_) => format!("@{}", self.0),
        }
    }

    /// RFC 3339 in Asia/Shanghai time with its offset, e.g. `2022-07-01T10:00:00+08:00`:
    /// the same instant as [`Timestamp::to_rfc3339`], as people in the city read it. Text
    /// for people (the command line's output, the web pages) shows this; machine formats
    /// (the API's JSON, exports, `--json`) carry UTC.
    pub fn to_shanghai_rfc3339(self) -> String {
        let utc = Timestamp(self.0.saturating_add(SHANGHAI_OFFSET_SECS)).to_rfc3339();
        match utc.strip_suffix('Z') {
            Some(wall) => format!("{wall}+08:00"),
            None => utc,
        }
    }

    /// Parses RFC 3339 (any offset).
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, TimeError> {
        s.parse::<jiff::Timestamp>()
            .map(|t| Timestamp(t.as_second()))
            .map_err(|e| TimeError(format!("not an RFC 3339 time: {s:?} ({e})")))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// A calendar day in Asia/Shanghai, counted in days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CivilDay(pub i32);

impl CivilDay {
    /// The instant this day starts (00:00 Asia/Shanghai).
    pub fn start(self) -> Timestamp {
        Timestamp(i64::from(self.0) * DAY - SHANGHAI_OFFSET_SECS)
    }

    /// `YYYYMMDD`, as used in partition names.
    pub fn compact(self) -> String {
        let d = jiff::civil::Date::new(1970, 1, 1).ok().and_then(|d| {
            d.checked_add(jiff::Span::new().days(i64::from(self.0)))
                .ok()
        });
        match d {
            Some(d) => format!("{:04}{:02}{:02}", d.year(), d.month(), d.day()),
            None => format!("d{}", self.0),
        }
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<CivilDay, TimeError> {
        let d: jiff::civil::Date = s
            .parse()
            .map_err(|e| TimeError(format!("not a date YYYY-MM-DD: {s:?} ({e})")))?;
        let epoch = jiff::civil::Date::new(1970, 1, 1).map_err(|e| TimeError(e.to_string()))?;
        let days = (d - epoch).get_days();
        Ok(CivilDay(days))
    }
}

/// A time value that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimeError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shanghai_day_turns_at_local_midnight() {
        let t = Timestamp::parse_rfc3339("2022-07-01T15:59:59Z").unwrap();
        let u = Timestamp::parse_rfc3339("2022-07-01T16:00:00Z").unwrap();
        assert_eq!(u.shanghai_day().0, t.shanghai_day().0 + 1);
        assert_eq!(u.shanghai_day().start(), u);
        assert_eq!(u.shanghai_day().compact(), "20220702");
        assert_eq!(CivilDay::parse("2022-07-02").unwrap(), u.shanghai_day());
    }

    #[test]
    fn rfc3339_round_trips() {
        let t = Timestamp::parse_rfc3339("2022-07-01T10:00:00+08:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2022-07-01T02:00:00Z");
        assert_eq!(t.to_shanghai_rfc3339(), "2022-07-01T10:00:00+08:00");
        let late = Timestamp::parse_rfc3339("2022-07-01T16:30:00Z").unwrap();
        assert_eq!(late.to_shanghai_rfc3339(), "2022-07-02T00:30:00+08:00");
        assert_eq!(
            Timestamp::parse_rfc3339(&late.to_shanghai_rfc3339()).unwrap(),
            late
        );
    }
}
