//! Bounds on what an input file may demand of the reader. Every file reaches the server
//! from an untrusted upload before anything is charged, so each bound below is checked
//! while reading, before the memory or time it protects is spent.
//!
//! | bound | value | protects |
//! |---|---|---|
//! | [`MAX_COLUMNS`] | 16,384 (Excel's limit) | header clean-up, row width |
//! | [`MAX_HEADER_BYTES`] | 256 KiB | header clean-up and every job's metadata |
//! | [`MAX_ROW_BYTES`] | 1 MiB | a chunk's memory (rows × row size) |
//! | [`MAX_CELL_CHARS`] | 32,767 (Excel's limit) | XLSX cells: longer ones only come from crafted files |
//! | [`MAX_XLSX_UNCOMPRESSED_BYTES`] | 200 MB | a workbook's XML, declared and actually inflated |
//! | [`MAX_XLSX_RATIO`] | 100 : 1 | decompression bombs (a 1 MB file inflating to 1 GB) |
//! | [`MAX_SHARED_STRINGS`] | 4 M | calamine loads the shared-string table whole at open |

/// Columns a header may have (Excel's sheet width).
pub const MAX_COLUMNS: usize = 16_384;
/// Bytes of all header names together.
pub const MAX_HEADER_BYTES: usize = 256 << 10;
/// Bytes of one data row (all cells, as text).
pub const MAX_ROW_BYTES: usize = 1 << 20;
/// Characters of one XLSX cell (Excel cannot save more).
pub const MAX_CELL_CHARS: usize = 32_767;
/// Uncompressed bytes of all parts of an XLSX workbook together.
pub const MAX_XLSX_UNCOMPRESSED_BYTES: u64 = 200 * 1000 * 1000;
/// Largest ratio of uncompressed to compressed size of a workbook. Real workbooks
/// compress 5–20 : 1; highly repetitive sheets reach 50 : 1.
pub const MAX_XLSX_RATIO: u64 = 100;
/// Workbooks smaller than this when inflated are never refused for their ratio.
pub const RATIO_FLOOR_BYTES: u64 = 10 * 1000 * 1000;
/// Entries of the shared-string table (each costs a heap string at open).
pub const MAX_SHARED_STRINGS: u64 = 4_000_000;
