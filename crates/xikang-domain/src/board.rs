//! The citizens' message board (民声留言板, docs/citizens.md): what a message may be about,
//! where the rules route it, how long the department has to answer it, what of its text the
//! public may see, and the figures in the form the city publishes them. Pure: `now` is an
//! argument wherever time matters.

use crate::model::AreaCode;
use crate::time::{HOUR, Timestamp};
use serde::{Deserialize, Serialize};

/// The longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 60;
/// The longest message, reply or reason, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;

/// What a message is about: the resident chooses one; it decides the department and the
/// deadline by the policy's [`BoardRules`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 就医需求: a sealed resident who needs a doctor, medicine, dialysis.
    Medical,
    /// 生活物资: food and daily necessities for sealed households.
    Supplies,
    /// 隔离管控: quarantine orders, zones, sealed buildings.
    Quarantine,
    /// 核酸检测: sampling sites, results, codes after a test.
    Testing,
    /// 防疫政策: what a rule means, complaints about how it was applied.
    Policy,
    /// 复工复产: enterprises resuming work.
    Enterprise,
    /// 其他.
    Other,
}

impl Category {
    /// Every category, in the order the form offers them.
    pub const ALL: [Category; 7] = [
        Category::Medical,
        Category::Supplies,
        Category::Quarantine,
        Category::Testing,
        Category::Policy,
        Category::Enterprise,
        Category::Other,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Medical => "medical",
            Category::Supplies => "supplies",
            Category::Quarantine => "quarantine",
            Category::Testing => "testing",
            Category::Policy => "policy",
            Category::Enterprise => "enterprise",
            Category::Other => "other",
        }
    }

    /// The Chinese name.
    pub fn zh(self) -> &'static str {
        match self {
            Category::Medical => "就医需求",
            Category::Supplies => "生活物资",
            Category::Quarantine => "隔离管控",
            Category::Testing => "核酸检测",
            Category::Policy => "防疫政策",
            Category::Enterprise => "复工复产",
            Category::Other => "其他",
        }
    }

    /// The English name.
    pub fn en(self) -> &'static str {
        match self {
            Category::Medical => "Medical needs",
            Category::Supplies => "Daily supplies",
            Category::Quarantine => "Quarantine and zones",
            Category::Testing => "Testing",
            Category::Policy => "Rules and policy",
            Category::Enterprise => "Enterprises resuming work",
            Category::Other => "Other",
        }
    }

    /// Parses the wire name or the Chinese name; anything else is no category.
    pub fn parse(s: &str) -> Option<Category> {
        let s = s.trim();
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s || c.zh() == s)
    }
}

/// The routing rules of the board (`[board]` in the policy file, docs/policies.md): for each
/// category, the department that answers it and the hours it has. A policy without the
/// section gets [`BoardRules::default`], the documented defaults; a section names every
/// category, or the file is refused (a category routed nowhere would be guessed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardRules {
    routes: std::collections::BTreeMap<Category, (Department, u32)>,
}

/// The longest deadline a policy may give a category: 30 days.
pub const MAX_SLA_HOURS: u32 = 720;

impl Default for BoardRules {
    /// The defaults: a medical need cannot wait a day; a question about a rule can wait
    /// two; an enterprise's, three.
    fn default() -> BoardRules {
        BoardRules {
            routes: [
                (Category::Medical, (Department::Medical, 4)),
                (Category::Supplies, (Department::Supplies, 12)),
                (Category::Quarantine, (Department::Quarantine, 24)),
                (Category::Testing, (Department::Testing, 24)),
                (Category::Policy, (Department::Health, 48)),
                (Category::Enterprise, (Department::Industry, 72)),
                (Category::Other, (Department::Hotline, 48)),
            ]
            .into_iter()
            .collect(),
        }
    }
}

impl BoardRules {
    /// Rules from one route per category: refused unless every category has exactly one,
    /// each with 1 to [`MAX_SLA_HOURS`] hours.
    pub fn new(
        routes: impl IntoIterator<Item = (Category, Department, u32)>,
    ) -> Result<BoardRules, String> {
        let mut map = std::collections::BTreeMap::new();
        for (c, d, h) in routes {
            if !(1..=MAX_SLA_HOURS).contains(&h) {
                return Err(format!(
                    "[board] {}: sla_hours is 1 to {MAX_SLA_HOURS} (got {h})",
                    c.as_str()
                ));
            }
            if map.insert(c, (d, h)).is_some() {
                return Err(format!("[board] names {} twice", c.as_str()));
            }
        }
        let missing: Vec<&str> = Category::ALL
            .into_iter()
            .filter(|c| !map.contains_key(c))
            .map(Category::as_str)
            .collect();
        if missing.is_empty() {
            Ok(BoardRules { routes: map })
        } else {
            Err(format!(
                "[board] routes every category; missing: {}",
                missing.join(", ")
            ))
        }
    }

    /// The department a category goes to.
    pub fn department(&self, c: Category) -> Department {
        self.routes.get(&c).map_or(Department::Hotline, |r| r.0)
    }

    /// The hours the department has to answer.
    pub fn sla_hours(&self, c: Category) -> i64 {
        // Every category has a route (`new` and `default` see to it); 1 hour would be the
        // strictest reading if one had not.
        self.routes.get(&c).map_or(1, |r| i64::from(r.1))
    }
}

/// Who answers a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Department {
    /// 医疗救治组
    Medical,
    /// 生活保障组
    Supplies,
    /// 隔离管控组
    Quarantine,
    /// 核酸检测组
    Testing,
    /// 卫生健康委
    Health,
    /// 工业和信息化局
    Industry,
    /// 12345 热线办
    Hotline,
}

impl Department {
    /// Every department.
    pub const ALL: [Department; 7] = [
        Department::Medical,
        Department::Supplies,
        Department::Quarantine,
        Department::Testing,
        Department::Health,
        Department::Industry,
        Department::Hotline,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Department::Medical => "medical",
            Department::Supplies => "supplies",
            Department::Quarantine => "quarantine",
            Department::Testing => "testing",
            Department::Health => "health",
            Department::Industry => "industry",
            Department::Hotline => "hotline",
        }
    }

    /// The Chinese name.
    pub fn zh(self) -> &'static str {
        match self {
            Department::Medical => "医疗救治组",
            Department::Supplies => "生活保障组",
            Department::Quarantine => "隔离管控组",
            Department::Testing => "核酸检测组",
            Department::Health => "卫生健康委",
            Department::Industry => "工业和信息化局",
            Department::Hotline => "12345 热线办",
        }
    }

    /// The English name.
    pub fn en(self) -> &'static str {
        match self {
            Department::Medical => "Medical care team",
            Department::Supplies => "Supplies team",
            Department::Quarantine => "Quarantine team",
            Department::Testing => "Testing team",
            Department::Health => "Health commission",
            Department::Industry => "Industry bureau",
            Department::Hotline => "12345 hotline office",
        }
    }

    /// Parses the wire name; anything else is no department.
    pub fn parse(s: &str) -> Option<Department> {
        Department::ALL.into_iter().find(|d| d.as_str() == s.trim())
    }
}

/// Where a new message goes: the category's department, in the district the resident
/// named (the city when they named none or one outside it), answered by `due_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub department: Department,
    pub area: AreaCode,
    pub due_at: Timestamp,
}

/// The routing rule: category → department and deadline (the policy's `rules`); district →
/// the district's staff.
pub fn route(
    rules: &BoardRules,
    category: Category,
    district: Option<&AreaCode>,
    city: &AreaCode,
    now: Timestamp,
) -> Route {
    let area = district
        .filter(|d| city.contains(d))
        .map_or_else(|| city.clone(), AreaCode::district);
    Route {
        department: rules.department(category),
        area,
        due_at: now.plus(rules.sla_hours(category) * HOUR),
    }
}

/// What staff (or the sweep) did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageAction {
    /// 受理: a department takes it on.
    Accept,
    /// 答复: a public answer.
    Reply,
    /// 转办: sent to another department or district, with a reason.
    Transfer,
    /// 办结: done (after a reply, or with a reason, e.g. a duplicate).
    Close,
    /// 督办: past its deadline without an answer; raised to the city (the sweep).
    Escalate,
}

impl MessageAction {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageAction::Accept => "accept",
            MessageAction::Reply => "reply",
            MessageAction::Transfer => "transfer",
            MessageAction::Close => "close",
            MessageAction::Escalate => "escalate",
        }
    }
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// 待受理
    New,
    /// 办理中
    Accepted,
    /// 已答复
    Replied,
    /// 已办结
    Closed,
}

impl MessageStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::New => "new",
            MessageStatus::Accepted => "accepted",
            MessageStatus::Replied => "replied",
            MessageStatus::Closed => "closed",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<MessageStatus> {
        [
            MessageStatus::New,
            MessageStatus::Accepted,
            MessageStatus::Replied,
            MessageStatus::Closed,
        ]
        .into_iter()
        .find(|m| m.as_str() == s.trim())
    }

    /// Whether `action` may be taken now: a closed message takes nothing more; a message
    /// is accepted once; a reply or a transfer needs no acceptance first (a department may
    /// answer at once).
    pub fn allows(self, action: MessageAction) -> bool {
        match (self, action) {
            (MessageStatus::Closed, _) => false,
            (MessageStatus::New, MessageAction::Accept) => true,
            (_, MessageAction::Accept) => false,
            (_, MessageAction::Reply | MessageAction::Transfer | MessageAction::Close) => true,
            (_, MessageAction::Escalate) => true,
        }
    }

    /// The status after `action`.
    pub fn after(self, action: MessageAction) -> MessageStatus {
        match action {
            MessageAction::Accept => MessageStatus::Accepted,
            MessageAction::Reply => MessageStatus::Replied,
            MessageAction::Close => MessageStatus::Closed,
            MessageAction::Transfer | MessageAction::Escalate => self,
        }
    }
}

/// Whether a message is overdue at `now`: past its deadline and not answered (replied or
/// closed).
pub fn overdue(status: MessageStatus, due_at: Timestamp, now: Timestamp) -> bool {
    matches!(status, MessageStatus::New | MessageStatus::Accepted) && now >= due_at
}

/// Text the public may read: every run of 6 or more digits (a phone, an ID number, a
/// house number with a room) keeps its first three and last two characters and hides the
/// rest; an 18-character ID number's final `X` counts as a digit.
pub fn mask_text(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let mut j = i;
        while j < chars.len()
            && (chars[j].is_ascii_digit()
                || (j > i && matches!(chars[j], 'x' | 'X') && j - i == 17))
        {
            j += 1;
        }
        if j - i >= 6 {
            for (k, c) in chars[i..j].iter().enumerate() {
                out.push(if k < 3 || k >= j - i - 2 { *c } else { '*' });
            }
            i = j;
        } else if j > i {
            out.extend(&chars[i..j]);
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The published sentence: "收到留言 N 件，办结 M 件".
pub fn stats_sentence_zh(received: u64, closed: u64) -> String {
    format!("收到留言 {received} 件，办结 {closed} 件")
}

/// The same in English.
pub fn stats_sentence_en(received: u64, closed: u64) -> String {
    format!("{received} messages received, {closed} closed")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(s: &str) -> AreaCode {
        AreaCode::parse(s).unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn phones_and_id_numbers_are_masked_and_short_numbers_kept() {
        assert_eq!(
            mask_text("电话13812345678，身份证32020219800101123X，3号楼502室"),
            "电话138******78，身份证320*************3X，3号楼502室"
        );
        assert_eq!(mask_text("12345"), "12345");
        assert_eq!(mask_text("123456"), "123*56");
        assert_eq!(mask_text(""), "");
    }

    #[test]
    fn a_message_goes_to_its_categorys_department_in_the_named_district_or_the_city() {
        let city = area("320200");
        let now = Timestamp(1_000_000);
        let rules = BoardRules::default();
        let r = route(&rules, Category::Medical, Some(&area("320213")), &city, now);
        assert_eq!(r.department, Department::Medical);
        assert_eq!(r.area, area("320213"));
        assert_eq!(r.due_at, now.plus(4 * HOUR));
        // A community code routes to its district; a district of another city to the city.
        let r = route(
            &rules,
            Category::Supplies,
            Some(&area("320213001002")),
            &city,
            now,
        );
        assert_eq!(r.area, area("320213"));
        let r = route(&rules, Category::Other, Some(&area("110101")), &city, now);
        assert_eq!(r.area, city);
        assert_eq!(r.department, Department::Hotline);
    }

    #[test]
    fn board_rules_route_every_category_once_within_the_deadline_bounds() {
        let all = |h: u32| Category::ALL.map(|c| (c, Department::Hotline, h));
        let r = BoardRules::new(all(6)).expect("every category");
        assert_eq!(r.sla_hours(Category::Medical), 6);
        assert_eq!(r.department(Category::Medical), Department::Hotline);
        assert!(BoardRules::new(all(0)).is_err());
        assert!(BoardRules::new(all(MAX_SLA_HOURS + 1)).is_err());
        let missing = BoardRules::new(all(6).into_iter().skip(1)).expect_err("one missing");
        assert!(missing.contains("medical"), "{missing}");
        let twice = BoardRules::new(all(6).into_iter().chain([(
            Category::Other,
            Department::Health,
            1,
        )]));
        assert!(twice.is_err());
    }

    #[test]
    fn a_closed_message_takes_no_more_actions_and_is_accepted_once() {
        for a in [
            MessageAction::Accept,
            MessageAction::Reply,
            MessageAction::Transfer,
            MessageAction::Close,
            MessageAction::Escalate,
        ] {
            assert!(!MessageStatus::Closed.allows(a));
        }
        assert!(MessageStatus::New.allows(MessageAction::Accept));
        assert!(!MessageStatus::Accepted.allows(MessageAction::Accept));
        assert!(MessageStatus::New.allows(MessageAction::Reply));
        assert_eq!(
            MessageStatus::Accepted.after(MessageAction::Transfer),
            MessageStatus::Accepted
        );
    }

    #[test]
    fn only_unanswered_messages_past_their_deadline_are_overdue() {
        let due = Timestamp(100);
        assert!(overdue(MessageStatus::New, due, Timestamp(100)));
        assert!(overdue(MessageStatus::Accepted, due, Timestamp(101)));
        assert!(!overdue(MessageStatus::New, due, Timestamp(99)));
        assert!(!overdue(MessageStatus::Replied, due, Timestamp(101)));
        assert!(!overdue(MessageStatus::Closed, due, Timestamp(101)));
    }

    #[test]
    fn categories_parse_by_wire_or_chinese_name_only() {
        assert_eq!(Category::parse("medical"), Some(Category::Medical));
        assert_eq!(Category::parse("生活物资"), Some(Category::Supplies));
        assert_eq!(Category::parse("Medical"), None);
        assert_eq!(Category::parse(""), None);
    }
}
