//! Reading prospect files (placeholder, being written).
