pub mod memory_queue;
pub mod object_storage;
