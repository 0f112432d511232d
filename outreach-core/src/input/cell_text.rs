//! Spreadsheet cells rendered the way a person reads them in Excel, because the text
//! ends up in prompts and in the output sheet: `42` not `42.0`, `0.3` not
//! `0.30000000000000004`, dates as ISO `2024-03-05`, `TRUE`/`FALSE`, `#N/A`.

use calamine::{DataRef, ExcelDateTime};

/// The text for one cell; empty cells are `""`.
pub(crate) fn render(value: &DataRef<'_>) -> String {
    match value {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => render_float(*f),
        DataRef::Bool(true) => "TRUE".into(),
        DataRef::Bool(false) => "FALSE".into(),
        DataRef::DateTime(dt) => render_datetime(dt),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => e.to_string(),
    }
}

/// Excel shows at most 15 significant digits, so binary noise past that is not what the
/// person typed. Rust's `Display` for `f64` is already the shortest exact form without
/// exponent or trailing `.0`.
pub(crate) fn render_float(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    if f == 0.0 {
        return "0".into(); // not "-0"
    }
    let rounded: f64 = format!("{f:.14e}").parse().unwrap_or(f);
    rounded.to_string()
}

/// `2024-03-05`, `2024-03-05 14:30:00`, a bare `14:30:00` for time-of-day cells
/// (serial < 1), and `[h]:mm:ss` for durations.
fn render_datetime(dt: &ExcelDateTime) -> String {
    if dt.is_duration() {
        return render_duration(dt.as_f64());
    }
    let (y, mo, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
    let time = if ms == 0 {
        format!("{h:02}:{mi:02}:{s:02}")
    } else {
        format!("{h:02}:{mi:02}:{s:02}.{ms:03}")
    };
    let serial = dt.as_f64();
    if (0.0..1.0).contains(&serial) {
        time
    } else if h == 0 && mi == 0 && s == 0 && ms == 0 {
        format!("{y:04}-{mo:02}-{d:02}")
    } else {
        format!("{y:04}-{mo:02}-{d:02} {time}")
    }
}

/// Durations are day fractions; hours are not wrapped at 24 (Excel's `[h]:mm:ss`).
fn render_duration(days: f64) -> String {
    let total = (days * 86_400.0).round();
    let sign = if total < 0.0 { "-" } else { "" };
    // Saturating cast: absurd serials give a huge but harmless number, never a panic.
    let total = total.abs() as u64;
    format!(
        "{sign}{}:{:02}:{:02}",
        total / 3600,
        (total % 3600) / 60,
        total % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{CellErrorType, ExcelDateTimeType};

    fn date(serial: f64) -> DataRef<'static> {
        DataRef::DateTime(ExcelDateTime::new(
            serial,
            ExcelDateTimeType::DateTime,
            false,
        ))
    }

    #[test]
    fn numbers_read_like_excel_shows_them() {
        assert_eq!(render(&DataRef::Float(42.0)), "42");
        assert_eq!(render(&DataRef::Float(-7.0)), "-7");
        assert_eq!(render(&DataRef::Float(-0.0)), "0");
        assert_eq!(render(&DataRef::Float(3.25)), "3.25");
        assert_eq!(render(&DataRef::Float(0.1 + 0.2)), "0.3");
        assert_eq!(render(&DataRef::Float(4915112345678.0)), "4915112345678");
        assert_eq!(render(&DataRef::Float(1e-7)), "0.0000001");
        assert_eq!(render(&DataRef::Int(12)), "12");
    }

    #[test]
    fn booleans_errors_and_text() {
        assert_eq!(render(&DataRef::Bool(true)), "TRUE");
        assert_eq!(render(&DataRef::Bool(false)), "FALSE");
        assert_eq!(render(&DataRef::Error(CellErrorType::NA)), "#N/A");
        assert_eq!(render(&DataRef::Error(CellErrorType::Div0)), "#DIV/0!");
        assert_eq!(render(&DataRef::SharedString("Ann")), "Ann");
        assert_eq!(render(&DataRef::String(" x ".into())), " x ");
        assert_eq!(render(&DataRef::Empty), "");
    }

    #[test]
    fn dates_and_times_are_iso() {
        // 45356 is 2024-03-05 in the 1900 system; .5 is noon.
        assert_eq!(render(&date(45356.0)), "2024-03-05");
        assert_eq!(render(&date(45356.604166666664)), "2024-03-05 14:30:00");
        assert_eq!(render(&date(0.75)), "18:00:00");
        let dur = DataRef::DateTime(ExcelDateTime::new(
            1.5 + 1.0 / 86_400.0,
            ExcelDateTimeType::TimeDelta,
            false,
        ));
        assert_eq!(render(&dur), "36:00:01");
        assert_eq!(
            render(&DataRef::DateTimeIso("2024-03-05T10:00:00".into())),
            "2024-03-05T10:00:00"
        );
    }
}
