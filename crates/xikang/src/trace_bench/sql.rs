//! The SQL of `xikang bench-trace`'s baselines (documented in `docs/tracing.md`): the
//! window form derives presence from the raw scans on every question; the stays form reads a
//! table of merged presence intervals built once. Both take the venue rule's overlap from
//! `venues.close` (seconds, the policy's rule for the venue's category; null where
//! co-presence makes no close contact), as xikang's tracer takes it from its population.

use xikang_trace::MAX_STAY;

/// Presence of each `keys` group (e.g. `person, venue`) as the CTEs `{name}_p` … `{name}_m`,
/// the last holding the merged intervals `(keys…, s, e)`: an entry lasts to the next scan
/// there if that is an exit within MAX_STAY, else for the venue's dwell time; an exit that no
/// entry claims means the dwell time before it. Then per group: drop empty intervals and
/// merge overlapping or touching ones (gaps and islands). `scans` is a table or a
/// parenthesised query with the columns `keys…, t, dir`.
fn presence_sql(name: &str, scans: &str, keys: &str) -> String {
    let max_stay = MAX_STAY;
    let src: Vec<String> = keys.split(", ").map(|k| format!("s.{k}")).collect();
    let src = src.join(", ");
    format!(
        "{name}_p as (
  select {src}, s.t, s.dir, v.dwell,
    lead(s.t) over w as nat, lead(s.dir) over w as ndir,
    lag(s.t) over w as pat, lag(s.dir) over w as pdir
  from {scans} s join venues v on v.id = s.venue
  where v.dwell > 0
  window w as (partition by {src} order by s.t, s.dir)
),
{name}_raw as (
  select {keys}, t as s, case when ndir = 1 and nat - t <= {max_stay} then nat else t + dwell end as e
  from {name}_p where dir = 0
  union all
  select {keys}, t - dwell as s, t as e
  from {name}_p where dir = 1 and not (coalesce(pdir, 1) = 0 and t - pat <= {max_stay})
),
{name}_brk as (
  select {keys}, s, e,
    case when s <= max(e) over (partition by {keys} order by s, e rows between unbounded preceding and 1 preceding)
      then 0 else 1 end as brk
  from {name}_raw where e > s
),
{name}_grp as (
  select {keys}, s, e, sum(brk) over (partition by {keys} order by s, e rows between unbounded preceding and current row) as grp
  from {name}_brk
),
{name}_m as (select {keys}, min(s) as s, max(e) as e from {name}_grp group by {keys}, grp)"
    )
}

/// The venue rule on the overlaps `ov (person, venue, secs)`: at least the venue's
/// `close` seconds, none where that is null.
const VENUE_RULE: &str = "select ov.person from ov join venues v on v.id = ov.venue
where v.close is not null and ov.secs >= v.close and ov.secs > 0";

/// The household and workplace rules, appended to a query whose CTE `ci` holds the case's
/// presence `(venue, s, e)` clipped to the window; then the order of the answer.
fn household_and_workplace(sql: &mut String, person: u32, household: bool, workplace: bool) {
    if household {
        sql.push_str(&format!(
            "
union
select p2.id from people p1 join people p2 on p2.household = p1.household
where p1.id = {person} and p2.id <> {person}"
        ));
    }
    if workplace {
        sql.push_str(&format!(
            "
union
select p2.id from people p1 join workplaces w on w.id = p1.workplace
join people p2 on p2.workplace = p1.workplace
where p1.id = {person} and p2.id <> {person} and exists (select 1 from ci where ci.venue = w.venue)"
        ));
    }
    sql.push_str("\norder by 1");
}

/// One SQL text for PostgreSQL and DuckDB, the "window" form: the close contacts of one
/// case, one person id per row, sorted, derived from the raw scans on every question.
pub fn close_contacts_sql(
    person: u32,
    lo: i64,
    hi: i64,
    reach: i64,
    household: bool,
    workplace: bool,
) -> String {
    let case_presence = presence_sql("c", "cs", "venue");
    let other_presence = presence_sql("o", "os", "person, venue");
    let lo_r = lo - reach;
    let hi_r = hi + reach;
    let mut sql = format!(
        "with
cs as (
  select distinct venue, t, dir from checkins where person = {person} and t between {lo_r} and {hi_r}
),
{case_presence},
ci as (
  select venue, greatest(s, {lo}) as s, least(e, {hi}) as e from c_m where least(e, {hi}) > greatest(s, {lo})
),
span as (select venue, min(s) - {reach} as lo, max(e) + {reach} as hi from ci group by venue),
os as (
  select distinct k.person, k.venue, k.t, k.dir from checkins k
  join span on k.venue = span.venue and k.t between span.lo and span.hi
  where k.person <> {person}
),
{other_presence},
ov as (
  select m.person, m.venue, sum(least(m.e, c.e) - greatest(m.s, c.s)) as secs
  from o_m m join ci c on c.venue = m.venue and m.s < c.e and c.s < m.e
  group by m.person, m.venue
)
{VENUE_RULE}"
    );
    household_and_workplace(&mut sql, person, household, workplace);
    sql
}

/// The stays table, built once from all check-ins (repeated scans counted once): every
/// person's merged presence intervals per venue, `(person, venue, s, e)` with `e > s`. The
/// same text runs on PostgreSQL and DuckDB (`create table stays as ` is put in front).
pub fn stays_sql() -> String {
    let presence = presence_sql(
        "a",
        "(select distinct person, venue, t, dir from checkins)",
        "person, venue",
    );
    format!("with\n{presence}\nselect person, venue, s, e from a_m")
}

/// How a "stays" question finds the intervals that overlap the case's at a venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// `s < case end and e > case start`, plus the bound `s > case start - longest stay`
    /// (true of every overlapping stay) so that a btree on `(venue, s)` scans a range.
    Btree {
        /// The longest stay in the table, seconds.
        longest: i64,
    },
    /// `span && int8range(case start, case end)`, for a GiST index on `(venue, span)`.
    Range,
}

/// The "stays" form: the close contacts of one case from the precomputed `table` of stays
/// (`stays` or `stays_r`, which adds `span int8range`), one range-overlap join per case;
/// `by_person` is the table the case's own stays are read from (the same table, or a copy
/// sorted by person for DuckDB, which has no secondary index to use).
#[expect(
    clippy::too_many_arguments,
    reason = "one question's parameters, as close_contacts_sql takes them"
)]
pub fn close_contacts_stays_sql(
    table: &str,
    by_person: &str,
    overlap: Overlap,
    person: u32,
    lo: i64,
    hi: i64,
    household: bool,
    workplace: bool,
) -> String {
    let join = match overlap {
        Overlap::Btree { longest } => {
            "o.s < c.e and o.e > c.s and o.s > c.s - ".to_owned() + &longest.to_string()
        }
        Overlap::Range => "o.span && int8range(c.s, c.e)".to_owned(),
    };
    let mut sql = format!(
        "with
ci as (
  select venue, greatest(s, {lo}) as s, least(e, {hi}) as e
  from {by_person} where person = {person} and s < {hi} and e > {lo}
),
ov as (
  select o.person, o.venue, sum(least(o.e, c.e) - greatest(o.s, c.s)) as secs
  from ci c join {table} o on o.venue = c.venue and {join}
  where o.person <> {person}
  group by o.person, o.venue
)
{VENUE_RULE}"
    );
    household_and_workplace(&mut sql, person, household, workplace);
    sql
}
