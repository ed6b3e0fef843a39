//! Timestamps from log exports, converted to microseconds since the Unix epoch in UTC.
//!
//! Only the formats listed on `parse_timestamp` are accepted. The Log Analytics portal writes
//! datetimes in the UI locale with no zone, API and archive exports write ISO 8601, and
//! PowerShell exports write culture strings. Dates use the proleptic Gregorian calendar, so
//! values before 1970 (such as the unset value `1601/01/01 00:00:00.0000000`) give negative
//! microseconds.

use std::fmt;

/// Day and month order of slash dates with the year last (`3/4/2026`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateOrder {
    /// `M/D/YYYY`, as in the en-US locale.
    MonthFirst,
    /// `D/M/YYYY`, as in the en-GB locale.
    DayFirst,
}

/// Reason why a timestamp value was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeError {
    /// The value is empty or whitespace only.
    Empty,
    /// The value has no accepted format, or names a date or time that does not exist.
    Invalid,
    /// The value is a slash date whose day and month order cannot be determined.
    AmbiguousDateOrder,
}

impl TimeError {
    /// Returns a plain-language explanation for reports and warnings.
    pub fn reason(&self) -> String {
        let text = match self {
            TimeError::Empty => "empty timestamp",
            TimeError::Invalid => {
                "unsupported timestamp format or impossible date or time (expected for example \
                 2026-03-14T14:00:30Z, 3/14/2026, 2:00:30.000 PM or 2026/03/14 14:00:30)"
            }
            TimeError::AmbiguousDateOrder => {
                "the day and month order of this date is ambiguous, so set the date order \
                 (day first or month first) for this input"
            }
        };
        text.to_string()
    }
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason())
    }
}

impl std::error::Error for TimeError {}

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;
const MAX_OFFSET_MINUTES: i32 = 18 * 60;

/// Days from 0001-01-01 to 1970-01-01 in the proleptic Gregorian calendar.
const DAYS_FROM_YEAR_1_TO_EPOCH: i64 = 719_162;

/// Days in a 400-year Gregorian cycle, which has 97 leap years.
const DAYS_PER_400_YEARS: i64 = 146_097;
/// Days in a century without its leap day on the century year.
const DAYS_PER_100_YEARS: i64 = 36_524;
/// Days in four years including one leap day.
const DAYS_PER_4_YEARS: i64 = 1_461;

/// Days before the first of each month in a common year.
const DAYS_BEFORE_MONTH: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

/// Parses a timestamp and returns microseconds since 1970-01-01T00:00:00Z.
///
/// `offset_minutes` is the UTC offset of values that carry no zone (0 for `[UTC]` columns, the
/// user's offset for `[Local Time]` columns), and UTC = local time - offset. A value with its
/// own `Z`, `±hh:mm` or `±hhmm` uses that zone instead.
///
/// Accepted formats, after trimming whitespace:
/// - ISO 8601: `2026-03-14T14:00:30Z`, with `T` or one space before the time and an optional
///   zone.
/// - Month-first with AM/PM, with or without a comma: `3/14/2026, 2:00:30.000 PM` (en-US
///   portal) and `3/12/2025 7:22:01 AM` (PowerShell).
/// - Year first: `2020/10/16 0:00:01.403` (ja-JP portal, storage culture strings).
/// - Dots, day first: `16.7.2026, 20:26:12.030` and `16.07.2026 20:26:12`.
/// - Slashes, year last, 24-hour clock: `16/07/2026 20:26:12.030` (en-GB portal).
/// - .NET JSON dates: `/Date(1773495600100)/` (Windows PowerShell 5.1's `ConvertTo-Json`).
///
/// A time without seconds (`2026-03-14T14:00Z`, `3/14/2026 2:00 PM`) is read as second 0; the
/// import warns about such values. Fractions may have up to 9 digits, and digits after the
/// sixth are truncated, not rounded, because the result has microsecond precision.
///
/// For slash dates with the year last, `date_order` decides the order when given. Otherwise a
/// value with AM/PM is month first, and a 24-hour value is day first if its first number is
/// above 12 and month first if its second number is above 12 or equals the first.
///
/// # Errors
///
/// `Empty` for blank input.
///
/// `AmbiguousDateOrder` when `date_order` is None and the value is a 24-hour slash date with
/// two different numbers of 12 or less. The same applies to an AM/PM slash date whose first
/// number is above 12, because that marks a day-first file whose other rows the month-first
/// rule would misread.
///
/// `Invalid` for anything else that is not a real date and time in an accepted format,
/// including second 60 and zone offsets beyond ±18:00.
pub fn parse_timestamp(
    raw: &str,
    offset_minutes: i32,
    date_order: Option<DateOrder>,
) -> Result<i64, TimeError> {
    parse_timestamp_inferring(raw, offset_minutes, date_order).map(|(micros, _)| micros)
}

/// Parses like `parse_timestamp` and also returns the day and month order it chose for a slash
/// date whose two numbers differ, when no order was given: the rows of one file must agree.
pub fn parse_timestamp_inferring(
    raw: &str,
    offset_minutes: i32,
    date_order: Option<DateOrder>,
) -> Result<(i64, Option<DateOrder>), TimeError> {
    // ICU's en-US formatting (Chrome, Node.js) puts a narrow no-break space before AM/PM, and
    // other writers a no-break space: both read as the space they stand for.
    let spaced;
    let text = if raw.is_ascii() {
        raw.trim()
    } else {
        spaced = raw.replace(['\u{a0}', '\u{202f}', '\u{2007}'], " ");
        spaced.trim()
    };
    if text.is_empty() {
        return Err(TimeError::Empty);
    }

    if let Some(micros) = parse_dotnet_date(text)? {
        return Ok((micros, None));
    }
    let bytes = text.as_bytes();
    let is_iso = bytes.len() > 4 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-';
    let (fields, zone_offset, inferred) = if is_iso {
        let (fields, zone_offset) = parse_iso(text)?;
        (fields, zone_offset, None)
    } else {
        let (fields, inferred) = parse_locale(text, date_order)?;
        (fields, None, inferred)
    };

    fields.validate()?;
    let offset = zone_offset.unwrap_or(offset_minutes);
    Ok((fields.to_micros(offset), inferred))
}

/// Parses the date that Windows PowerShell 5.1's `ConvertTo-Json` and .NET's
/// `DataContractJsonSerializer` write: `/Date(1773495600100)/`, milliseconds since the Unix
/// epoch in UTC, optionally followed by the writer's own offset (`/Date(1773495600100+0100)/`),
/// which does not change the instant. Returns None for any other text.
fn parse_dotnet_date(text: &str) -> Result<Option<i64>, TimeError> {
    let Some(inner) = text.strip_prefix("/Date(").and_then(|rest| rest.strip_suffix(")/")) else {
        return Ok(None);
    };
    // The offset is four digits after a sign that is not the first character.
    let digits_end = inner.len().checked_sub(5).filter(|&at| at > 0 && inner[at..].starts_with(['+', '-']));
    let (millis, offset) = match digits_end {
        Some(at) => (&inner[..at], &inner[at + 1..]),
        None => (inner, "0000"),
    };
    let valid_millis = !millis.is_empty() && millis.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit());
    let valid_offset = offset.bytes().all(|b| b.is_ascii_digit())
        && offset[..2].parse::<i32>().is_ok_and(|hours| hours * 60 <= MAX_OFFSET_MINUTES)
        && offset[2..].parse::<i32>().is_ok_and(|minutes| minutes < 60);
    if !valid_millis || !valid_offset {
        return Err(TimeError::Invalid);
    }
    // Years 1 to 9999, as every other accepted format.
    const MAX_MILLIS: i64 = 253_402_300_800_000;
    const MIN_MILLIS: i64 = -62_135_596_800_000;
    match millis.parse::<i64>() {
        Ok(ms) if (MIN_MILLIS..MAX_MILLIS).contains(&ms) => Ok(Some(ms * 1_000)),
        _ => Err(TimeError::Invalid),
    }
}

/// Date and time fields of a timestamp, before validation.
#[derive(Debug)]
struct DateTimeFields {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    microsecond: u32,
}

impl DateTimeFields {
    fn validate(&self) -> Result<(), TimeError> {
        let date_valid = (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month);
        let time_valid = self.hour <= 23 && self.minute <= 59 && self.second <= 59;
        if date_valid && time_valid {
            Ok(())
        } else {
            Err(TimeError::Invalid)
        }
    }

    /// Converts validated fields in a zone `offset_minutes` east of UTC to UTC microseconds.
    fn to_micros(&self, offset_minutes: i32) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        let local_seconds = days * SECONDS_PER_DAY
            + i64::from(self.hour) * 3_600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        let utc_seconds = local_seconds - i64::from(offset_minutes) * 60;
        utc_seconds * MICROS_PER_SECOND + i64::from(self.microsecond)
    }
}

/// Byte reader over an ASCII timestamp.
struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor {
            bytes: text.as_bytes(),
            position: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn is_at_end(&self) -> bool {
        self.position >= self.bytes.len()
    }

    /// Consumes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    /// Consumes the next byte if it is one of `choices` and returns it.
    fn eat_any(&mut self, choices: &[u8]) -> Option<u8> {
        let byte = self.peek().filter(|byte| choices.contains(byte))?;
        self.position += 1;
        Some(byte)
    }

    /// Consumes a whole run of ASCII digits and returns its value and length. Fails without
    /// consuming anything if the run is shorter than `min_digits` or longer than `max_digits`
    /// (at most 9, so the value fits in u32).
    fn number(&mut self, min_digits: usize, max_digits: usize) -> Option<(u32, usize)> {
        let run = &self.bytes[self.position..];
        let length = run.iter().take_while(|byte| byte.is_ascii_digit()).count();
        if length < min_digits || length > max_digits {
            return None;
        }

        let value = run[..length]
            .iter()
            .fold(0u32, |value, byte| value * 10 + u32::from(byte - b'0'));
        self.position += length;
        Some((value, length))
    }

    fn skip_spaces(&mut self) -> usize {
        let start = self.position;
        while self.peek() == Some(b' ') {
            self.position += 1;
        }
        self.position - start
    }

    fn rest(&self) -> &'a [u8] {
        &self.bytes[self.position..]
    }
}

/// Time of day as parsed, before AM/PM conversion.
struct Clock {
    hour: u32,
    minute: u32,
    second: u32,
    microsecond: u32,
}

/// Parses `H:MM:SS` with an optional fraction of 1 to 9 digits. ISO 8601 needs two hour digits,
/// while locale formats write hours below 10 with one digit.
fn parse_clock(cursor: &mut Cursor<'_>, min_hour_digits: usize) -> Option<Clock> {
    let (hour, _) = cursor.number(min_hour_digits, 2)?;
    if !cursor.eat(b':') {
        return None;
    }
    let (minute, _) = cursor.number(2, 2)?;
    // Excel's default date format (`m/d/yyyy h:mm`) drops the seconds when a CSV export is
    // saved again, so a clock without seconds reads as the start of its minute.
    if !cursor.eat(b':') {
        return Some(Clock { hour, minute, second: 0, microsecond: 0 });
    }
    let (second, _) = cursor.number(2, 2)?;

    // ISO 8601 allows a comma as the decimal sign, and day-first locales write one.
    let mut microsecond = 0;
    if cursor.eat_any(b".,").is_some() {
        let (fraction, digits) = cursor.number(1, 9)?;
        microsecond = fraction_to_micros(fraction, digits);
    }
    Some(Clock {
        hour,
        minute,
        second,
        microsecond,
    })
}

/// Scales a fraction of `digits` digits to microseconds, truncating digits after the sixth.
fn fraction_to_micros(fraction: u32, digits: usize) -> u32 {
    if digits <= 6 {
        fraction * 10u32.pow((6 - digits) as u32)
    } else {
        fraction / 10u32.pow((digits - 6) as u32)
    }
}

/// Parses ISO 8601 and returns the fields with the value's own offset in minutes, if any.
fn parse_iso(text: &str) -> Result<(DateTimeFields, Option<i32>), TimeError> {
    let mut cursor = Cursor::new(text);
    let fields = parse_iso_fields(&mut cursor).ok_or(TimeError::Invalid)?;

    let zone = if cursor.is_at_end() {
        None
    } else if cursor.eat_any(b"Zz").is_some() {
        Some(0)
    } else {
        let minutes = parse_signed_offset(&mut cursor, false).ok_or(TimeError::Invalid)?;
        if minutes.abs() > MAX_OFFSET_MINUTES {
            return Err(TimeError::Invalid);
        }
        Some(minutes)
    };

    if !cursor.is_at_end() {
        return Err(TimeError::Invalid);
    }
    Ok((fields, zone))
}

fn parse_iso_fields(cursor: &mut Cursor<'_>) -> Option<DateTimeFields> {
    let (year, _) = cursor.number(4, 4)?;
    cursor.eat(b'-').then_some(())?;
    let (month, _) = cursor.number(2, 2)?;
    cursor.eat(b'-').then_some(())?;
    let (day, _) = cursor.number(2, 2)?;
    cursor.eat_any(b"Tt ")?;
    let clock = parse_clock(cursor, 2)?;

    Some(DateTimeFields {
        year: i64::from(year),
        month,
        day,
        hour: clock.hour,
        minute: clock.minute,
        second: clock.second,
        microsecond: clock.microsecond,
    })
}

/// Parses a signed offset into minutes east of UTC, with no range check. Accepts `+hh:mm` and
/// `+hhmm` (either sign), and with `short_forms` also `+h`, `+hh` and `+h:mm` as typed on a
/// command line.
fn parse_signed_offset(cursor: &mut Cursor<'_>, short_forms: bool) -> Option<i32> {
    let sign = if cursor.eat_any(b"+-")? == b'-' {
        -1
    } else {
        1
    };
    let (first, digits) = cursor.number(1, 4)?;
    let has_colon = digits <= 2 && cursor.eat(b':');

    let (hours, minutes) = if digits == 4 {
        (first / 100, first % 100)
    } else if has_colon && (digits == 2 || short_forms) {
        (first, cursor.number(2, 2)?.0)
    } else if !has_colon && digits <= 2 && short_forms {
        (first, 0)
    } else {
        return None;
    };

    if minutes > 59 {
        return None;
    }
    Some(sign * (hours * 60 + minutes) as i32)
}

/// AM or PM marker of a 12-hour clock.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Meridiem {
    Am,
    Pm,
}

/// Parses the locale formats that start with a slash or dot date.
fn parse_locale(text: &str, date_order: Option<DateOrder>) -> Result<(DateTimeFields, Option<DateOrder>), TimeError> {
    let mut cursor = Cursor::new(text);
    let date = parse_locale_date(&mut cursor).ok_or(TimeError::Invalid)?;

    cursor.eat(b',');
    if cursor.skip_spaces() == 0 {
        return Err(TimeError::Invalid);
    }
    let clock = parse_clock(&mut cursor, 1).ok_or(TimeError::Invalid)?;
    cursor.skip_spaces();
    let meridiem = parse_meridiem(cursor.rest())?;

    let us_meridiem = meridiem.is_some_and(|(_, as_us)| as_us);
    let (year, month, day, inferred) = order_date(&date, meridiem.is_some(), us_meridiem, date_order)?;
    let hour = match meridiem {
        None => clock.hour,
        Some((meridiem, _)) => twelve_to_24_hour(clock.hour, meridiem)?,
    };

    let fields = DateTimeFields { year, month, day, hour, minute: clock.minute, second: clock.second, microsecond: clock.microsecond };
    Ok((fields, inferred))
}

/// Three numbers of a locale date in written order, before day and month are assigned.
struct LocaleDate {
    separator: u8,
    first: u32,
    first_digits: usize,
    second: u32,
    second_digits: usize,
    third: u32,
    third_digits: usize,
}

fn parse_locale_date(cursor: &mut Cursor<'_>) -> Option<LocaleDate> {
    let (first, first_digits) = cursor.number(1, 4)?;
    let separator = cursor.eat_any(b"/.")?;
    let (second, second_digits) = cursor.number(1, 2)?;
    cursor.eat(separator).then_some(())?;
    let (third, third_digits) = cursor.number(1, 4)?;

    Some(LocaleDate {
        separator,
        first,
        first_digits,
        second_digits,
        second,
        third,
        third_digits,
    })
}

/// Reads an optional AM/PM marker that must end the value: `AM`, `am` or `a.m.` in any case.
/// The flag is true for `AM` and `PM` as en-US writes them; day-first locales such as en-IN
/// and en-AU write `am` and en-CA `a.m.`.
fn parse_meridiem(rest: &[u8]) -> Result<Option<(Meridiem, bool)>, TimeError> {
    if rest.is_empty() {
        return Ok(None);
    }
    let is = |plain: &[u8], dotted: &[u8]| rest.eq_ignore_ascii_case(plain) || rest.eq_ignore_ascii_case(dotted);
    let meridiem = if is(b"AM", b"a.m.") {
        Meridiem::Am
    } else if is(b"PM", b"p.m.") {
        Meridiem::Pm
    } else {
        return Err(TimeError::Invalid);
    };
    Ok(Some((meridiem, rest == b"AM" || rest == b"PM")))
}

/// Converts a 12-hour clock hour (1 to 12) to 0 to 23. 12 AM is midnight and 12 PM is noon.
fn twelve_to_24_hour(hour: u32, meridiem: Meridiem) -> Result<u32, TimeError> {
    if !(1..=12).contains(&hour) {
        return Err(TimeError::Invalid);
    }
    let hour = hour % 12;
    Ok(match meridiem {
        Meridiem::Am => hour,
        Meridiem::Pm => hour + 12,
    })
}

/// Assigns year, month and day to the numbers of a locale date. The fourth value is the order
/// chosen for a slash date with two different numbers when `date_order` is None.
/// `us_meridiem` is true when the AM/PM marker is written as en-US writes it.
fn order_date(
    date: &LocaleDate,
    has_meridiem: bool,
    us_meridiem: bool,
    date_order: Option<DateOrder>,
) -> Result<(i64, u32, u32, Option<DateOrder>), TimeError> {
    let four_digit_year_first = date.first_digits == 4 && date.third_digits <= 2;
    let four_digit_year_last = date.first_digits <= 2 && date.third_digits == 4;

    if four_digit_year_first {
        // Year-first dates are always year/month/day. Dots with the year first are not a
        // supported locale format.
        if date.separator != b'/' {
            return Err(TimeError::Invalid);
        }
        return Ok((i64::from(date.first), date.second, date.third, None));
    }
    if !four_digit_year_last {
        return Err(TimeError::Invalid);
    }

    let year = i64::from(date.third);
    let inferred = date.separator == b'/' && date_order.is_none() && date.first != date.second;
    let order = if date.separator == b'.' {
        DateOrder::DayFirst
    } else {
        // Padding one number and not the other (`5/03/2026 10:00 AM`, the `d/MM/yyyy` short
        // date of day-first locales) is no US format, and neither is `am` or `a.m.`, so such an
        // AM/PM date gets an order only where its numbers decide it.
        let padded = (date.first_digits == 2 && date.first < 10) != (date.second_digits == 2 && date.second < 10);
        let not_us = padded || !us_meridiem;
        slash_date_order(date.first, date.second, has_meridiem && !not_us, has_meridiem && not_us, date_order)?
    };
    let (month, day) = match order {
        DateOrder::MonthFirst => (date.first, date.second),
        DateOrder::DayFirst => (date.second, date.first),
    };
    Ok((year, month, day, inferred.then_some(order)))
}

/// Decides the order of `first/second/year`.
fn slash_date_order(
    first: u32,
    second: u32,
    has_meridiem: bool,
    non_us_meridiem: bool,
    date_order: Option<DateOrder>,
) -> Result<DateOrder, TimeError> {
    if let Some(order) = date_order {
        return Ok(order);
    }
    if first == 0 || second == 0 {
        return Err(TimeError::Invalid);
    }
    if non_us_meridiem && first != second && first <= 12 && second <= 12 {
        return Err(TimeError::AmbiguousDateOrder);
    }

    if has_meridiem {
        // AM/PM values are read as en-US, month first. A first number above 12 means a
        // day-first file, whose other rows this rule would misread.
        return if first > 12 {
            Err(TimeError::AmbiguousDateOrder)
        } else {
            Ok(DateOrder::MonthFirst)
        };
    }

    if first > 12 {
        Ok(DateOrder::DayFirst)
    } else if second > 12 || first == second {
        // When both numbers are equal, both orders give the same date.
        Ok(DateOrder::MonthFirst)
    } else {
        Err(TimeError::AmbiguousDateOrder)
    }
}

fn is_leap_year(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

/// Returns the number of days in `month` (1 to 12) of `year`.
fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Returns the day number of a valid date, counted from 1970-01-01 as day 0.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Whole years from 0001-01-01 to January 1 of `year`, each with its leap days.
    let years_before = year - 1;
    let leap_days =
        years_before.div_euclid(4) - years_before.div_euclid(100) + years_before.div_euclid(400);
    let days_before_year = 365 * years_before + leap_days;

    let leap_day = if month > 2 && is_leap_year(year) {
        1
    } else {
        0
    };
    let day_of_year = DAYS_BEFORE_MONTH[month as usize - 1] + leap_day + day - 1;

    days_before_year + i64::from(day_of_year) - DAYS_FROM_YEAR_1_TO_EPOCH
}

/// Returns the year, month and day of a day number counted from 1970-01-01 as day 0.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days_since_year_1 = days + DAYS_FROM_YEAR_1_TO_EPOCH;

    // Split into 400-year cycles, then centuries, 4-year groups and years. The last century of
    // a cycle and the last year of a 4-year group are one day longer, so the quotients are
    // capped at 3 to keep that extra day inside them.
    let cycles = days_since_year_1.div_euclid(DAYS_PER_400_YEARS);
    let mut remaining = days_since_year_1.rem_euclid(DAYS_PER_400_YEARS);
    let centuries = (remaining / DAYS_PER_100_YEARS).min(3);
    remaining -= centuries * DAYS_PER_100_YEARS;
    let groups = remaining / DAYS_PER_4_YEARS;
    remaining -= groups * DAYS_PER_4_YEARS;
    let years = (remaining / 365).min(3);
    remaining -= years * 365;

    let year = cycles * 400 + centuries * 100 + groups * 4 + years + 1;
    let day_of_year = remaining as u32;

    let mut month = 12;
    while month > 1 {
        let leap_day = if month > 2 && is_leap_year(year) {
            1
        } else {
            0
        };
        if day_of_year >= DAYS_BEFORE_MONTH[month as usize - 1] + leap_day {
            break;
        }
        month -= 1;
    }
    let leap_day = if month > 2 && is_leap_year(year) {
        1
    } else {
        0
    };
    let day = day_of_year - DAYS_BEFORE_MONTH[month as usize - 1] - leap_day + 1;
    (year, month, day)
}

/// Formats microseconds since the Unix epoch as ISO 8601 UTC with 6 fractional digits, for
/// example `2026-03-14T14:00:30.123456Z`.
///
/// Years 0 to 9999 have 4 digits. Other years, reachable only with raw values outside
/// `parse_timestamp` results, get a sign and at least 4 digits (`-0001`, `+10000`).
pub fn format_iso(micros: i64) -> String {
    let mut text = String::with_capacity(27);
    format_iso_into(&mut text, micros);
    text
}

/// Writes `format_iso(micros)` into `text` in place of what it held, keeping its buffer.
pub fn format_iso_into(text: &mut String, micros: i64) {
    let seconds = micros.div_euclid(MICROS_PER_SECOND);
    let microsecond = micros.rem_euclid(MICROS_PER_SECOND);
    let days = seconds.div_euclid(SECONDS_PER_DAY);
    let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);

    let (year, month, day) = civil_from_days(days);
    let hour = second_of_day / 3_600;
    let minute = second_of_day % 3_600 / 60;
    let second = second_of_day % 60;

    text.clear();
    if !(0..=9999).contains(&year) {
        use std::fmt::Write as _;
        let _ = write!(text, "{year:+05}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{microsecond:06}Z");
        return;
    }
    // Written digit by digit: findings print millions of times, and `format!` took a tenth
    // of the time of `findings --format json`.
    push_digits(text, year, 4);
    text.push('-');
    push_digits(text, month.into(), 2);
    text.push('-');
    push_digits(text, day.into(), 2);
    text.push('T');
    push_digits(text, hour, 2);
    text.push(':');
    push_digits(text, minute, 2);
    text.push(':');
    push_digits(text, second, 2);
    text.push('.');
    push_digits(text, microsecond, 6);
    text.push('Z');
}

/// Appends the last `width` decimal digits of a non-negative `value`, with leading zeros.
fn push_digits(text: &mut String, value: i64, width: u32) {
    for place in (0..width).rev() {
        let digit = value / 10_i64.pow(place) % 10;
        text.push(char::from(b'0' + digit as u8));
    }
}

/// Parses a UTC offset given on the command line into minutes east of UTC.
///
/// Accepts `Z`, `UTC`, `GMT` and `0` for zero, and a signed offset as `+02:00`, `-05:00`,
/// `+0530`, `+2`, `-5:30` or `+02`, optionally after `UTC` or `GMT` (`UTC+2`). Letters may be
/// in any case.
///
/// # Errors
///
/// Returns a message naming the value for any other text, minutes above 59, and offsets beyond
/// ±18:00.
pub fn parse_offset(text: &str) -> Result<i32, String> {
    let value = text.trim();
    let examples = "write Z, UTC or a signed offset such as +02:00, -05:00 or +0530";
    if value.is_empty() {
        return Err(format!("missing UTC offset: {examples}"));
    }

    let lower = value.to_ascii_lowercase();
    if matches!(lower.as_str(), "z" | "utc" | "gmt" | "0") {
        return Ok(0);
    }

    let signed = ["utc", "gmt"]
        .iter()
        .find_map(|prefix| lower.strip_prefix(prefix))
        .unwrap_or(&lower);
    let mut cursor = Cursor::new(signed);
    let minutes = match parse_signed_offset(&mut cursor, true) {
        Some(minutes) if cursor.is_at_end() => minutes,
        _ => return Err(format!("invalid UTC offset `{value}`: {examples}")),
    };

    if minutes.abs() > MAX_OFFSET_MINUTES {
        return Err(format!(
            "UTC offset `{value}` is out of range: offsets must be between -18:00 and +18:00"
        ));
    }
    Ok(minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a UTC value with no date order and formats it back.
    fn iso(raw: &str) -> String {
        iso_with(raw, 0, None)
    }

    fn iso_with(raw: &str, offset_minutes: i32, date_order: Option<DateOrder>) -> String {
        match parse_timestamp(raw, offset_minutes, date_order) {
            Ok(micros) => format_iso(micros),
            Err(error) => panic!("{raw:?} was rejected: {error}"),
        }
    }

    fn error(raw: &str) -> TimeError {
        error_with(raw, None)
    }

    fn error_with(raw: &str, date_order: Option<DateOrder>) -> TimeError {
        match parse_timestamp(raw, 0, date_order) {
            Ok(micros) => panic!("{raw:?} was accepted as {}", format_iso(micros)),
            Err(error) => error,
        }
    }

    #[test]
    fn epoch_values() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z", 0, None), Ok(0));
        assert_eq!(
            parse_timestamp("2000-01-01T00:00:00Z", 0, None),
            Ok(946_684_800_000_000)
        );
        assert_eq!(
            parse_timestamp("2026-03-14T14:00:30Z", 0, None),
            Ok(1_773_496_830_000_000)
        );
        assert_eq!(
            parse_timestamp("2024-02-29T12:00:00Z", 0, None),
            Ok(1_709_208_000_000_000)
        );
    }

    /// Expected values computed with Python's `datetime(1970, 1, 1) + timedelta(milliseconds=ms)`.
    #[test]
    fn dotnet_json_dates() {
        assert_eq!(iso("/Date(1773495600100)/"), iso("2026-03-14T13:40:00.100Z"));
        assert_eq!(iso("/Date(1773495600100+0100)/"), iso("2026-03-14T13:40:00.100Z"));
        assert_eq!(iso("/Date(1773495600100-0500)/"), iso("2026-03-14T13:40:00.100Z"));
        assert_eq!(iso("/Date(-1000)/"), iso("1969-12-31T23:59:59Z"));
        assert_eq!(iso(" /Date(0)/ "), iso("1970-01-01T00:00:00Z"));
        for bad in ["/Date()/", "/Date(12a)/", "/Date(1+01)/", "/Date(99999999999999999)/", "/Date(+0100)/", "/Date(1+2400)/", "/Date(1+0160)/"] {
            assert_eq!(parse_timestamp(bad, 0, None), Err(TimeError::Invalid), "{bad}");
        }
    }

    #[test]
    fn pre_epoch_values() {
        assert_eq!(
            parse_timestamp("1969-12-31T23:59:59Z", 0, None),
            Ok(-1_000_000)
        );
        assert_eq!(
            parse_timestamp("1969-12-31T23:59:59.5Z", 0, None),
            Ok(-500_000)
        );
        assert_eq!(
            parse_timestamp("1601-01-01T00:00:00Z", 0, None),
            Ok(-11_644_473_600_000_000)
        );
        assert_eq!(
            parse_timestamp("0001-01-01T00:00:00Z", 0, None),
            Ok(-62_135_596_800_000_000)
        );
    }

    #[test]
    fn iso_basic() {
        assert_eq!(iso("2026-03-14T14:00:30Z"), "2026-03-14T14:00:30.000000Z");
        assert_eq!(iso("2025-12-04T08:19:41Z"), "2025-12-04T08:19:41.000000Z");
    }

    #[test]
    fn iso_space_and_lowercase() {
        assert_eq!(iso("2026-03-14 14:00:30Z"), "2026-03-14T14:00:30.000000Z");
        assert_eq!(iso("2026-03-14t14:00:30z"), "2026-03-14T14:00:30.000000Z");
        assert_eq!(
            iso("  2026-03-14T14:00:30Z\r\n"),
            "2026-03-14T14:00:30.000000Z"
        );
    }

    #[test]
    fn iso_fraction_digits() {
        let cases = [
            ("2023-02-20T11:04:02Z", "2023-02-20T11:04:02.000000Z"),
            ("2023-02-20T11:04:02.6Z", "2023-02-20T11:04:02.600000Z"),
            ("2023-02-20T11:04:02.63Z", "2023-02-20T11:04:02.630000Z"),
            ("2023-02-20T11:04:02.637Z", "2023-02-20T11:04:02.637000Z"),
            ("2023-02-20T11:04:02.6371Z", "2023-02-20T11:04:02.637100Z"),
            ("2023-02-20T11:04:02.63716Z", "2023-02-20T11:04:02.637160Z"),
            ("2023-02-20T11:04:02.637163Z", "2023-02-20T11:04:02.637163Z"),
            (
                "2023-02-20T11:04:02.6371632Z",
                "2023-02-20T11:04:02.637163Z",
            ),
            (
                "2023-02-20T11:04:02.637163999Z",
                "2023-02-20T11:04:02.637163Z",
            ),
            (
                "2023-02-20T11:04:02.0000001Z",
                "2023-02-20T11:04:02.000000Z",
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(iso(raw), expected, "value {raw}");
        }
    }

    #[test]
    fn iso_fraction_rejected() {
        assert_eq!(error("2023-02-20T11:04:02.Z"), TimeError::Invalid);
        assert_eq!(error("2023-02-20T11:04:02.6371632001Z"), TimeError::Invalid);
    }

    #[test]
    fn iso_offsets() {
        assert_eq!(
            iso("2022-02-08T06:22:28.3518405+00:00"),
            "2022-02-08T06:22:28.351840Z"
        );
        assert_eq!(
            iso("2026-03-14T09:00:30-05:00"),
            "2026-03-14T14:00:30.000000Z"
        );
        assert_eq!(
            iso("2026-03-14T19:30:30+0530"),
            "2026-03-14T14:00:30.000000Z"
        );
        assert_eq!(
            iso("2026-03-14T14:00:30+0000"),
            "2026-03-14T14:00:30.000000Z"
        );
        assert_eq!(
            iso("2026-03-01T01:00:00+02:00"),
            "2026-02-28T23:00:00.000000Z"
        );
    }

    #[test]
    fn iso_own_zone_beats_argument() {
        assert_eq!(
            iso_with("2026-03-14T14:00:30Z", 120, None),
            "2026-03-14T14:00:30.000000Z"
        );
        assert_eq!(
            iso_with("2026-03-14T16:00:30+02:00", -300, None),
            "2026-03-14T14:00:30.000000Z"
        );
    }

    #[test]
    fn iso_without_zone_uses_argument() {
        assert_eq!(
            iso_with("2026-03-14T16:00:30", 120, None),
            "2026-03-14T14:00:30.000000Z"
        );
        assert_eq!(
            iso_with("2026-03-14 09:00:30", -300, None),
            "2026-03-14T14:00:30.000000Z"
        );
        assert_eq!(
            iso_with("2026-03-14 14:00:30", 0, None),
            "2026-03-14T14:00:30.000000Z"
        );
    }

    #[test]
    fn iso_bad_zones() {
        for raw in [
            "2026-03-14T14:00:30+5",
            "2026-03-14T14:00:30+05",
            "2026-03-14T14:00:30+5:00",
            "2026-03-14T14:00:30+05:60",
            "2026-03-14T14:00:30+19:00",
            "2026-03-14T14:00:30 Z",
            "2026-03-14T14:00:30UTC",
            "2026-03-14T14:00:30Zx",
        ] {
            assert_eq!(error(raw), TimeError::Invalid, "value {raw}");
        }
    }

    #[test]
    fn iso_malformed() {
        for raw in [
            "2026-13-01T00:00:00Z",
            "2026-00-10T00:00:00Z",
            "2026-03-32T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-03-14T24:00:00Z",
            "2026-03-14T14:60:00Z",
            "2026-03-14T14:00:60Z",
            "2026-03-14T14:00.5Z",
            "2026-03-14",
            "2026-3-14T14:00:30Z",
            "2026-03-14T4:00:30Z",
            "2026-03-14  14:00:30Z",
            "2026-03-14_14:00:30Z",
            "20260-03-14T14:00:30Z",
        ] {
            assert_eq!(error(raw), TimeError::Invalid, "value {raw}");
        }
    }

    #[test]
    fn clock_without_seconds_is_second_zero() {
        assert_eq!(iso("2026-03-14T14:05Z"), "2026-03-14T14:05:00.000000Z");
        assert_eq!(iso("2026-03-14 14:05+02:00"), "2026-03-14T12:05:00.000000Z");
        assert_eq!(iso("3/14/2026, 2:05 PM"), "2026-03-14T14:05:00.000000Z");
        assert_eq!(iso("3/14/2026 14:05"), "2026-03-14T14:05:00.000000Z");
        assert_eq!(iso("16.07.2026 20:26"), "2026-07-16T20:26:00.000000Z");
    }

    #[test]
    fn leap_day() {
        assert_eq!(iso("2024-02-29T00:00:00Z"), "2024-02-29T00:00:00.000000Z");
        assert_eq!(iso("2000-02-29T00:00:00Z"), "2000-02-29T00:00:00.000000Z");
        assert_eq!(error("2025-02-29T00:00:00Z"), TimeError::Invalid);
        assert_eq!(error("1900-02-29T00:00:00Z"), TimeError::Invalid);
        assert_eq!(iso("2/29/2024, 1:00:00 PM"), "2024-02-29T13:00:00.000000Z");
        assert_eq!(error("2/29/2025, 1:00:00 PM"), TimeError::Invalid);
    }

    #[test]
    fn en_us_portal() {
        assert_eq!(
            iso("3/14/2026, 2:00:30.000 PM"),
            "2026-03-14T14:00:30.000000Z"
        );
        assert_eq!(
            iso("4/28/2021, 2:08:45.221 PM"),
            "2021-04-28T14:08:45.221000Z"
        );
        assert_eq!(
            iso("4/19/2021, 12:13:19.483 PM"),
            "2021-04-19T12:13:19.483000Z"
        );
    }

    #[test]
    fn en_us_variants() {
        assert_eq!(iso("3/14/2026 2:00:30 PM"), "2026-03-14T14:00:30.000000Z");
        assert_eq!(iso("3/14/2026, 2:00:30 pm"), "2026-03-14T14:00:30.000000Z");
        assert_eq!(iso("3/14/2026, 2:00:30PM"), "2026-03-14T14:00:30.000000Z");
        assert_eq!(
            iso("03/04/2026, 02:00:30.1234567 AM"),
            "2026-03-04T02:00:30.123456Z"
        );
    }

    #[test]
    fn twelve_hour_edges() {
        assert_eq!(
            iso("3/14/2026, 12:00:00.000 AM"),
            "2026-03-14T00:00:00.000000Z"
        );
        assert_eq!(iso("3/14/2026, 12:59:59 AM"), "2026-03-14T00:59:59.000000Z");
        assert_eq!(iso("3/14/2026, 1:00:00 AM"), "2026-03-14T01:00:00.000000Z");
        assert_eq!(iso("3/14/2026, 11:59:59 AM"), "2026-03-14T11:59:59.000000Z");
        assert_eq!(iso("3/14/2026, 12:00:00 PM"), "2026-03-14T12:00:00.000000Z");
        // en-US never zero-pads: a padded AM/PM date with both numbers at most 12 is ambiguous.
        assert_eq!(error("5/03/2026 10:00:20 AM"), TimeError::AmbiguousDateOrder);
        assert_eq!(iso("5/05/2026 10:00:20 AM"), "2026-05-05T10:00:20.000000Z");
        assert_eq!(iso("15/03/2026 10:00:20 AM"), "2026-03-15T10:00:20.000000Z");
        assert_eq!(iso("3/14/2026, 12:30:00 PM"), "2026-03-14T12:30:00.000000Z");
        assert_eq!(iso("3/14/2026, 11:59:59 PM"), "2026-03-14T23:59:59.000000Z");
        assert_eq!(error("3/14/2026, 0:30:00 AM"), TimeError::Invalid);
        assert_eq!(error("3/14/2026, 13:00:00 PM"), TimeError::Invalid);
    }

    #[test]
    fn day_first_meridiem_forms() {
        // en-IN and en-AU write `d/M/yyyy, h:mm:ss am`, en-US `M/d/yyyy, h:mm:ss AM`: a lower-case
        // or dotted marker is read only where the numbers decide the order.
        assert_eq!(error("2/3/2026, 12:09:03.319 am"), TimeError::AmbiguousDateOrder);
        assert_eq!(error("2/3/2026, 12:09:03.319 a.m."), TimeError::AmbiguousDateOrder);
        assert_eq!(iso_with("2/3/2026, 12:09:03.319 am", 0, Some(DateOrder::DayFirst)), "2026-03-02T00:09:03.319000Z");
        assert_eq!(iso("23/3/2026, 1:09:03 pm"), "2026-03-23T13:09:03.000000Z");
        assert_eq!(iso("3/23/2026, 1:09:03 P.M."), "2026-03-23T13:09:03.000000Z");
        assert_eq!(iso("3/3/2026, 1:09:03 pm"), "2026-03-03T13:09:03.000000Z");
        assert_eq!(error("3/23/2026, 1:09:03 p.m"), TimeError::Invalid);
        assert_eq!(error("3/23/2026, 1:09:03 pmm"), TimeError::Invalid);
    }

    #[test]
    fn unicode_spaces_before_meridiem() {
        // U+202F is what ICU 72 and later put before AM/PM in en-US; U+00A0 is a no-break space.
        assert_eq!(iso("3/2/2026, 12:09:03.319\u{202f}AM"), "2026-03-02T00:09:03.319000Z");
        assert_eq!(iso("3/2/2026,\u{a0}12:09:03.319\u{a0}PM"), "2026-03-02T12:09:03.319000Z");
        assert_eq!(iso("\u{a0}2026-03-02T00:09:03Z\u{a0}"), "2026-03-02T00:09:03.000000Z");
    }

    #[test]
    fn comma_decimal_sign() {
        assert_eq!(iso("02.03.2026 00:09:03,319"), "2026-03-02T00:09:03.319000Z");
        assert_eq!(iso("2026-03-02T00:09:03,5Z"), "2026-03-02T00:09:03.500000Z");
        assert_eq!(iso("23/03/2026 00:09:03,319"), "2026-03-23T00:09:03.319000Z");
        assert_eq!(error("02.03.2026 00:09:03,"), TimeError::Invalid);
    }

    #[test]
    fn powershell_culture_strings() {
        assert_eq!(iso("3/12/2025 7:22:01 AM"), "2025-03-12T07:22:01.000000Z");
        assert_eq!(iso("12/12/2023 12:13:59 PM"), "2023-12-12T12:13:59.000000Z");
    }

    #[test]
    fn meridiem_day_first_order() {
        assert_eq!(
            iso_with("3/12/2025 7:22:01 AM", 0, Some(DateOrder::DayFirst)),
            "2025-12-03T07:22:01.000000Z"
        );
        assert_eq!(
            iso_with("15/11/2025 3:55:59 AM", 0, Some(DateOrder::DayFirst)),
            "2025-11-15T03:55:59.000000Z"
        );
        assert_eq!(
            iso_with("3/12/2025 7:22:01 AM", 0, Some(DateOrder::MonthFirst)),
            "2025-03-12T07:22:01.000000Z"
        );
    }

    #[test]
    fn meridiem_day_over_12() {
        // Month first would make 15 the month, so the file is day first and needs the option.
        assert_eq!(
            error("15/11/2025 3:55:59 AM"),
            TimeError::AmbiguousDateOrder
        );
        assert_eq!(
            error_with("15/11/2025 3:55:59 AM", Some(DateOrder::MonthFirst)),
            TimeError::Invalid
        );
    }

    #[test]
    fn ja_jp_portal() {
        assert_eq!(iso("2020/10/16 0:00:01.403"), "2020-10-16T00:00:01.403000Z");
        assert_eq!(
            iso("2021/11/19 09:41:48.2315339"),
            "2021-11-19T09:41:48.231533Z"
        );
        assert_eq!(iso("2020/1/6 23:05:09"), "2020-01-06T23:05:09.000000Z");
    }

    #[test]
    fn year_first_ignores_order() {
        assert_eq!(
            iso_with("2020/10/06 0:00:01", 0, Some(DateOrder::DayFirst)),
            "2020-10-06T00:00:01.000000Z"
        );
    }

    #[test]
    fn windows_unset_value() {
        assert_eq!(
            iso("1601/01/01 00:00:00.0000000"),
            "1601-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            parse_timestamp("1601/01/01 00:00:00.0000000", 0, None),
            Ok(-11_644_473_600_000_000)
        );
    }

    #[test]
    fn dotted_day_first() {
        assert_eq!(
            iso("16.7.2026, 20:26:12.030"),
            "2026-07-16T20:26:12.030000Z"
        );
        assert_eq!(iso("16.07.2026 20:26:12"), "2026-07-16T20:26:12.000000Z");
        assert_eq!(iso("3.4.2026 8:00:00"), "2026-04-03T08:00:00.000000Z");
        assert_eq!(
            iso_with("3.4.2026 8:00:00", 0, Some(DateOrder::MonthFirst)),
            "2026-04-03T08:00:00.000000Z"
        );
        assert_eq!(error("7.16.2026 20:26:12"), TimeError::Invalid);
    }

    #[test]
    fn en_gb_inferred() {
        assert_eq!(
            iso("16/07/2026 20:26:12.030"),
            "2026-07-16T20:26:12.030000Z"
        );
        assert_eq!(iso("07/16/2026 20:26:12"), "2026-07-16T20:26:12.000000Z");
        assert_eq!(iso("05/05/2026 20:26:12"), "2026-05-05T20:26:12.000000Z");
    }

    #[test]
    fn en_gb_ambiguous() {
        assert_eq!(error("03/04/2026 20:26:12"), TimeError::AmbiguousDateOrder);
        assert_eq!(error("12/1/2026 0:00:00"), TimeError::AmbiguousDateOrder);
    }

    #[test]
    fn en_gb_given_order() {
        let raw = "03/04/2026 20:26:12.030";
        assert_eq!(
            iso_with(raw, 0, Some(DateOrder::DayFirst)),
            "2026-04-03T20:26:12.030000Z"
        );
        assert_eq!(
            iso_with(raw, 0, Some(DateOrder::MonthFirst)),
            "2026-03-04T20:26:12.030000Z"
        );
        assert_eq!(
            error_with("16/07/2026 20:26:12", Some(DateOrder::MonthFirst)),
            TimeError::Invalid
        );
    }

    #[test]
    fn slash_both_over_12() {
        assert_eq!(error("13/13/2026 10:00:00"), TimeError::Invalid);
        assert_eq!(error("0/5/2026 10:00:00"), TimeError::Invalid);
    }

    #[test]
    fn local_offset_applied() {
        // A `[Local Time]` export from a UTC+1 portal: 15:00:30 local is 14:00:30 UTC.
        assert_eq!(
            iso_with("3/14/2026, 3:00:30.000 PM", 60, None),
            "2026-03-14T14:00:30.000000Z"
        );
        assert_eq!(
            iso_with("2020/10/16 0:00:01.403", 540, None),
            "2020-10-15T15:00:01.403000Z"
        );
        assert_eq!(
            iso_with("12/31/2025, 11:30:00 PM", -60, None),
            "2026-01-01T00:30:00.000000Z"
        );
    }

    #[test]
    fn locale_malformed() {
        for raw in [
            "3/14/2026",
            "3/14/2026,",
            "3/14/2026, 2:0 PM",
            "3/14/2026,2:00:30 PM",
            "3/14/26, 2:00:30 PM",
            "3-14-2026 2:00:30 PM",
            "3/14.2026 2:00:30",
            "3/14/2026, 2:00:30 P",
            "3/14/2026, 2:00:30 PM UTC",
            "3/14/2026, 2:00:30 PMx",
            "3/14/2026, 2:0:30 PM",
            "2026.03.14 14:00:30",
            "123/4/2026 10:00:00",
        ] {
            assert_eq!(error(raw), TimeError::Invalid, "value {raw}");
        }
    }

    #[test]
    fn garbage_rejected() {
        assert_eq!(error("yesterday"), TimeError::Invalid);
        assert_eq!(error("2026-13-01T00:00:00Z"), TimeError::Invalid);
        assert_eq!(error("1773496830"), TimeError::Invalid);
        assert_eq!(error("14:00:30"), TimeError::Invalid);
        assert_eq!(error("٣/١٤/٢٠٢٦, 2:00:30 PM"), TimeError::Invalid);
    }

    #[test]
    fn empty_rejected() {
        assert_eq!(error(""), TimeError::Empty);
        assert_eq!(error(" \t "), TimeError::Empty);
    }

    #[test]
    fn error_reasons() {
        assert_eq!(TimeError::Empty.reason(), "empty timestamp");
        assert!(TimeError::Invalid.reason().contains("2026-03-14T14:00:30Z"));
        assert!(TimeError::AmbiguousDateOrder
            .reason()
            .contains("date order"));
        assert_eq!(TimeError::Empty.to_string(), "empty timestamp");
    }

    #[test]
    fn format_examples() {
        assert_eq!(format_iso(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            format_iso(1_773_496_830_123_456),
            "2026-03-14T14:00:30.123456Z"
        );
        assert_eq!(format_iso(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(
            format_iso(-11_644_473_600_000_000),
            "1601-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            format_iso(951_782_400_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(
            format_iso(253_402_300_799_999_999),
            "9999-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn format_extreme_years() {
        assert_eq!(
            format_iso(-62_167_219_200_000_000),
            "0000-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            format_iso(-62_198_755_200_000_000),
            "-0001-01-01T00:00:00.000000Z"
        );
        assert_eq!(format_iso(i64::MAX), "+294247-01-10T04:00:54.775807Z");
        assert_eq!(format_iso(i64::MIN), "-290308-12-21T19:59:05.224192Z");
    }

    #[test]
    fn calendar_round_trip() {
        // Every day from 1599-12-25 to 2401-01-07 converts back to itself.
        let start = days_from_civil(1599, 12, 25);
        let end = days_from_civil(2401, 1, 7);
        let mut expected = (1599, 12, 25);
        for days in start..=end {
            assert_eq!(civil_from_days(days), expected, "day {days}");
            assert_eq!(days_from_civil(expected.0, expected.1, expected.2), days);

            let (year, month, day) = expected;
            expected = if day < days_in_month(year, month) {
                (year, month, day + 1)
            } else if month < 12 {
                (year, month + 1, 1)
            } else {
                (year + 1, 1, 1)
            };
        }
    }

    #[test]
    fn offset_zero_spellings() {
        for text in [
            "Z", "z", "UTC", "utc", "GMT", "0", "+00:00", "-00:00", "+0000", " UTC ",
        ] {
            assert_eq!(parse_offset(text), Ok(0), "text {text:?}");
        }
    }

    #[test]
    fn offset_signed_forms() {
        assert_eq!(parse_offset("+02:00"), Ok(120));
        assert_eq!(parse_offset("-05:00"), Ok(-300));
        assert_eq!(parse_offset("+0530"), Ok(330));
        assert_eq!(parse_offset("-0930"), Ok(-570));
        assert_eq!(parse_offset("+2"), Ok(120));
        assert_eq!(parse_offset("+02"), Ok(120));
        assert_eq!(parse_offset("-5:30"), Ok(-330));
        assert_eq!(parse_offset("UTC+2"), Ok(120));
        assert_eq!(parse_offset("GMT-05:00"), Ok(-300));
    }

    #[test]
    fn offset_range_edges() {
        assert_eq!(parse_offset("+18:00"), Ok(1_080));
        assert_eq!(parse_offset("-18:00"), Ok(-1_080));
        let message = parse_offset("+18:01").unwrap_err();
        assert_eq!(
            message,
            "UTC offset `+18:01` is out of range: offsets must be between -18:00 and +18:00"
        );
        assert!(parse_offset("-24").unwrap_err().contains("out of range"));
    }

    #[test]
    fn offset_invalid() {
        for text in [
            "02:00", "2", "+", "+5:3", "+05:60", "+123", "+12345", "CET", "+02:00x", "UTC+", "1h",
        ] {
            let message = parse_offset(text).unwrap_err();
            assert!(
                message.starts_with(&format!("invalid UTC offset `{text}`")),
                "{text}: {message}"
            );
            assert!(
                message.contains("+02:00, -05:00 or +0530"),
                "{text}: {message}"
            );
        }
        assert!(parse_offset("")
            .unwrap_err()
            .starts_with("missing UTC offset"));
    }
}
