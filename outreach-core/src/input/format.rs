//! Which reader a file needs, decided by its extension alone: sniffing contents would let a
//! mislabelled file pick a parser the user did not ask for, and the error message for a
//! wrong extension is clearer than a parse failure.

use std::path::Path;

use crate::error::InputError;

/// The two families of prospect files we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Delimited text: `.csv`, `.tsv`, `.txt` (the delimiter is sniffed, not implied).
    Csv,
    /// Office Open XML workbooks: `.xlsx`, `.xlsm`.
    Xlsx,
}

impl FileFormat {
    /// The format for `path`, by extension (case-insensitive).
    ///
    /// Legacy `.xls` and anything else are refused with
    /// [`InputError::UnsupportedExtension`] naming the extension seen.
    pub fn from_path(path: &Path) -> Result<FileFormat, InputError> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "csv" | "tsv" | "txt" => Ok(FileFormat::Csv),
            "xlsx" | "xlsm" => Ok(FileFormat::Xlsx),
            "" => Err(InputError::UnsupportedExtension("(no extension)".into())),
            other => Err(InputError::UnsupportedExtension(format!(".{other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_map_case_insensitively() {
        for (name, want) in [
            ("a.csv", FileFormat::Csv),
            ("a.CSV", FileFormat::Csv),
            ("a.tsv", FileFormat::Csv),
            ("a.Txt", FileFormat::Csv),
            ("a.xlsx", FileFormat::Xlsx),
            ("a.XLSM", FileFormat::Xlsx),
            ("dir.v2/leads.xlsx", FileFormat::Xlsx),
        ] {
            assert_eq!(FileFormat::from_path(Path::new(name)), Ok(want), "{name}");
        }
    }

    #[test]
    fn unknown_extensions_are_named_in_the_error() {
        assert_eq!(
            FileFormat::from_path(Path::new("leads.pdf")),
            Err(InputError::UnsupportedExtension(".pdf".into()))
        );
        assert_eq!(
            FileFormat::from_path(Path::new("leads.XLS")),
            Err(InputError::UnsupportedExtension(".xls".into()))
        );
        assert_eq!(
            FileFormat::from_path(Path::new("leads")),
            Err(InputError::UnsupportedExtension("(no extension)".into()))
        );
    }
}
