-- Rows done so far by chunks still running (progress by row). One row per (job, chunk),
-- holding the most rows any delivery of the chunk reported, so a redelivered chunk
-- never counts a row twice; a finished chunk's `job_chunks` row supersedes it.
CREATE TABLE job_chunk_rows (
    job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    chunk  bigint NOT NULL CHECK (chunk >= 0),
    rows   bigint NOT NULL CHECK (rows >= 0),
    PRIMARY KEY (job_id, chunk)
);
