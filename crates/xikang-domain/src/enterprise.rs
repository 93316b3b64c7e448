//! Enterprises resuming work (复工备案, docs/citizens.md): industries, the check of a
//! filing's form, and the 复工率 arithmetic. Pure.

use serde::{Deserialize, Serialize};

/// Workers one filing may list (a larger enterprise files per site).
pub const MAX_WORKERS: usize = 5_000;
/// The longest name, site, person or measures text, in characters.
pub const MAX_FIELD_CHARS: usize = 500;

/// A unified social credit code (统一社会信用代码): 18 digits or capital letters. It names
/// an enterprise on its filings and binds an enterprise's account to it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CreditCode(String);

/// Why a text is not a [`CreditCode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a unified social credit code is 18 digits or capital letters")]
pub struct InvalidCreditCode;

impl CreditCode {
    /// The code, surrounding spaces ignored.
    pub fn parse(s: &str) -> Result<CreditCode, InvalidCreditCode> {
        let t = s.trim();
        if t.len() == 18
            && t.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        {
            Ok(CreditCode(t.to_owned()))
        } else {
            Err(InvalidCreditCode)
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CreditCode {
    type Error = InvalidCreditCode;

    fn try_from(s: String) -> Result<CreditCode, InvalidCreditCode> {
        CreditCode::parse(&s)
    }
}

impl From<CreditCode> for String {
    fn from(c: CreditCode) -> String {
        c.0
    }
}

impl std::fmt::Display for CreditCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The industry of an enterprise (国民经济行业 sections, grouped as the city reports them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Industry {
    /// 制造业
    Manufacturing,
    /// 建筑业
    Construction,
    /// 批发和零售业
    Retail,
    /// 交通运输、仓储和邮政业
    Logistics,
    /// 住宿和餐饮业
    Hospitality,
    /// 信息技术与服务
    Services,
    /// 其他
    Other,
}

impl Industry {
    /// Every industry.
    pub const ALL: [Industry; 7] = [
        Industry::Manufacturing,
        Industry::Construction,
        Industry::Retail,
        Industry::Logistics,
        Industry::Hospitality,
        Industry::Services,
        Industry::Other,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Industry::Manufacturing => "manufacturing",
            Industry::Construction => "construction",
            Industry::Retail => "retail",
            Industry::Logistics => "logistics",
            Industry::Hospitality => "hospitality",
            Industry::Services => "services",
            Industry::Other => "other",
        }
    }

    /// The Chinese name.
    pub fn zh(self) -> &'static str {
        match self {
            Industry::Manufacturing => "制造业",
            Industry::Construction => "建筑业",
            Industry::Retail => "批发和零售业",
            Industry::Logistics => "交通运输、仓储和邮政业",
            Industry::Hospitality => "住宿和餐饮业",
            Industry::Services => "信息技术与服务",
            Industry::Other => "其他",
        }
    }

    /// Parses the wire name or the Chinese name.
    pub fn parse(s: &str) -> Option<Industry> {
        let s = s.trim();
        Industry::ALL
            .into_iter()
            .find(|i| i.as_str() == s || i.zh() == s)
    }
}

/// Where an enterprise stands, from its latest filing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FilingStatus {
    /// 待审核
    Pending,
    /// 已通过: it may resume.
    Approved,
    /// 已退回: refiled after the reasons are met.
    Returned,
}

impl FilingStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FilingStatus::Pending => "pending",
            FilingStatus::Approved => "approved",
            FilingStatus::Returned => "returned",
        }
    }
}

/// A 复工率 tally: enterprises that filed, and those of them approved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Resumption {
    pub enterprises: u64,
    pub resumed: u64,
    /// Workers of the approved enterprises' latest filings.
    pub workers_back: u64,
}

impl Resumption {
    /// Counts one enterprise by its latest filing's status and workers.
    pub fn add(&mut self, status: FilingStatus, workers: usize) {
        self.enterprises += 1;
        if status == FilingStatus::Approved {
            self.resumed += 1;
            self.workers_back += workers as u64;
        }
    }

    /// 复工率 in per mille (0 when nobody filed), rounded down: integers on the wire.
    pub fn rate_permille(&self) -> u64 {
        (self.resumed * 1000)
            .checked_div(self.enterprises)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_counts_approved_enterprises_among_those_that_filed() {
        let mut r = Resumption::default();
        assert_eq!(r.rate_permille(), 0);
        r.add(FilingStatus::Approved, 10);
        r.add(FilingStatus::Pending, 5);
        r.add(FilingStatus::Returned, 7);
        assert_eq!(r.enterprises, 3);
        assert_eq!(r.resumed, 1);
        assert_eq!(r.workers_back, 10);
        assert_eq!(r.rate_permille(), 333);
    }

    #[test]
    fn industries_parse_by_wire_or_chinese_name() {
        assert_eq!(Industry::parse("制造业"), Some(Industry::Manufacturing));
        assert_eq!(Industry::parse("retail"), Some(Industry::Retail));
        assert_eq!(Industry::parse("mining"), None);
    }
}
