//! The writer thread: rows go through a bounded channel to a [`RowWriter`] on a
//! blocking thread. The output is complete only after [`WriterThread::finish`]; a
//! writer thread dropped without it (an error, a cancelled run) drops its writer, which
//! removes the partial file (see `output/file.rs`, where "write a partial file, then
//! rename" lives).

use std::path::PathBuf;

use tokio::sync::mpsc;

use super::{blocking, join_blocking};
use crate::error::{Error, Result};
use crate::output::{create_writer, OutputFormat, RowWriter, WriteReport};

enum Message {
    Rows(Vec<Vec<String>>),
    Finish,
}

/// A row writer on its own thread.
pub struct WriterThread {
    tx: mpsc::Sender<Message>,
    join: tokio::task::JoinHandle<Result<Option<WriteReport>>>,
}

impl WriterThread {
    /// Creates the output (so a bad path fails before any provider call) and starts
    /// the thread.
    pub async fn create(path: PathBuf, format: OutputFormat, headers: Vec<String>) -> Result<Self> {
        let writer = blocking(move || create_writer(&path, format, &headers)).await?;
        Ok(Self::spawn(writer))
    }

    /// Starts a thread writing into `writer`.
    pub fn spawn(mut writer: Box<dyn RowWriter>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Message>(4);
        let join = tokio::task::spawn_blocking(move || {
            while let Some(message) = rx.blocking_recv() {
                match message {
                    Message::Rows(rows) => {
                        for row in &rows {
                            writer.write_row(row)?;
                        }
                    }
                    Message::Finish => return writer.finish().map(Some),
                }
            }
            // Abandoned: dropping the writer removes its partial output.
            Ok(None)
        });
        Self { tx, join }
    }

    /// Queues rows for writing (waits while the channel is full).
    pub async fn send(&self, rows: Vec<Vec<String>>) -> Result<()> {
        if self.tx.send(Message::Rows(rows)).await.is_ok() {
            return Ok(());
        }
        // The thread stopped early: its error says why.
        Err(Error::Output("the writer stopped early".into()))
    }

    /// Gives the output up and waits until its partial file is gone.
    pub async fn abandon(self) {
        drop(self.tx);
        let _ = self.join.await;
    }

    /// Completes the output: the file appears at its path now.
    pub async fn finish(self) -> Result<WriteReport> {
        let sent = self.tx.send(Message::Finish).await;
        drop(self.tx);
        let report = join_blocking(self.join).await?;
        match (sent, report) {
            (Ok(()), Some(report)) => Ok(report),
            _ => Err(Error::Output("the writer stopped early".into())),
        }
    }
}
