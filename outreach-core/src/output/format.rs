//! The two output file formats and how they are named.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The format of an output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// An Excel workbook with one sheet; every cell is a string.
    #[default]
    Xlsx,
    /// UTF-8 CSV (RFC 4180), with cells that could start a formula neutralised.
    Csv,
}

impl OutputFormat {
    /// The format named by the extension of `path` (`.xlsx` or `.csv`, any case), if any.
    pub fn from_path(path: &Path) -> Option<OutputFormat> {
        let ext = path.extension()?.to_str()?;
        ext.parse().ok()
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Xlsx => "xlsx",
            OutputFormat::Csv => "csv",
        }
    }
}

impl std::fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.extension())
    }
}

impl std::str::FromStr for OutputFormat {
    type Err = String;

    /// `xlsx` or `csv`, in any case, with or without a leading dot.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let name = trimmed.strip_prefix('.').unwrap_or(trimmed);
        if name.eq_ignore_ascii_case("xlsx") {
            Ok(OutputFormat::Xlsx)
        } else if name.eq_ignore_ascii_case("csv") {
            Ok(OutputFormat::Csv)
        } else {
            Err(format!(
                "unknown output format `{s}`: expected `xlsx` or `csv`"
            ))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_in_any_case() {
        assert_eq!("xlsx".parse::<OutputFormat>(), Ok(OutputFormat::Xlsx));
        assert_eq!("XLSX".parse::<OutputFormat>(), Ok(OutputFormat::Xlsx));
        assert_eq!(" Csv ".parse::<OutputFormat>(), Ok(OutputFormat::Csv));
        assert_eq!(".csv".parse::<OutputFormat>(), Ok(OutputFormat::Csv));
        assert_eq!(
            "xls".parse::<OutputFormat>(),
            Err("unknown output format `xls`: expected `xlsx` or `csv`".to_string())
        );
        assert_eq!(
            "".parse::<OutputFormat>(),
            Err("unknown output format ``: expected `xlsx` or `csv`".to_string())
        );
    }

    #[test]
    fn from_path_uses_the_extension() {
        assert_eq!(
            OutputFormat::from_path(Path::new("out/result.XLSX")),
            Some(OutputFormat::Xlsx)
        );
        assert_eq!(
            OutputFormat::from_path(Path::new("result.csv")),
            Some(OutputFormat::Csv)
        );
        assert_eq!(OutputFormat::from_path(Path::new("result.txt")), None);
        assert_eq!(OutputFormat::from_path(Path::new("csv")), None);
        assert_eq!(OutputFormat::from_path(Path::new("")), None);
    }

    #[test]
    fn extension_display_and_serde_agree() {
        for format in [OutputFormat::Xlsx, OutputFormat::Csv] {
            assert_eq!(format.to_string(), format.extension());
            assert_eq!(
                serde_json::to_string(&format).ok(),
                Some(format!("\"{}\"", format.extension()))
            );
            assert_eq!(format.extension().parse::<OutputFormat>(), Ok(format));
        }
        assert_eq!(OutputFormat::default(), OutputFormat::Xlsx);
    }
}
