//! A billing period: one calendar month in UTC, written `YYYY-MM`.

use chrono::{Datelike, NaiveDate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    /// The first day of the month.
    first: NaiveDate,
}

impl Period {
    /// `2026-12` → December 2026. Years 2000–9999, months 01–12, nothing else.
    pub fn parse(s: &str) -> Option<Period> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 || !(y.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let year: i32 = y.parse().ok()?;
        let month: u32 = m.parse().ok()?;
        if year < 2000 {
            return None;
        }
        NaiveDate::from_ymd_opt(year, month, 1).map(|first| Period { first })
    }

    /// The period holding `day`.
    pub fn of(day: NaiveDate) -> Period {
        Period {
            first: day.with_day(1).unwrap_or(day),
        }
    }

    pub fn first_day(self) -> NaiveDate {
        self.first
    }

    /// The last day, inclusive.
    pub fn last_day(self) -> NaiveDate {
        self.next().first - chrono::Days::new(1)
    }

    pub fn next(self) -> Period {
        let (y, m) = match self.first.month() {
            12 => (self.first.year() + 1, 1),
            m => (self.first.year(), m + 1),
        };
        Period {
            first: NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(self.first),
        }
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.first.year(), self.first.month())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly_year_dash_month() {
        let dec = Period::parse("2026-12").unwrap();
        assert_eq!(dec.to_string(), "2026-12");
        assert_eq!(
            dec.first_day(),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
        );
        assert_eq!(
            dec.last_day(),
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
        );
        assert_eq!(dec.next().to_string(), "2027-01");
        let feb = Period::parse("2028-02").unwrap();
        assert_eq!(
            feb.last_day(),
            NaiveDate::from_ymd_opt(2028, 2, 29).unwrap()
        );
        for bad in [
            "",
            "2026",
            "2026-13",
            "2026-00",
            "2026-1",
            "26-12",
            "1999-12",
            "2026-12-01",
            "2026/12",
            "+026-12",
            "2026-1a",
            "２０２６-12",
        ] {
            assert_eq!(Period::parse(bad), None, "{bad:?}");
        }
        assert_eq!(
            Period::of(NaiveDate::from_ymd_opt(2026, 12, 17).unwrap()),
            dec
        );
    }
}
