//! Time window lengths given on the command line, such as `90s`, `5min` or `1h30min`.
//!
//! The unit `m` is rejected because it is ambiguous: KQL reads `1m` as one minute, while many
//! other tools read it as one month.

use std::time::Duration;

/// Hint appended to every parse error.
const ACCEPTED_UNITS: &str = "Accepted units: ms, s, min, h, d (for example 90s, 5min, 2h)";

/// Parses a non-negative duration written as one or more `<whole number><unit>` parts.
///
/// Parts are added, so `1h30min` is 90 minutes. Whitespace may separate parts, and a number
/// from its unit. Units are case-insensitive:
/// `ms`; `s`, `sec`, `secs`, `second`, `seconds`; `min`, `mins`, `minute`, `minutes`;
/// `h`, `hr`, `hrs`, `hour`, `hours`; `d`, `day`, `days`.
///
/// # Errors
///
/// Returns a message naming the rejected text and listing the accepted units for empty input,
/// a number without a unit, a fraction, a sign, an unknown unit, the ambiguous `m`, months,
/// years, and totals too large for `Duration`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let input = text.trim();
    if input.is_empty() {
        return Err(format!(
            "missing duration: write a number and a unit. {ACCEPTED_UNITS}"
        ));
    }

    let mut total = Duration::ZERO;
    let mut rest = input;
    while !rest.is_empty() {
        let (part, after) = parse_part(rest, input)?;
        total = total.checked_add(part).ok_or_else(|| too_large(input))?;
        rest = after.trim_start();
    }
    Ok(total)
}

/// Parses one `<number><unit>` part at the start of `rest` and returns it with the remaining
/// text. `input` is the whole value, quoted in error messages.
fn parse_part<'a>(rest: &'a str, input: &str) -> Result<(Duration, &'a str), String> {
    if rest.starts_with('-') {
        return Err(format!(
            "invalid duration `{input}`: negative durations are not allowed. {ACCEPTED_UNITS}"
        ));
    }

    let digit_count = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digit_count == 0 {
        return Err(format!(
            "invalid duration `{input}`: expected a whole number followed by a unit. {ACCEPTED_UNITS}"
        ));
    }
    let number_text = &rest[..digit_count];
    let after_number = &rest[digit_count..];

    let after_fraction_mark = after_number.strip_prefix(['.', ',']);
    if after_fraction_mark.is_some_and(|text| text.starts_with(|c: char| c.is_ascii_digit())) {
        return Err(format!(
            "invalid duration `{input}`: fractions are not supported, so use a smaller unit \
             (for example 90min instead of 1.5h). {ACCEPTED_UNITS}"
        ));
    }

    let unit_start = after_number.trim_start();
    let unit_length: usize = unit_start
        .chars()
        .take_while(|c| c.is_alphabetic())
        .map(char::len_utf8)
        .sum();
    let unit = &unit_start[..unit_length];
    let after_unit = &unit_start[unit_length..];

    if unit.is_empty() {
        return Err(missing_unit(number_text, unit_start, input));
    }

    let seconds_per_unit = unit_seconds(unit, number_text, input)?;
    let number: u64 = number_text.parse().map_err(|_| too_large(input))?;
    let part = match seconds_per_unit {
        None => Duration::from_millis(number),
        Some(seconds) => Duration::from_secs(
            number
                .checked_mul(seconds)
                .ok_or_else(|| too_large(input))?,
        ),
    };
    Ok((part, after_unit))
}

fn missing_unit(number_text: &str, after_number: &str, input: &str) -> String {
    match after_number.chars().next() {
        None => format!(
            "missing unit after `{number_text}` in `{input}`: write for example `{number_text}s` or \
             `{number_text}min`. {ACCEPTED_UNITS}"
        ),
        Some(unexpected) => format!(
            "invalid duration `{input}`: unexpected `{unexpected}` after `{number_text}`. {ACCEPTED_UNITS}"
        ),
    }
}

/// Returns the length of a unit in seconds, or None for milliseconds.
fn unit_seconds(unit: &str, number_text: &str, input: &str) -> Result<Option<u64>, String> {
    let seconds = match unit.to_lowercase().as_str() {
        "ms" => return Ok(None),
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "m" => {
            return Err(format!(
                "ambiguous unit `{unit}` in `{input}`: write `{number_text}min` for minutes, \
                 because `m` also means months in some tools. {ACCEPTED_UNITS}"
            ))
        }
        "mo" | "mon" | "month" | "months" | "y" | "yr" | "yrs" | "year" | "years" => {
            return Err(format!(
                "unsupported unit `{unit}` in `{input}`: months and years have no fixed length, \
                 so write the window in days. {ACCEPTED_UNITS}"
            ))
        }
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{input}`. {ACCEPTED_UNITS}"
            ))
        }
    };
    Ok(Some(seconds))
}

fn too_large(input: &str) -> String {
    format!("duration `{input}` is too large")
}

/// Formats a duration as one whole number with the largest unit that divides it exactly,
/// for example `90s`, `5min`, `90min`, `2h`, `1d` or `1500ms`. Zero is `0s`.
///
/// The output is accepted by `parse_duration`. Parts smaller than a millisecond are dropped,
/// because no accepted unit is smaller than `ms`.
pub fn format_duration(d: Duration) -> String {
    let millis = d.as_millis();
    if !millis.is_multiple_of(1_000) {
        return format!("{millis}ms");
    }

    let seconds = d.as_secs();
    if seconds == 0 {
        return "0s".to_string();
    }
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("min", 60)] {
        if seconds.is_multiple_of(size) {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(text: &str) -> u64 {
        match parse_duration(text) {
            Ok(duration) => {
                assert_eq!(duration.subsec_nanos(), 0, "{text:?} has a sub-second part");
                duration.as_secs()
            }
            Err(message) => panic!("{text:?} was rejected: {message}"),
        }
    }

    fn rejection(text: &str) -> String {
        match parse_duration(text) {
            Ok(duration) => panic!("{text:?} was accepted as {duration:?}"),
            Err(message) => message,
        }
    }

    #[test]
    fn milliseconds_unit() {
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250MS"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0ms"), Ok(Duration::ZERO));
    }

    #[test]
    fn seconds_spellings() {
        for text in [
            "45s",
            "45sec",
            "45secs",
            "45second",
            "45seconds",
            "45S",
            "45Sec",
            "45SECONDS",
        ] {
            assert_eq!(seconds(text), 45, "text {text}");
        }
    }

    #[test]
    fn minutes_spellings() {
        for text in ["5min", "5mins", "5minute", "5minutes", "5MIN", "5Minutes"] {
            assert_eq!(seconds(text), 300, "text {text}");
        }
    }

    #[test]
    fn hours_spellings() {
        for text in ["2h", "2hr", "2hrs", "2hour", "2hours", "2H", "2HOURS"] {
            assert_eq!(seconds(text), 7_200, "text {text}");
        }
    }

    #[test]
    fn days_spellings() {
        for text in ["3d", "3day", "3days", "3D", "3Days"] {
            assert_eq!(seconds(text), 259_200, "text {text}");
        }
    }

    #[test]
    fn space_before_unit() {
        assert_eq!(seconds("5 min"), 300);
        assert_eq!(seconds("90 s"), 90);
        assert_eq!(seconds("90\t s"), 90);
        assert_eq!(seconds("  2h  "), 7_200);
    }

    #[test]
    fn several_parts() {
        assert_eq!(seconds("1h30min"), 5_400);
        assert_eq!(seconds("1h 30min"), 5_400);
        assert_eq!(seconds("1 h 30 min"), 5_400);
        assert_eq!(seconds("1d2h3min4s"), 93_784);
        assert_eq!(parse_duration("1s500ms"), Ok(Duration::from_millis(1_500)));
    }

    #[test]
    fn zero_and_leading_zeros() {
        assert_eq!(seconds("0s"), 0);
        assert_eq!(seconds("007min"), 420);
    }

    #[test]
    fn reject_bare_m() {
        let message = rejection("1m");
        assert!(message.contains("ambiguous unit `m` in `1m`"), "{message}");
        assert!(message.contains("write `1min`"), "{message}");
        assert!(message.contains(ACCEPTED_UNITS), "{message}");
    }

    #[test]
    fn reject_capital_m() {
        let message = rejection("1M");
        assert!(message.contains("ambiguous unit `M` in `1M`"), "{message}");
    }

    #[test]
    fn reject_m_in_later_part() {
        let message = rejection("1h30m");
        assert!(message.contains("in `1h30m`"), "{message}");
        assert!(message.contains("write `30min`"), "{message}");
    }

    #[test]
    fn reject_months_years() {
        for text in ["1mo", "1MO", "2month", "2months", "1y", "1Y", "1year"] {
            let message = rejection(text);
            assert!(message.contains("unsupported unit"), "{text}: {message}");
            assert!(message.contains(ACCEPTED_UNITS), "{text}: {message}");
        }
    }

    #[test]
    fn reject_weeks() {
        let message = rejection("2w");
        assert_eq!(
            message,
            format!("unknown unit `w` in `2w`. {ACCEPTED_UNITS}")
        );
        assert!(rejection("1week").contains("unknown unit `week`"));
        assert!(rejection("5us").contains("unknown unit `us`"));
    }

    #[test]
    fn reject_bare_number() {
        let message = rejection("5");
        assert!(
            message.contains("missing unit after `5` in `5`"),
            "{message}"
        );
        assert!(message.contains(ACCEPTED_UNITS), "{message}");
        assert!(rejection("1h30").contains("missing unit after `30` in `1h30`"));
        assert!(rejection("5 ").contains("missing unit after `5`"));
    }

    #[test]
    fn reject_negative() {
        let message = rejection("-1s");
        assert!(message.contains("`-1s`"), "{message}");
        assert!(message.contains("negative"), "{message}");
    }

    #[test]
    fn reject_empty() {
        assert!(rejection("").starts_with("missing duration"));
        assert!(rejection("   ").starts_with("missing duration"));
    }

    #[test]
    fn reject_fraction() {
        for text in ["1.5h", "1,5h", "0.5s"] {
            let message = rejection(text);
            assert!(
                message.contains("fractions are not supported"),
                "{text}: {message}"
            );
            assert!(message.contains(&format!("`{text}`")), "{text}: {message}");
        }
    }

    #[test]
    fn reject_other_text() {
        assert!(rejection("+1s").contains("expected a whole number"));
        assert!(rejection("h").contains("expected a whole number"));
        assert!(rejection("5min!").contains("expected a whole number"));
        assert!(rejection("5:00").contains("unexpected `:`"));
    }

    #[test]
    fn reject_overflow() {
        assert_eq!(
            rejection("99999999999999999999s"),
            "duration `99999999999999999999s` is too large"
        );
        assert_eq!(
            rejection("18446744073709551615d"),
            "duration `18446744073709551615d` is too large"
        );
        assert_eq!(
            rejection("18446744073709551615s1s"),
            "duration `18446744073709551615s1s` is too large"
        );
    }

    #[test]
    fn format_examples() {
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_secs(300)), "5min");
        assert_eq!(format_duration(Duration::from_secs(7_200)), "2h");
        assert_eq!(format_duration(Duration::from_secs(5_400)), "90min");
        assert_eq!(format_duration(Duration::from_secs(86_400)), "1d");
        assert_eq!(format_duration(Duration::from_secs(90_000)), "25h");
        assert_eq!(format_duration(Duration::from_secs(86_401)), "86401s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_millis(1_500)), "1500ms");
        assert_eq!(format_duration(Duration::from_millis(2_000)), "2s");
    }

    #[test]
    fn format_drops_sub_millisecond() {
        assert_eq!(format_duration(Duration::from_micros(1_500_250)), "1500ms");
        assert_eq!(format_duration(Duration::from_nanos(999_999)), "0s");
    }

    #[test]
    fn format_round_trip() {
        let texts = [
            "1h30min", "45s", "1500ms", "2d", "36h", "1d1s", "0ms", "7min",
        ];
        for text in texts {
            let duration = parse_duration(text).unwrap();
            let formatted = format_duration(duration);
            assert_eq!(
                parse_duration(&formatted),
                Ok(duration),
                "text {text} formatted as {formatted}"
            );
        }
    }
}
