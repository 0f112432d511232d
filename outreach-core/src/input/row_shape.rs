//! Making every data row exactly as wide as the header.
//!
//! Short rows are padded with empty cells. Cells past the header are dropped: empty ones
//! silently (spreadsheets and exporters leave trailing delimiters everywhere), non-empty
//! ones are counted as ragged and logged once, because that is data the user will not see.

/// Pads or cuts rows to the header width and keeps the ragged count.
#[derive(Debug)]
pub(crate) struct RowShaper {
    width: usize,
    /// CSV rows with missing cells are ragged; XLSX rows are sparse by nature and are not.
    short_is_ragged: bool,
    ragged: u64,
    warned: bool,
    rows_seen: u64,
}

impl RowShaper {
    pub(crate) fn new(width: usize, short_is_ragged: bool) -> Self {
        RowShaper {
            width,
            short_is_ragged,
            ragged: 0,
            warned: false,
            rows_seen: 0,
        }
    }

    /// Rows so far whose width differed from the header (see the module docs).
    pub(crate) fn ragged(&self) -> u64 {
        self.ragged
    }

    /// Counts a row that held values only beyond the header, so it was not yielded at all.
    pub(crate) fn lost_row(&mut self) {
        self.rows_seen += 1;
        self.ragged += 1;
        self.warn_once();
    }

    fn warn_once(&mut self) {
        if !self.warned {
            self.warned = true;
            tracing::warn!(
                data_row = self.rows_seen,
                header_columns = self.width,
                "row has values beyond the header's last column; they are dropped \
                 (logged once per file, see ragged_rows for the count)"
            );
        }
    }

    /// Shapes one row. `dropped_beyond` tells that the source already discarded non-empty
    /// cells past the header (the XLSX reader does, to keep hostile column indexes cheap).
    pub(crate) fn shape(&mut self, mut cells: Vec<String>, dropped_beyond: bool) -> Vec<String> {
        self.rows_seen += 1;
        let had = cells.len();
        let lost_data =
            dropped_beyond || cells.iter().skip(self.width).any(|c| !c.trim().is_empty());
        if lost_data {
            self.ragged += 1;
            self.warn_once();
        } else if had < self.width && self.short_is_ragged {
            self.ragged += 1;
        }
        cells.truncate(self.width);
        cells.resize(self.width, String::new());
        cells
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn pads_short_rows_and_counts_them_for_csv() {
        let mut shaper = RowShaper::new(3, true);
        assert_eq!(shaper.shape(s(&["a"]), false), s(&["a", "", ""]));
        assert_eq!(shaper.ragged(), 1);
        let mut shaper = RowShaper::new(3, false);
        assert_eq!(shaper.shape(s(&["a"]), false), s(&["a", "", ""]));
        assert_eq!(shaper.ragged(), 0);
    }

    #[test]
    fn trailing_empty_cells_vanish_silently() {
        let mut shaper = RowShaper::new(2, true);
        assert_eq!(shaper.shape(s(&["a", "b", "", " "]), false), s(&["a", "b"]));
        assert_eq!(shaper.ragged(), 0);
    }

    #[test]
    fn extra_values_are_dropped_and_counted() {
        let mut shaper = RowShaper::new(2, true);
        assert_eq!(shaper.shape(s(&["a", "b", "", "x"]), false), s(&["a", "b"]));
        assert_eq!(shaper.shape(s(&["c", "d"]), true), s(&["c", "d"]));
        assert_eq!(shaper.shape(s(&["e", "f"]), false), s(&["e", "f"]));
        assert_eq!(shaper.ragged(), 2);
    }
}
