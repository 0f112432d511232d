//! Writing enriched files (placeholder, being written).
