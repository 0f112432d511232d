//! Writing to a path: the output goes to a hidden `.partial` file beside the destination
//! and is renamed into place only when the writer finishes, so a crash, an error or a
//! dropped writer never leaves a truncated file that looks like a result. A dropped
//! writer removes its partial file.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::csv_writer::CsvRowWriter;
use super::xlsx_writer::XlsxRowWriter;
use super::{OutputFormat, RowWriter, WriteReport, WriterOptions};
use crate::Error;

/// Distinguishes partial files of writers in the same process.
static NEXT_PARTIAL: AtomicU64 = AtomicU64::new(0);

/// A file being written that becomes `destination` on [`PartialFile::commit`].
#[derive(Debug)]
struct PartialFile {
    partial: PathBuf,
    destination: PathBuf,
    committed: bool,
}

impl PartialFile {
    fn create(destination: &Path) -> crate::Result<(PartialFile, File)> {
        let shown = destination.display();
        if destination.is_dir() {
            return Err(Error::Output(format!(
                "cannot write the output to `{shown}`: it is a directory"
            )));
        }
        let name = destination.file_name().ok_or_else(|| {
            Error::Output(format!(
                "cannot write the output to `{shown}`: the path has no file name"
            ))
        })?;
        let dir = output_dir(destination);
        if !dir.is_dir() {
            let problem = if dir.exists() {
                "is not a directory"
            } else {
                "does not exist"
            };
            return Err(Error::Output(format!(
                "cannot write the output to `{shown}`: `{}` {problem}",
                dir.display()
            )));
        }
        let mut partial_name = OsString::from(".");
        partial_name.push(name);
        partial_name.push(format!(
            ".{}-{}.partial",
            std::process::id(),
            NEXT_PARTIAL.fetch_add(1, Ordering::Relaxed)
        ));
        let partial = dir.join(partial_name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .map_err(|e| Error::Output(format!("cannot write the output to `{shown}`: {e}")))?;
        Ok((
            PartialFile {
                partial,
                destination: destination.to_path_buf(),
                committed: false,
            },
            file,
        ))
    }

    /// Makes the written file durable and moves it into place.
    fn commit(mut self, file: File) -> crate::Result<()> {
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.partial, &self.destination).map_err(|e| {
            Error::Output(format!(
                "cannot write the output to `{}`: {e}",
                self.destination.display()
            ))
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: the file may never have been written, and a leftover hidden
            // `.partial` file is harmless next to the reported error.
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

/// The directory a destination lives in (`.` for a bare file name).
fn output_dir(destination: &Path) -> PathBuf {
    match destination.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

// One per output file, already behind the `Box<dyn RowWriter>`: the variants' size
// difference costs nothing worth an extra allocation.
#[allow(clippy::large_enum_variant)]
enum Inner {
    Csv(CsvRowWriter<BufWriter<File>>),
    Xlsx(XlsxRowWriter<BufWriter<File>>),
}

/// A [`RowWriter`] onto a path, committed by `finish`.
pub(crate) struct FileRowWriter {
    inner: Inner,
    partial: PartialFile,
}

impl FileRowWriter {
    pub(crate) fn create(
        path: &Path,
        format: OutputFormat,
        headers: &[String],
        options: &WriterOptions,
    ) -> crate::Result<FileRowWriter> {
        let (partial, file) = PartialFile::create(path)?;
        let destination = BufWriter::new(file);
        let inner = match format {
            OutputFormat::Csv => Inner::Csv(CsvRowWriter::new(destination, headers, options)?),
            OutputFormat::Xlsx => {
                // Sheet data goes beside the output unless told otherwise: that directory
                // is known to be writable and is usually on a disk sized for the result.
                let mut options = options.clone();
                if options.temp_dir.is_none() {
                    options.temp_dir = Some(output_dir(path));
                }
                Inner::Xlsx(XlsxRowWriter::new(destination, headers, &options)?)
            }
        };
        Ok(FileRowWriter { inner, partial })
    }
}

impl RowWriter for FileRowWriter {
    fn write_row(&mut self, cells: &[String]) -> crate::Result<()> {
        match &mut self.inner {
            Inner::Csv(writer) => writer.write_row(cells),
            Inner::Xlsx(writer) => writer.write_row(cells),
        }
    }

    fn finish(self: Box<Self>) -> crate::Result<WriteReport> {
        let FileRowWriter { inner, partial } = *self;
        let (report, mut buffered) = match inner {
            Inner::Csv(writer) => writer.into_inner()?,
            Inner::Xlsx(writer) => writer.into_inner()?,
        };
        buffered.flush()?;
        let file = buffered
            .into_inner()
            .map_err(|e| Error::Io(e.into_error()))?;
        partial.commit(file)?;
        Ok(report)
    }
}
