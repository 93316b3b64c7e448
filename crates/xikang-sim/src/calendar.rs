//! Calendar arithmetic on [`CivilDay`] (days since 1970-01-01): year/month/day for birth
//! dates and the weekday for routines. Proleptic Gregorian, done by hand because it is a
//! dozen lines and keeps the simulation free of a date library.

use xikang_domain::CivilDay;

/// Year, month (1–12) and day (1–31) of a civil day.
pub(crate) fn ymd(day: CivilDay) -> (i32, u32, u32) {
    // Shift the epoch to 0000-03-01 so that leap days fall at the end of a 400-year era.
    let z = i64::from(day.0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m as u32, d as u32)
}

/// Day of the week, 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday).
pub(crate) fn weekday(day: CivilDay) -> u32 {
    (i64::from(day.0) + 3).rem_euclid(7) as u32
}

/// Saturday or Sunday.
pub(crate) fn is_weekend(day: CivilDay) -> bool {
    weekday(day) >= 5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates_convert() {
        assert_eq!(ymd(CivilDay(0)), (1970, 1, 1));
        assert_eq!(ymd(CivilDay::parse("2000-02-29").unwrap()), (2000, 2, 29));
        assert_eq!(ymd(CivilDay::parse("1935-12-31").unwrap()), (1935, 12, 31));
        assert_eq!(ymd(CivilDay::parse("2022-07-02").unwrap()), (2022, 7, 2));
    }

    #[test]
    fn every_day_of_a_century_round_trips_through_the_parser() {
        let start = CivilDay::parse("1920-01-01").unwrap().0;
        for d in (start..start + 36_600).step_by(37) {
            let (y, m, dd) = ymd(CivilDay(d));
            let s = format!("{y:04}-{m:02}-{dd:02}");
            assert_eq!(CivilDay::parse(&s).unwrap(), CivilDay(d));
        }
    }

    #[test]
    fn weekdays_are_counted_from_monday() {
        // 2022-07-02 was a Saturday, 2022-07-04 a Monday.
        assert_eq!(weekday(CivilDay::parse("2022-07-02").unwrap()), 5);
        assert_eq!(weekday(CivilDay::parse("2022-07-04").unwrap()), 0);
        assert!(is_weekend(CivilDay::parse("2022-07-03").unwrap()));
        assert!(!is_weekend(CivilDay::parse("2022-07-01").unwrap()));
    }
}
