//! The resident register (实有人口): one line of a register file, parsed and checked at the
//! edge, and what it means against what is already stored (a new resident, a move, a
//! change of name, phone or household, or nothing). Columns are found by their header, in
//! English or in the Chinese a city's own export uses, in any order; every refusal has a
//! stable code. No I/O: the file reader and the store live elsewhere.

use crate::idnumber::IdNumber;
use crate::mask::PhoneNumber;
use crate::{AreaCode, CivilDay, GridCell, HouseholdId, PersonId};
use serde::{Deserialize, Serialize};

/// How a resident is registered. Rented housing and floating population (流动人口) were
/// registered by address with the day they were registered, as Wuxi did; a household
/// resident (常住人口) needs no registration date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ResidentKind {
    /// 常住人口 / 户籍人口.
    Resident,
    /// 流动人口, including tenants of rented housing (出租房屋): needs `registered_on`.
    Floating,
}

impl ResidentKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ResidentKind::Resident => "resident",
            ResidentKind::Floating => "floating",
        }
    }

    /// Parses the stored name or what a register file says (English or Chinese). An
    /// unknown word is no kind (refused), never a default.
    pub fn parse(s: &str) -> Option<ResidentKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "resident" | "常住" | "常住人口" | "户籍" | "户籍人口" => {
                Some(ResidentKind::Resident)
            }
            "floating" | "流动" | "流动人口" | "tenant" | "租住" | "出租房屋" => {
                Some(ResidentKind::Floating)
            }
            _ => None,
        }
    }
}

/// The columns of a register file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    IdNumber,
    Name,
    Phone,
    Household,
    Address,
    Community,
    Cell,
    Kind,
    RegisteredOn,
}

impl Column {
    /// Every column, in the order of a file the system writes.
    pub const ALL: [Column; 9] = [
        Column::IdNumber,
        Column::Name,
        Column::Phone,
        Column::Household,
        Column::Address,
        Column::Community,
        Column::Cell,
        Column::Kind,
        Column::RegisteredOn,
    ];

    /// The English header.
    pub fn name(self) -> &'static str {
        match self {
            Column::IdNumber => "id_number",
            Column::Name => "name",
            Column::Phone => "phone",
            Column::Household => "household",
            Column::Address => "address",
            Column::Community => "community",
            Column::Cell => "cell",
            Column::Kind => "kind",
            Column::RegisteredOn => "registered_on",
        }
    }

    /// Whether a file must have this column (phone, kind and registration date may be left
    /// out: no phone, a household resident).
    fn required(self) -> bool {
        !matches!(self, Column::Phone | Column::Kind | Column::RegisteredOn)
    }

    fn matches(self, header: &str) -> bool {
        let h = header.trim().to_ascii_lowercase();
        let aliases: &[&str] = match self {
            Column::IdNumber => &["身份证号", "身份证号码", "公民身份号码", "证件号码"],
            Column::Name => &["姓名"],
            Column::Phone => &["电话", "手机", "手机号", "联系电话"],
            Column::Household => &["户号", "household_id"],
            Column::Address => &["地址", "住址", "居住地址", "现住址"],
            Column::Community => &["社区", "社区代码", "community_code"],
            Column::Cell => &["网格", "网格编号", "grid_cell"],
            Column::Kind => &["类别", "人口类别"],
            Column::RegisteredOn => &["登记日期", "registered"],
        };
        h == self.name() || aliases.contains(&h.as_str())
    }
}

/// Where each column sits in a file's rows, found from its header row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns([Option<usize>; 9]);

impl Columns {
    /// Finds the columns in a header row; names the required columns that are missing.
    pub fn from_header<S: AsRef<str>>(header: &[S]) -> Result<Columns, RegisterError> {
        let mut at = [None; 9];
        for (slot, col) in at.iter_mut().zip(Column::ALL) {
            *slot = header.iter().position(|h| col.matches(h.as_ref()));
        }
        let missing: Vec<&'static str> = Column::ALL
            .iter()
            .zip(at)
            .filter(|(c, i)| c.required() && i.is_none())
            .map(|(c, _)| c.name())
            .collect();
        if missing.is_empty() {
            Ok(Columns(at))
        } else {
            Err(RegisterError::MissingColumns(missing.join(", ")))
        }
    }

    fn get<'a, S: AsRef<str>>(&self, row: &'a [S], c: Column) -> &'a str {
        let i = Column::ALL.iter().position(|x| *x == c).unwrap_or(0);
        self.0[i]
            .and_then(|j| row.get(j))
            .map_or("", |s| s.as_ref().trim())
    }

    /// How many fields a row must at least have to reach every column.
    fn width(&self) -> usize {
        self.0.iter().flatten().max().map_or(0, |m| m + 1)
    }
}

/// One line of a register file, checked. Holds personal data: never log it.
#[derive(Clone, PartialEq, Eq)]
pub struct RegisterLine {
    pub id_number: IdNumber,
    pub name: String,
    pub phone: Option<PhoneNumber>,
    /// The household number (户号) as the register writes it.
    pub household: String,
    pub address: String,
    /// The community (12 digits) the address lies in.
    pub community: AreaCode,
    /// The grid cell (网格) the address lies in.
    pub cell: GridCell,
    pub kind: ResidentKind,
    /// For floating population: the day they were registered at this address.
    pub registered_on: Option<CivilDay>,
}

impl std::fmt::Debug for RegisterLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterLine")
            .field("id_number", &self.id_number)
            .field("community", &self.community)
            .field("cell", &self.cell)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The longest name, household number and address a register line may carry (characters).
pub const MAX_NAME: usize = 64;
pub const MAX_HOUSEHOLD: usize = 64;
pub const MAX_ADDRESS: usize = 200;

/// Why a register line (or file) is refused. Messages never repeat the personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("the header lacks the columns {0}")]
    MissingColumns(String),
    #[error("the line has {0} fields, fewer than the header names")]
    ShortLine(usize),
    #[error("{0}")]
    IdNumber(#[from] crate::idnumber::IdNumberError),
    #[error("the name is empty, longer than {MAX_NAME} characters or holds control characters")]
    Name,
    #[error("a phone number is 11 digits starting with 1 (or empty)")]
    Phone,
    #[error("the household number is empty or longer than {MAX_HOUSEHOLD} characters")]
    Household,
    #[error(
        "the address is empty, longer than {MAX_ADDRESS} characters or holds control characters"
    )]
    Address,
    #[error("a community is a 12-digit area code")]
    Community,
    #[error("a grid cell is a number")]
    Cell,
    #[error("kind is resident (常住) or floating (流动)")]
    Kind,
    #[error(
        "a registration date is YYYY-MM-DD, not in the future, and floating population needs one"
    )]
    RegisteredOn,
}

impl RegisterError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            RegisterError::MissingColumns(_) => "missing_columns",
            RegisterError::ShortLine(_) => "invalid_line",
            RegisterError::IdNumber(e) => e.code(),
            RegisterError::Name => "invalid_name",
            RegisterError::Phone => "invalid_phone",
            RegisterError::Household => "invalid_household",
            RegisterError::Address => "invalid_address",
            RegisterError::Community => "invalid_community",
            RegisterError::Cell => "invalid_cell",
            RegisterError::Kind => "invalid_kind",
            RegisterError::RegisteredOn => "invalid_registration_date",
        }
    }
}

fn text(s: &str, max: usize) -> Option<String> {
    let ok = !s.is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control);
    ok.then(|| s.to_owned())
}

/// An address may hold the line breaks of a spreadsheet cell (Alt+Enter), no other control
/// characters.
fn address(s: &str) -> Option<String> {
    let ok = !s.is_empty()
        && s.chars().count() <= MAX_ADDRESS
        && !s
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
    ok.then(|| s.to_owned())
}

impl RegisterLine {
    /// The birth date in the ID number (GB 11643: digits 7–14), as (year, month, day).
    pub fn born(&self) -> (i16, u8, u8) {
        let n = self.id_number.expose().as_bytes();
        let num = |r: std::ops::Range<usize>| -> u32 {
            n.get(r)
                .unwrap_or_default()
                .iter()
                .fold(0, |a, d| a * 10 + u32::from(d.wrapping_sub(b'0')))
        };
        (num(6..10) as i16, num(10..12) as u8, num(12..14) as u8)
    }

    /// Parses one row of a register file whose columns are `cols`; `today` (Asia/Shanghai)
    /// bounds the registration date.
    pub fn parse<S: AsRef<str>>(
        cols: &Columns,
        row: &[S],
        today: CivilDay,
    ) -> Result<RegisterLine, RegisterError> {
        if row.len() < cols.width() {
            return Err(RegisterError::ShortLine(row.len()));
        }
        let f = |c| cols.get(row, c);
        let id_number = IdNumber::parse(f(Column::IdNumber))?;
        let name = text(f(Column::Name), MAX_NAME).ok_or(RegisterError::Name)?;
        let phone = match f(Column::Phone) {
            "" => None,
            p => Some(PhoneNumber::parse(p).map_err(|_| RegisterError::Phone)?),
        };
        let household =
            text(f(Column::Household), MAX_HOUSEHOLD).ok_or(RegisterError::Household)?;
        let address = address(f(Column::Address)).ok_or(RegisterError::Address)?;
        let community = AreaCode::parse(f(Column::Community))
            .ok()
            .filter(|a| a.as_str().len() == 12)
            .ok_or(RegisterError::Community)?;
        let cell = f(Column::Cell)
            .parse::<u32>()
            .map(GridCell)
            .map_err(|_| RegisterError::Cell)?;
        let kind = match f(Column::Kind) {
            "" => ResidentKind::Resident,
            k => ResidentKind::parse(k).ok_or(RegisterError::Kind)?,
        };
        let registered_on = match f(Column::RegisteredOn) {
            "" => None,
            d => Some(CivilDay::parse(d).map_err(|_| RegisterError::RegisteredOn)?),
        };
        if registered_on.is_some_and(|d| d > today)
            || (kind == ResidentKind::Floating && registered_on.is_none())
        {
            return Err(RegisterError::RegisteredOn);
        }
        Ok(RegisterLine {
            id_number,
            name,
            phone,
            household,
            address,
            community,
            cell,
            kind,
            registered_on,
        })
    }
}

/// A resident as the register holds them (what an import compares a line with).
#[derive(Clone, PartialEq, Eq)]
pub struct Registered {
    pub id: PersonId,
    pub name: String,
    pub phone: Option<PhoneNumber>,
    pub household: HouseholdId,
    /// Empty for people who came from elsewhere than a register file (the synthetic city).
    pub address: String,
    pub community: AreaCode,
    pub cell: GridCell,
    pub kind: ResidentKind,
    pub registered_on: Option<CivilDay>,
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("id", &self.id)
            .field("community", &self.community)
            .field("cell", &self.cell)
            .finish_non_exhaustive()
    }
}

/// What a register line means against what is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nobody with this ID number is registered: a new resident.
    Added,
    /// Registered with exactly this data: nothing to do (a repeated import).
    Unchanged,
    /// Same address; name, phone, household, kind or registration date changed.
    Updated,
    /// The address, community or grid cell changed: the person moves (which can change
    /// their zone, hence their colour: the move is an authority event).
    Moved,
}

/// Compares a line with the stored resident of the same ID number. `household` is the id
/// the line's household number maps to.
pub fn change(stored: Option<&Registered>, line: &RegisterLine, household: HouseholdId) -> Change {
    let Some(s) = stored else {
        return Change::Added;
    };
    if s.address != line.address || s.community != line.community || s.cell != line.cell {
        Change::Moved
    } else if s.name != line.name
        || s.phone != line.phone
        || s.household != household
        || s.kind != line.kind
        || s.registered_on != line.registered_on
    {
        Change::Updated
    } else {
        Change::Unchanged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: CivilDay = CivilDay(20_600);

    fn cols() -> Columns {
        Columns::from_header(&[
            "id_number",
            "name",
            "phone",
            "household",
            "address",
            "community",
            "cell",
            "kind",
            "registered_on",
        ])
        .expect("header")
    }

    fn id() -> String {
        IdNumber::compose(320213, 1990, 1, 2, 1)
            .expect("valid")
            .expose()
            .to_owned()
    }

    fn row(over: &[(usize, &str)]) -> Vec<String> {
        let mut r: Vec<String> = [
            id().as_str(),
            "张三",
            "13800001234",
            "H1",
            "梁溪区 中山路 1 号",
            "320213001001",
            "7",
            "",
            "",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for (i, v) in over {
            r[*i] = (*v).to_owned();
        }
        r
    }

    #[test]
    fn chinese_headers_in_any_order_find_their_columns() {
        let c = Columns::from_header(&["姓名", "社区", "身份证号", "地址", "户号", "网格"])
            .expect("header");
        let id = id();
        let r = ["李四", "320213001001", id.as_str(), "某路 2 号", "H9", "3"];
        let line = RegisterLine::parse(&c, &r, TODAY).expect("line");
        assert_eq!(line.name, "李四");
        assert_eq!(line.cell, GridCell(3));
        assert_eq!(line.phone, None);
        assert_eq!(line.kind, ResidentKind::Resident);
        // A spreadsheet cell's line break is part of an address.
        let r = [
            "李四",
            "320213001001",
            id.as_str(),
            "某路 2 号\r\n后院",
            "H9",
            "3",
        ];
        assert!(RegisterLine::parse(&c, &r, TODAY).is_ok());
    }

    #[test]
    fn a_header_without_required_columns_names_them() {
        let e = Columns::from_header(&["id_number", "name"]).expect_err("missing");
        assert_eq!(e.code(), "missing_columns");
        assert!(e.to_string().contains("household"), "{e}");
        assert!(e.to_string().contains("cell"), "{e}");
    }

    #[test]
    fn each_bad_field_has_its_own_code() {
        let good = id();
        let wrong = if good.ends_with('0') { "1" } else { "0" };
        let bad_check = format!("{}{wrong}", &good[..17]);
        let table: &[(usize, &str, &str)] = &[
            (0, &bad_check, "invalid_id_check_digit"),
            (0, "12345", "invalid_id_number"),
            (1, "", "invalid_name"),
            (2, "12345", "invalid_phone"),
            (3, "", "invalid_household"),
            (4, "", "invalid_address"),
            (4, "某路\u{7}1 号", "invalid_address"),
            (5, "320213", "invalid_community"),
            (6, "x7", "invalid_cell"),
            (7, "tourist", "invalid_kind"),
            (8, "2026-13-01", "invalid_registration_date"),
        ];
        for (i, v, code) in table {
            let e = RegisterLine::parse(&cols(), &row(&[(*i, v)]), TODAY).expect_err(code);
            assert_eq!(e.code(), *code, "field {i} = {v:?}");
        }
        let e = RegisterLine::parse(&cols(), &row(&[])[..5], TODAY).expect_err("short");
        assert_eq!(e.code(), "invalid_line");
    }

    #[test]
    fn floating_population_needs_a_registration_date_not_in_the_future() {
        let e = RegisterLine::parse(&cols(), &row(&[(7, "流动")]), TODAY).expect_err("no date");
        assert_eq!(e.code(), "invalid_registration_date");
        let ok = RegisterLine::parse(&cols(), &row(&[(7, "floating"), (8, "2026-01-05")]), TODAY)
            .expect("floating");
        assert_eq!(ok.kind, ResidentKind::Floating);
        assert!(ok.registered_on.is_some());
        let future = CivilDay(TODAY.0 + 1);
        let e = RegisterLine::parse(
            &cols(),
            &row(&[(7, "floating"), (8, &date_of(future))]),
            TODAY,
        )
        .expect_err("future");
        assert_eq!(e.code(), "invalid_registration_date");
    }

    fn date_of(d: CivilDay) -> String {
        let c = d.compact();
        format!("{}-{}-{}", &c[..4], &c[4..6], &c[6..])
    }

    #[test]
    fn a_line_compares_as_added_unchanged_updated_or_moved() {
        let line = RegisterLine::parse(&cols(), &row(&[]), TODAY).expect("line");
        let stored = Registered {
            id: PersonId(4),
            name: line.name.clone(),
            phone: line.phone.clone(),
            household: HouseholdId(9),
            address: line.address.clone(),
            community: line.community.clone(),
            cell: line.cell,
            kind: line.kind,
            registered_on: None,
        };
        assert_eq!(change(None, &line, HouseholdId(9)), Change::Added);
        assert_eq!(
            change(Some(&stored), &line, HouseholdId(9)),
            Change::Unchanged
        );
        assert_eq!(
            change(Some(&stored), &line, HouseholdId(10)),
            Change::Updated
        );
        let moved = RegisterLine {
            address: "新地址".into(),
            ..line.clone()
        };
        assert_eq!(change(Some(&stored), &moved, HouseholdId(9)), Change::Moved);
        let other_cell = RegisterLine {
            cell: GridCell(8),
            ..line
        };
        assert_eq!(
            change(Some(&stored), &other_cell, HouseholdId(9)),
            Change::Moved
        );
    }

    #[test]
    fn debug_never_shows_name_phone_or_address() {
        let line = RegisterLine::parse(&cols(), &row(&[]), TODAY).expect("line");
        let shown = format!("{line:?}");
        assert!(
            !shown.contains("张三") && !shown.contains("13800001234"),
            "{shown}"
        );
        assert!(
            !shown.contains("中山路") && !shown.contains(&id()),
            "{shown}"
        );
    }
}
