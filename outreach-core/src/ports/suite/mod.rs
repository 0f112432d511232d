pub mod queue;
pub mod storage;
